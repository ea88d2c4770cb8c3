"""Multi-head self-attention over joints (spatial) or frames (temporal) of a ``(B, T, J, C)`` tensor.

Both modes share the parameter layout of the released checkpoints (``qkv`` and ``proj`` linear layers)
and use :func:`torch.nn.functional.scaled_dot_product_attention`, which picks a fused kernel where the
device has one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SPATIAL = "spatial"
TEMPORAL = "temporal"


class MultiHeadSelfAttention(nn.Module):
    """Self-attention along the joint axis (``mode='spatial'``) or the time axis (``mode='temporal'``).

    Args:
        dim: channels ``C``; split into ``num_heads`` heads of ``C // num_heads`` channels.
        num_heads: number of heads.
        mode: ``'spatial'`` attends among the ``J`` joints of each frame, ``'temporal'`` among the ``T``
            frames of each joint.
        qkv_bias: bias in the ``qkv`` projection.
        attn_drop: dropout on the attention weights (training only).
        proj_drop: dropout after the output projection.
    Shapes:
        ``(B, T, J, C) -> (B, T, J, C)``.
    """

    def __init__(self, dim: int, num_heads: int = 8, mode: str = SPATIAL, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if mode not in (SPATIAL, TEMPORAL):
            raise ValueError(f"mode must be '{SPATIAL}' or '{TEMPORAL}', got {mode!r}")
        self.num_heads = num_heads
        self.mode = mode
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, J, C = x.shape
        H = self.num_heads
        # split q, k, v in the layout of the qkv output, so that the backward pass assembles their gradients
        # directly in that layout (no transposed copy); 4-D (batch, heads, sequence, channels) inputs let
        # SDPA use its fused CPU and GPU kernels
        q, k, v = self.qkv(x).view(B, T, J, 3, H, C // H).unbind(3)  # each (B, T, J, H, c)
        if self.mode == SPATIAL:
            q, k, v = (t.transpose(2, 3).reshape(B * T, H, J, C // H) for t in (q, k, v))
        else:
            q, k, v = (t.permute(0, 2, 3, 1, 4).reshape(B * J, H, T, C // H) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        if self.mode == SPATIAL:
            out = out.view(B, T, H, J, C // H).transpose(2, 3)  # (B, T, J, H, c)
        else:
            out = out.view(B, J, H, T, C // H).permute(0, 3, 1, 2, 4)  # (B, T, J, H, c)
        out = out.reshape(B, T, J, C)
        return self.proj_drop(self.proj(out))

    def extra_repr(self) -> str:
        return f"mode={self.mode}, num_heads={self.num_heads}"
