r"""Spectral compression along time: keep the lowest DCT coefficients and return a shorter sequence.

For a sequence :math:`x_0 \dots x_{T-1}` (any trailing feature dims) and a ratio :math:`\sigma \in (0, 1]`:

1. Unscaled DCT-II of length :math:`T`:
   :math:`X_k = 2 \sum_{n=0}^{T-1} x_n \cos\big(\pi k (2n+1) / 2T\big)`.
2. Keep the first :math:`T' = \lceil T\sigma \rceil` coefficients :math:`X_0 \dots X_{T'-1}`.
3. Apply the inverse of the unscaled DCT-II **of length** :math:`T'` (a scaled DCT-III):
   :math:`y_m = \frac{1}{T'}\big(\tfrac{1}{2}X_0 + \sum_{k=1}^{T'-1} X_k \cos(\pi k (2m+1) / 2T')\big)`,
   :math:`m = 0 \dots T'-1`.

The result has :math:`T'` frames: a low-pass, resampled version of the input. Because the forward and
inverse transforms have different lengths, the amplitude grows by about :math:`T / T'`; this is the
convention the released SCT weights were trained with. With :math:`\sigma = 1` the map is the identity.

The three steps are one linear map along time, so they are applied as a single precomputed
:math:`(T' \times T)` matrix ``C = IDCT_{T'} @ DCT_T[:T']`` built in float64 and cast once per length,
device and dtype. Use :func:`spectral_compress` on any tensor and axis, or :class:`SpectralCompression`
inside a network (it caches its matrices, :mod:`lib.model.time_operator`).

With a dynamic frame count in an export the lengths are symbolic; what changes then is described in
:mod:`lib.model.dynamic_length`.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from .dynamic_length import is_symbolic, symbolic_compressed_length
from .time_operator import OperatorCache, apply_along


def compressed_length(length: int, ratio: float) -> int:
    """Number of frames kept: ``ceil(length * ratio)`` (computed as the release does, in floating point;
    for a symbolic length in integers, see :mod:`lib.model.dynamic_length`)."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"compression ratio must be in (0, 1], got {ratio}")
    if is_symbolic(length):
        return symbolic_compressed_length(length, ratio)
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    return min(length, max(1, math.ceil(length * ratio)))


def _pi(device: torch.device | str | None) -> torch.Tensor:
    # a float64 tensor, not the Python float: in a dynamic-length export the ONNX exporter would store a
    # Python float scalar in float32
    return torch.tensor(math.pi, dtype=torch.float64, device=device)


def dct_matrix(length: int, num_coeffs: int | None = None, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> torch.Tensor:
    """Unscaled DCT-II as a ``(num_coeffs, length)`` matrix: ``D[k, n] = 2 cos(pi k (2n+1) / 2 length)``."""
    num_coeffs = length if num_coeffs is None else num_coeffs
    k = torch.arange(num_coeffs, dtype=torch.float64, device=device)[:, None]
    n = torch.arange(length, dtype=torch.float64, device=device)[None, :]
    return (2.0 * torch.cos(_pi(device) * k * (2.0 * n + 1.0) / (2.0 * length))).to(dtype)


def idct_matrix(length: int, dtype: torch.dtype = torch.float64,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Inverse of the unscaled DCT-II of ``length`` as a ``(length, length)`` matrix (maps X to x)."""
    n = torch.arange(length, dtype=torch.float64, device=device)[:, None]
    k = torch.arange(length, dtype=torch.float64, device=device)[None, :]
    basis = torch.where(k == 0, 0.5, torch.cos(_pi(device) * k * (2.0 * n + 1.0) / (2.0 * length)))
    return (basis / length).to(dtype)


def compression_matrix(length: int, ratio: float, dtype: torch.dtype = torch.float32,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """The ``(T', T)`` spectral compression operator for ``T = length``, built in float64 and then cast.

    It is built on the CPU and moved to ``device`` (on ``device`` itself, inside the traced graph, when
    the length is symbolic).
    """
    kept = compressed_length(length, ratio)
    build_on = device if is_symbolic(length) else None
    matrix = idct_matrix(kept, device=build_on) @ dct_matrix(length, kept, device=build_on)
    return matrix.to(device=device, dtype=dtype)


def spectral_compress(x: torch.Tensor, ratio: float, dim: int = 1) -> torch.Tensor:
    """Compress ``x`` along ``dim`` from ``T`` to ``ceil(T * ratio)`` frames (see the module docstring).

    Builds the operator on every call; inside a network use :class:`SpectralCompression`, which caches it.
    """
    if ratio >= 1.0:
        return x
    matrix = compression_matrix(x.shape[dim], ratio, dtype=x.dtype, device=x.device)
    return apply_along(matrix, x, dim)


class SpectralCompression(nn.Module):
    """Spectral compression along one axis with a cached ``(T', T)`` operator per length, device and dtype.

    Args:
        ratio: fraction of DCT coefficients kept, in ``(0, 1]``; 1 is the identity.
        dim: the time axis of the input (default 1 for ``(B, T, J, C)``).
    """

    def __init__(self, ratio: float, dim: int = 1):
        super().__init__()
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"compression ratio must be in (0, 1], got {ratio}")
        self.ratio = float(ratio)
        self.dim = dim
        self.operators = OperatorCache(functools.partial(compression_matrix, ratio=self.ratio))

    def output_length(self, length: int) -> int:
        return compressed_length(length, self.ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ratio >= 1.0:
            return x
        matrix = self.operators.get((x.shape[self.dim],), x.device, x.dtype)
        return apply_along(matrix, x, self.dim)

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}, dim={self.dim}"
