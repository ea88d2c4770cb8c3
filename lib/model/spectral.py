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
inside a network (it caches its matrices).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def compressed_length(length: int, ratio: float) -> int:
    """Number of frames kept: ``ceil(length * ratio)`` (computed as the release does, in floating point)."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"compression ratio must be in (0, 1], got {ratio}")
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    return min(length, max(1, math.ceil(length * ratio)))


def dct_matrix(length: int, num_coeffs: int | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Unscaled DCT-II as a ``(num_coeffs, length)`` matrix: ``D[k, n] = 2 cos(pi k (2n+1) / 2 length)``."""
    num_coeffs = length if num_coeffs is None else num_coeffs
    k = torch.arange(num_coeffs, dtype=torch.float64)[:, None]
    n = torch.arange(length, dtype=torch.float64)[None, :]
    return (2.0 * torch.cos(math.pi * k * (2.0 * n + 1.0) / (2.0 * length))).to(dtype)


def idct_matrix(length: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Inverse of the unscaled DCT-II of ``length`` as a ``(length, length)`` matrix (maps X to x)."""
    n = torch.arange(length, dtype=torch.float64)[:, None]
    k = torch.arange(length, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * k * (2.0 * n + 1.0) / (2.0 * length))
    basis[:, 0] = 0.5
    return (basis / length).to(dtype)


def compression_matrix(length: int, ratio: float, dtype: torch.dtype = torch.float32,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """The ``(T', T)`` spectral compression operator for ``T = length`` (built in float64, then cast)."""
    kept = compressed_length(length, ratio)
    matrix = idct_matrix(kept) @ dct_matrix(length, kept)
    return matrix.to(device=device, dtype=dtype)


def _apply_along(matrix: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """``matrix @ x`` along axis ``dim`` of ``x`` (``matrix``: ``(T_out, T_in)``)."""
    dim = dim % x.dim()
    if dim == x.dim() - 1:
        return x @ matrix.transpose(0, 1)
    lead, trail = x.shape[:dim], x.shape[dim + 1:]
    flat = x.reshape(*lead, x.shape[dim], -1)  # (..., T, F)
    out = torch.matmul(matrix, flat)
    return out.reshape(*lead, matrix.shape[0], *trail)


def spectral_compress(x: torch.Tensor, ratio: float, dim: int = 1) -> torch.Tensor:
    """Compress ``x`` along ``dim`` from ``T`` to ``ceil(T * ratio)`` frames (see the module docstring).

    Builds the operator on every call; inside a network use :class:`SpectralCompression`, which caches it.
    """
    if ratio >= 1.0:
        return x
    matrix = compression_matrix(x.shape[dim], ratio, dtype=x.dtype, device=x.device)
    return _apply_along(matrix, x, dim)


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
        self._operators: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = {}

    def output_length(self, length: int) -> int:
        return compressed_length(length, self.ratio)

    def operator(self, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (length, device, dtype)
        matrix = self._operators.get(key)
        if matrix is None:
            # a normal tensor even when first built under inference_mode, so training can reuse it
            with torch.inference_mode(False):
                matrix = compression_matrix(length, self.ratio, dtype=dtype, device=device)
            self._operators[key] = matrix
        return matrix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ratio >= 1.0:
            return x
        # under autocast the matmul casts the operator to the autocast dtype itself
        matrix = self.operator(x.shape[self.dim], x.device, x.dtype)
        return _apply_along(matrix, x, self.dim)

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}, dim={self.dim}"
