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

Symbolic lengths (``torch.export`` and the ONNX export with a dynamic frame count): when ``T`` is a
``torch.SymInt`` rather than an ``int``, no per-length constant can be chosen, so the same float64 formulas
are traced as tensor ops on ``T`` and the operator is computed inside the graph on every call (then cast),
and :math:`T'` is computed in integers as ``(T p + q - 1) // q`` with ``p / q`` the ratio as a fraction
(:func:`integer_ratio`, checked against :func:`compressed_length` for every ``T <= 4096``). Concrete
lengths, as in eager PyTorch and in an export with a fixed frame count, always take the cached constant.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch
from torch import nn

LENGTH_CHECKED_UP_TO = 4096  # integer_ratio reproduces compressed_length for every T up to this


def _symbolic(length) -> bool:
    """Whether ``length`` is a traced symbolic size (``torch.export`` with a dynamic axis) and not an ``int``."""
    return isinstance(length, torch.SymInt)


def compressed_length(length: int, ratio: float) -> int:
    """Number of frames kept: ``ceil(length * ratio)`` (computed as the release does, in floating point).

    A symbolic ``length`` (``torch.SymInt``) gets the same number computed in integers, see :func:`integer_ratio`.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"compression ratio must be in (0, 1], got {ratio}")
    if _symbolic(length):
        numerator, denominator = integer_ratio(ratio)
        return (length * numerator + denominator - 1) // denominator
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    return min(length, max(1, math.ceil(length * ratio)))


@functools.cache
def integer_ratio(ratio: float) -> tuple[int, int]:
    """``(p, q)`` with ``(T * p + q - 1) // q == compressed_length(T, ratio)`` for every ``1 <= T <= 4096``.

    The number of kept frames of a symbolic length is computed with this integer formula, so that the
    exported graph has no floating-point rounding of its own (float32 and float64 ceilings can disagree
    with Python's). ``p / q`` is the simplest fraction near ``ratio`` that reproduces the floating-point
    ceiling for all those lengths (``0.6 -> (3, 5)``). Every ratio with one decimal has one; a few with
    more do not, because the product rounds up past an integer (``50 * 0.14 == 7.000000000000001``, so
    ``compressed_length(50, 0.14) == 8``).

    Raises:
        ValueError: no such fraction with a denominator up to 10**6.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"compression ratio must be in (0, 1], got {ratio}")
    for max_denominator in (10, 100, 1000, 10_000, 1_000_000):
        fraction = Fraction(ratio).limit_denominator(max_denominator)
        p, q = fraction.numerator, fraction.denominator
        if all((t * p + q - 1) // q == compressed_length(t, ratio) for t in range(1, LENGTH_CHECKED_UP_TO + 1)):
            return p, q
    raise ValueError(f"no integer fraction reproduces ceil(T * {ratio}) for every T <= {LENGTH_CHECKED_UP_TO}; "
                     "a dynamic sequence length is not supported for this ratio")


def _pi(device: torch.device | str | None) -> torch.Tensor:
    # a float64 tensor, not the Python float: the ONNX exporter stores Python float scalars in float32
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
    """The ``(T', T)`` spectral compression operator for ``T = length`` (built in float64, then cast).

    A concrete ``length`` is built on the CPU and moved to ``device``; a symbolic one (tracing) on ``device``.
    """
    kept = compressed_length(length, ratio)
    build_on = device if _symbolic(length) else None
    matrix = idct_matrix(kept, device=build_on) @ dct_matrix(length, kept, device=build_on)
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
    """Spectral compression along one axis with a cached ``(T', T)`` operator per length, device and dtype
    (computed in the graph instead when the length is symbolic, see the module docstring).

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
        if _symbolic(length):  # traced with a dynamic length: the operator is computed in the graph
            return compression_matrix(length, self.ratio, dtype=dtype, device=device)
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
