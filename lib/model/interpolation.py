"""Linear interpolation along time back to ``T`` frames, as one matrix product.

The result equals ``F.interpolate(mode="linear", align_corners=False)`` along the time axis: the
``(T, T')`` matrix is built by interpolating the ``T'`` unit vectors with ``F.interpolate`` itself (on the
target device, in float32 or float64), so its weights are the ones PyTorch uses, and the product adds the
same two weighted neighbours per output frame (the other weights are exact zeros). Applied in the
``(B, T', J, C)`` layout with one matrix product, forward and backward need no transposed copies and run
as fast matrix multiplications on every device, where ``F.interpolate`` wants time last and its backward
is a scatter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dynamic_length import known_equal
from .time_operator import OperatorCache, apply_along


def interpolation_matrix(length_in: int, length_out: int, dtype: torch.dtype = torch.float32,
                         device: torch.device | str | None = None) -> torch.Tensor:
    """The ``(length_out, length_in)`` matrix of linear interpolation with ``align_corners=False``.

    Row ``t`` holds the weights of the input frames for output frame ``t`` (two neighbours summing to 1).
    The weights are computed in float32 (float64 for ``dtype=float64``) and then cast to ``dtype``.
    """
    build_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    unit = torch.eye(length_in, dtype=build_dtype, device=device)[None]  # (1, T_in, T_in): T_in unit signals
    weights = F.interpolate(unit, size=length_out, mode="linear", align_corners=False)[0]  # (T_in, T_out)
    return weights.transpose(0, 1).contiguous().to(dtype)


class TimeInterpolation(nn.Module):
    """Linear interpolation of ``(B, T', ...)`` along time (axis 1) to a given length, with a cached
    matrix per ``(T', T, device, dtype)``. No parameters or buffers (the state dict is unchanged)."""

    def __init__(self):
        super().__init__()
        self.operators = OperatorCache(interpolation_matrix)

    def forward(self, x: torch.Tensor, length: int) -> torch.Tensor:
        """``(B, T', ...) -> (B, length, ...)``; ``x`` itself when ``T' == length``."""
        if known_equal(x.shape[1], length):
            return x
        return apply_along(self.operators.get((x.shape[1], length), x.device, x.dtype), x, dim=1)
