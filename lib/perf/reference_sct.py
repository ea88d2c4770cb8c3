"""A deliberately plain implementation of SCT, used as the numerical reference in the tests and as the
baseline of ``tools/benchmark.py``.

It follows the semantics in ``docs/MODEL.md`` step by step, in the released code's ``(B*T, J, C)``
layout: the DCT pair is computed with FFTs on every call and attention is an explicit softmax. It shares
the parameter names of :class:`lib.model.SCTformer`, so both load the same state dict.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)


def dct2_fft(x: torch.Tensor) -> torch.Tensor:
    """Unscaled DCT-II along the last axis via one FFT (Makhoul's even/odd reordering)."""
    n = x.shape[-1]
    v = torch.cat([x[..., ::2], x[..., 1::2].flip(-1)], dim=-1)
    spectrum = torch.fft.fft(v, dim=-1)
    k = torch.arange(n, dtype=x.dtype, device=x.device)
    twiddle = torch.exp(-1j * math.pi * k / (2 * n))
    return 2 * (spectrum * twiddle).real


def idct2_fft(coeffs: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dct2_fft` along the last axis (same length), via one inverse FFT."""
    n = coeffs.shape[-1]
    k = torch.arange(n, dtype=coeffs.dtype, device=coeffs.device)
    shifted = torch.cat([torch.zeros_like(coeffs[..., :1]), coeffs[..., 1:].flip(-1)], dim=-1)  # X_{n-k}
    spectrum = (coeffs - 1j * shifted) * torch.exp(1j * math.pi * k / (2 * n)) / 2
    v = torch.fft.ifft(spectrum, dim=-1).real
    out = torch.empty_like(coeffs)
    half = (n + 1) // 2
    out[..., ::2] = v[..., :half]
    out[..., 1::2] = v[..., half:].flip(-1)
    return out


def compress_time(x: torch.Tensor, ratio: float, seqlen: int) -> torch.Tensor:
    """``(B*T, J, C)`` -> ``(B*T', J, C)`` with T' = ceil(T * ratio): DCT, truncate, shorter inverse DCT."""
    bt, j, c = x.shape
    kept = math.ceil(seqlen * ratio)
    seq = x.reshape(bt // seqlen, seqlen, j, c).permute(0, 2, 3, 1)  # time last
    low = dct2_fft(seq)[..., :kept]
    out = idct2_fft(low)
    return out.permute(0, 3, 1, 2).reshape(-1, j, c)


class RefAttention(nn.Module):
    def __init__(self, dim, num_heads, mode):
        super().__init__()
        self.num_heads, self.mode = num_heads, mode
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, seqlen):
        bt, n, c = x.shape
        h = self.num_heads
        q, k, v = self.qkv(x).reshape(bt, n, 3, h, c // h).permute(2, 0, 3, 1, 4)  # (BT, H, J, c)
        if self.mode == "temporal":
            q, k, v = (t.reshape(bt // seqlen, seqlen, h, n, c // h).permute(0, 2, 3, 1, 4) for t in (q, k, v))
        attn = (q @ k.transpose(-2, -1)) * self.scale
        out = attn.softmax(dim=-1) @ v
        if self.mode == "temporal":
            out = out.permute(0, 3, 2, 1, 4)  # (B, T, J, H, c)
        else:
            out = out.permute(0, 2, 1, 3)  # (BT, J, H, c)
        return self.proj(out.reshape(bt, n, c))


class RefMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class RefBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, order, ratio):
        super().__init__()
        self.order, self.ratio = order, ratio
        for name in ("norm1_s", "norm1_t", "norm2_s", "norm2_t"):
            setattr(self, name, nn.LayerNorm(dim, eps=1e-6))
        self.attn_s = RefAttention(dim, num_heads, "spatial")
        self.attn_t = RefAttention(dim, num_heads, "temporal")
        self.mlp_s = RefMlp(dim, int(dim * mlp_ratio))
        self.mlp_t = RefMlp(dim, int(dim * mlp_ratio))

    def spatial(self, x, seqlen):
        y = self.norm1_s(x)
        x = y + self.attn_s(y, seqlen)
        return x + self.mlp_s(self.norm2_s(x)), seqlen

    def temporal(self, x, seqlen):
        y = self.norm1_t(x)
        if self.ratio < 1:
            y = compress_time(y, self.ratio, seqlen)
            seqlen = math.ceil(seqlen * self.ratio)
        x = y + self.attn_t(y, seqlen)
        return x + self.mlp_t(self.norm2_t(x)), seqlen

    def forward(self, x, seqlen):
        first, second = (self.spatial, self.temporal) if self.order == "st" else (self.temporal, self.spatial)
        x, seqlen = first(x, seqlen)
        return second(x, seqlen)


class ReferenceSCT(nn.Module):
    """Plain SCT: same parameters and outputs as :class:`lib.model.SCTformer`, none of its speed-ups."""

    def __init__(self, dim_feat=512, dim_rep=512, depth=5, num_heads=8, mlp_ratio=2, num_joints=17, maxlen=243,
                 att_fuse=True, dct_ratio=0.6, freq_prune_layer=(0, 1, 2, 3, 4), **_ignored):
        super().__init__()
        ratios = [dct_ratio if i in freq_prune_layer else 1.0 for i in range(depth)]
        self.joints_embed = nn.Linear(6, dim_feat)
        self.blocks_st = nn.ModuleList(RefBlock(dim_feat, num_heads, mlp_ratio, "st", r) for r in ratios)
        self.blocks_ts = nn.ModuleList(RefBlock(dim_feat, num_heads, mlp_ratio, "ts", r) for r in ratios)
        self.norm = nn.LayerNorm(dim_feat, eps=1e-6)
        self.pre_logits = nn.Sequential()
        self.pre_logits.add_module("fc", nn.Linear(dim_feat, dim_rep))
        self.pre_logits.add_module("act", nn.Tanh())
        self.head = nn.Linear(dim_rep, 3)
        self.temp_embed = nn.Parameter(torch.zeros(1, maxlen, 1, dim_feat))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim_feat))
        self.att_fuse = att_fuse
        if att_fuse:
            self.ts_attn = nn.ModuleList(nn.Linear(dim_feat * 2, 2) for _ in range(depth))

    def forward(self, x):
        b, t, j, _ = x.shape
        midpoints = (x + x[:, :, [p if p >= 0 else i for i, p in enumerate(PARENTS)]]) / 2
        x = torch.cat([x, midpoints], dim=-1).reshape(b * t, j, 6)
        x = self.joints_embed(x) + self.pos_embed
        x = (x.reshape(b, t, j, -1) + self.temp_embed[:, :t]).reshape(b * t, j, -1)
        seqlen, outputs = t, []
        for idx, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts, strict=True)):
            x_st, new_len = blk_st(x, seqlen)
            x_ts, _ = blk_ts(x, seqlen)
            if self.att_fuse:
                alpha = self.ts_attn[idx](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)
                x = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
            else:
                x = (x_st + x_ts) * 0.5
            seqlen = new_len
            outputs.append(x.reshape(b, seqlen, j, -1))
        total = 0
        for out in outputs:  # back to t frames along time
            c = out.shape[-1]
            flat = out.permute(0, 2, 3, 1).reshape(b, j * c, -1)
            flat = F.interpolate(flat, size=t, mode="linear", align_corners=False)
            total = total + flat.reshape(b, j, c, t).permute(0, 3, 1, 2)
        return self.head(self.pre_logits(self.norm(total)))
