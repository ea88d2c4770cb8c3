"""The dual-stream spatio-temporal transformer shared by SCT and MotionBERT's DSTformer.

Every layer runs two streams on the same input, spatial->temporal (``blocks_st``) and
temporal->spatial (``blocks_ts``), and blends them with learned per-joint, per-frame weights
(``ts_attn``). Parameter names follow the released checkpoints of both models.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .blocks import LAYER_NORM_EPS, SpatioTemporalBlock, fuse_streams
from .interpolation import TimeInterpolation
from .line_pose_graph import LinePoseGraph


def layer_compress_ratios(dct_ratio: float, freq_prune_layer: Sequence[int], depth: int) -> list[float]:
    """Per-layer compression ratios: ``dct_ratio`` for the layers in ``freq_prune_layer``, 1 for the others.

    Raises:
        ValueError: ``dct_ratio`` outside ``(0, 1]`` or a layer index outside ``0..depth-1``.
    """
    if not 0.0 < float(dct_ratio) <= 1.0:
        raise ValueError(f"dct_ratio must be in (0, 1], got {dct_ratio}")
    layers = {int(i) for i in freq_prune_layer}
    if any(not 0 <= i < depth for i in layers):
        raise ValueError(f"freq_prune_layer {list(freq_prune_layer)} names layers outside 0..{depth - 1}")
    return [float(dct_ratio) if i in layers else 1.0 for i in range(depth)]


class DualStreamTransformer(nn.Module):
    """Lift 2D keypoint sequences to 3D with a dual-stream spatio-temporal transformer.

    Args:
        dim_in: input channels per joint (3: x, y, confidence).
        dim_out: output channels per joint (3: x, y, z).
        dim_feat: hidden channels.
        dim_rep: width of the representation before the head (``pre_logits``); 0 disables it.
        depth: number of dual-stream layers.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim_feat``.
        num_joints: joints per frame.
        maxlen: longest sequence (size of the temporal embedding).
        att_fuse: learned fusion of the two streams (else their mean).
        compress_ratios: per layer spectral compression ratio of the temporal attention (1 = none).
        normed_residual: attention residuals from the normalised input (SCT) instead of the input
            (pre-norm, DSTformer); see :mod:`lib.model.blocks`.
        sum_layer_outputs: the head reads the sum of every layer's output, each interpolated back to ``T``
            frames (SCT), instead of the last layer's output, interpolated back to ``T`` frames if it was
            compressed (DSTformer).
        parents: skeleton parent list; when given, the Line Pose Graph doubles the input channels.
        drop_rate, attn_drop_rate, drop_path_rate: regularisation (drop path grows linearly with depth).
    Shapes:
        ``(B, T, J, dim_in) -> (B, T, J, dim_out)`` for ``1 <= T <= maxlen``.
    """

    def __init__(self, dim_in: int = 3, dim_out: int = 3, dim_feat: int = 256, dim_rep: int = 512,
                 depth: int = 5, num_heads: int = 8, mlp_ratio: float = 4.0, num_joints: int = 17,
                 maxlen: int = 243, att_fuse: bool = True, compress_ratios: Sequence[float] | None = None,
                 normed_residual: bool = True, sum_layer_outputs: bool = True,
                 parents: Sequence[int] | None = None, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0):
        super().__init__()
        ratios = [1.0] * depth if compress_ratios is None else [float(r) for r in compress_ratios]
        if len(ratios) != depth:
            raise ValueError(f"compress_ratios has {len(ratios)} entries for depth {depth}")
        if parents is not None and len(parents) != num_joints:
            raise ValueError(f"parent list has {len(parents)} entries for num_joints {num_joints}")
        self.maxlen = maxlen
        self.num_joints = num_joints
        self.sum_layer_outputs = bool(sum_layer_outputs)
        self.compress_ratios = ratios
        self.line_pose_graph = LinePoseGraph(parents) if parents is not None else None
        embed_in = dim_in * 2 if parents is not None else dim_in
        self.joints_embed = nn.Linear(embed_in, dim_feat)
        self.pos_drop = nn.Dropout(drop_rate)
        drop_path = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # linear in depth
        hidden = dict(dim=dim_feat, num_heads=num_heads, mlp_ratio=mlp_ratio, normed_residual=normed_residual,
                      drop=drop_rate, attn_drop=attn_drop_rate)
        self.blocks_st = nn.ModuleList(
            SpatioTemporalBlock(order="st", compress_ratio=r, drop_path=p, **hidden)
            for r, p in zip(ratios, drop_path, strict=True))
        self.blocks_ts = nn.ModuleList(
            SpatioTemporalBlock(order="ts", compress_ratio=r, drop_path=p, **hidden)
            for r, p in zip(ratios, drop_path, strict=True))
        self.norm = nn.LayerNorm(dim_feat, eps=LAYER_NORM_EPS)
        if dim_rep:
            self.pre_logits = nn.Sequential(OrderedDict([("fc", nn.Linear(dim_feat, dim_rep)),
                                                         ("act", nn.Tanh())]))
            head_in = dim_rep
        else:
            self.pre_logits = nn.Identity()
            head_in = dim_feat
        self.head = nn.Linear(head_in, dim_out)
        self.temp_embed = nn.Parameter(torch.zeros(1, maxlen, 1, dim_feat))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_joints, dim_feat))
        self.ts_attn = nn.ModuleList(nn.Linear(dim_feat * 2, 2) for _ in range(depth)) if att_fuse else None
        self.interpolate = TimeInterpolation()  # back to T frames; no parameters
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.ts_attn is not None:  # start with an even blend of the two streams
            for fuse in self.ts_attn:
                nn.init.zeros_(fuse.weight)
                nn.init.constant_(fuse.bias, 0.5)

    def output_lengths(self, length: int) -> list[int]:
        """Frames after each layer for an input of ``length`` frames."""
        lengths = []
        for block in self.blocks_st:
            length = block.output_length(length)
            lengths.append(length)
        return lengths

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, J, dim_in)`` keypoints -> ``(B, T, J, dim_feat)`` embedded tokens."""
        B, T, J, _ = x.shape
        if T > self.maxlen:
            raise ValueError(f"input has {T} frames but the model takes at most maxlen={self.maxlen}; "
                             f"split the sequence into windows of at most {self.maxlen} frames")
        if J != self.num_joints:
            raise ValueError(f"input has {J} joints but the model was built for {self.num_joints}")
        if self.line_pose_graph is not None:
            x = self.line_pose_graph(x)
        x = self.joints_embed(x) + self.pos_embed + self.temp_embed[:, :T]
        return self.pos_drop(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, J, dim_in) -> (B, T, J, dim_feat)``: the transformer body before the final norm."""
        T = x.shape[1]
        x = self.embed(x)
        total = None
        for idx, (block_st, block_ts) in enumerate(zip(self.blocks_st, self.blocks_ts, strict=True)):
            fuse = self.ts_attn[idx] if self.ts_attn is not None else None
            x = fuse_streams(block_st(x), block_ts(x), fuse)
            if self.sum_layer_outputs:
                layer_out = self.interpolate(x, T)
                total = layer_out if total is None else total + layer_out
        return total if self.sum_layer_outputs else self.interpolate(x, T)

    def forward(self, x: torch.Tensor, return_rep: bool = False) -> torch.Tensor:
        """``(B, T, J, dim_in) -> (B, T, J, dim_out)``; with ``return_rep`` the ``(B, T, J, dim_rep)``
        representation before the head."""
        rep = self.pre_logits(self.norm(self.forward_features(x)))
        return rep if return_rep else self.head(rep)
