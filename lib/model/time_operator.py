"""Linear maps along the time axis, applied as one matrix product with a cached matrix.

Spectral compression (``T -> T'`` frames) and the interpolation back to ``T`` frames are both linear in
time, so each is a ``(T_out, T_in)`` matrix that depends only on the lengths. :class:`OperatorCache`
builds such a matrix once per lengths, device and dtype and keeps it with the module that owns the cache
(no state shared between models); :func:`apply_along` multiplies it into a tensor along one axis without
moving that axis.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .dynamic_length import is_symbolic


class OperatorCache:
    """Matrices ``build(*lengths, dtype=dtype, device=device)`` kept per ``(*lengths, device, dtype)``.

    A matrix is built outside ``torch.inference_mode``, so one first built during evaluation is a normal
    tensor that training can reuse. With a symbolic length (a dynamic-length export) nothing is cached: the
    matrix is built in the traced graph on every call (:mod:`lib.model.dynamic_length`).
    """

    def __init__(self, build: Callable[..., torch.Tensor]):
        self._build = build
        self._matrices: dict[tuple, torch.Tensor] = {}

    def get(self, lengths: tuple, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        if any(is_symbolic(n) for n in lengths):
            return self._build(*lengths, dtype=dtype, device=device)
        key = (*lengths, device, dtype)
        matrix = self._matrices.get(key)
        if matrix is None:
            with torch.inference_mode(False):
                matrix = self._build(*lengths, dtype=dtype, device=device)
            self._matrices[key] = matrix
        return matrix

    def keys(self) -> list[tuple]:
        """The ``(*lengths, device, dtype)`` keys of the matrices built so far."""
        return list(self._matrices)


def apply_along(matrix: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """``matrix @ x`` along axis ``dim`` of ``x`` (``matrix``: ``(T_out, T_in)``), in ``x``'s own layout.

    The axes after ``dim`` are flattened into one (a view for a contiguous ``x``), so the product is one
    batched matrix multiplication with no transposed copies of ``x``. Under autocast the product runs in
    the autocast dtype like any other matrix product.
    """
    dim = dim % x.dim()
    if dim == x.dim() - 1:
        return x @ matrix.transpose(0, 1)
    lead, trail = x.shape[:dim], x.shape[dim + 1:]
    flat = x.reshape(*lead, x.shape[dim], -1)  # (..., T_in, F)
    return torch.matmul(matrix, flat).view(*lead, matrix.shape[0], *trail)
