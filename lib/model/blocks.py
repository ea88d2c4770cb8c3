"""Transformer building blocks shared by SCT and MotionBERT's DSTformer baseline: MLP, stochastic depth,
the spatio-temporal block of one stream, and the learned fusion of the two streams.

The two models differ here only in the residual of an attention sub-layer, chosen by the block's
``normed_residual`` flag:

- SCT (``normed_residual=True``): ``y = LN(x)' + Attn(LN(x)')``, where ``'`` marks spectral compression;
- DSTformer (``normed_residual=False``, pre-norm): ``y = x' + Attn(LN(x)')``.

All tensors are ``(B, T, J, C)``: batch, frames, joints, channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SPATIAL, TEMPORAL, MultiHeadSelfAttention
from .spectral import SpectralCompression

LAYER_NORM_EPS = 1e-6  # the released SCT and MotionBERT models use 1e-6 everywhere


class Mlp(nn.Module):
    """``fc1 -> GELU -> dropout -> fc2 -> dropout``."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: during training, zero a residual branch per sample with probability ``p``."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SpatioTemporalBlock(nn.Module):
    """One stream of a dual-stream layer: a spatial and a temporal sub-layer, each attention + MLP.

    Args:
        dim: channels.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        order: ``'st'`` runs the spatial sub-layer first, ``'ts'`` the temporal one.
        normed_residual: the attention sub-layers add their output to the normalised input (SCT) instead
            of the input itself (pre-norm, DSTformer); see the module docstring.
        compress_ratio: spectral compression ratio applied to the normalised input of the temporal
            attention (1 = none). The block then returns ``ceil(T * compress_ratio)`` frames.
        drop, attn_drop, drop_path: dropout rates.
    Shapes:
        ``(B, T, J, C) -> (B, T', J, C)``.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, order: str = "st",
                 normed_residual: bool = True, compress_ratio: float = 1.0, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        if order not in ("st", "ts"):
            raise ValueError(f"order must be 'st' or 'ts', got {order!r}")
        self.order = order
        self.normed_residual = bool(normed_residual)
        hidden = int(dim * mlp_ratio)
        self.norm1_s = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.norm1_t = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn_s = MultiHeadSelfAttention(dim, num_heads, SPATIAL, attn_drop=attn_drop, proj_drop=drop)
        self.attn_t = MultiHeadSelfAttention(dim, num_heads, TEMPORAL, attn_drop=attn_drop, proj_drop=drop)
        self.norm2_s = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.norm2_t = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp_s = Mlp(dim, hidden, drop)
        self.mlp_t = Mlp(dim, hidden, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.compress = SpectralCompression(compress_ratio, dim=1) if compress_ratio < 1.0 else None

    def _attention(self, x: torch.Tensor, norm: nn.LayerNorm, attn: nn.Module, compress: bool) -> torch.Tensor:
        normed = norm(x)
        if compress and self.compress is not None:
            normed = self.compress(normed)
            if not self.normed_residual:
                x = self.compress(x)
        base = normed if self.normed_residual else x
        return base + self.drop_path(attn(normed))

    def _mlp(self, x: torch.Tensor, norm: nn.LayerNorm, mlp: nn.Module) -> torch.Tensor:
        return x + self.drop_path(mlp(norm(x)))

    def spatial(self, x: torch.Tensor) -> torch.Tensor:
        x = self._attention(x, self.norm1_s, self.attn_s, compress=False)
        return self._mlp(x, self.norm2_s, self.mlp_s)

    def temporal(self, x: torch.Tensor) -> torch.Tensor:
        x = self._attention(x, self.norm1_t, self.attn_t, compress=True)
        return self._mlp(x, self.norm2_t, self.mlp_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.order == "st":
            return self.temporal(self.spatial(x))
        return self.spatial(self.temporal(x))

    def output_length(self, length: int) -> int:
        return self.compress.output_length(length) if self.compress is not None else length


def fuse_streams(x_st: torch.Tensor, x_ts: torch.Tensor, fuse: nn.Linear | None) -> torch.Tensor:
    """Blend the two streams per joint and frame.

    With ``fuse`` (``Linear(2C, 2)``): weights ``softmax(fuse([x_st, x_ts]))``; without: the plain mean.
    The concatenation is never built: ``fuse`` is applied as two half-width products.
    """
    if fuse is None:
        return (x_st + x_ts) * 0.5
    C = x_st.shape[-1]
    logits = F.linear(x_st, fuse.weight[:, :C], fuse.bias) + F.linear(x_ts, fuse.weight[:, C:])
    alpha = logits.softmax(dim=-1)
    return x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
