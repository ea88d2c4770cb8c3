"""DSTformer: MotionBERT's dual-stream spatio-temporal transformer (Zhu et al., ICCV 2023), the baseline
that SCT builds on, with SCT's spectral compression available as a plug-in.

DSTformer is :class:`~lib.model.dual_stream.DualStreamTransformer` with
- the plain 3-channel input (x, y, confidence; no Line Pose Graph),
- pre-norm residuals ``x + Attn(LN(x))`` and ``x + MLP(LN(x))`` in every sub-layer, and
- the last layer's output (no sum over layers) before ``norm -> pre_logits -> head``.

Parameter names and shapes equal those of MotionBERT's released checkpoints, so they load unchanged.

**SCT as a plug-in.** With ``dct_ratio < 1`` the temporal attention of the layers in
``freq_prune_layer`` is spectrally compressed (:mod:`lib.model.spectral`): the sub-layer input and its
normalised copy both shrink to ``ceil(T * dct_ratio)`` frames, the residual stays pre-norm
(``x' + Attn(LN(x)')``), and the shorter sequence runs through the remaining layers. The last layer's
output is linearly interpolated back to ``T`` frames before the head. Without ``freq_prune_layer`` (the
default) the model is exactly MotionBERT's DSTformer.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..utils.released_model import RELEASED_SCT
from .dual_stream import DualStreamTransformer, layer_compress_ratios


class DSTformer(DualStreamTransformer):
    """MotionBERT's DSTformer. Arguments as :class:`DualStreamTransformer`, plus

    Args:
        dct_ratio: fraction ``sigma`` in ``(0, 1]`` of DCT coefficients kept in the compressed layers.
        freq_prune_layer: indices of the layers whose temporal attention is compressed (default: none).
    Shapes:
        ``(B, T, J, dim_in) -> (B, T, J, dim_out)`` for ``1 <= T <= maxlen``.
    """

    def __init__(self, dim_in: int = 3, dim_out: int = 3, dim_feat: int = RELEASED_SCT.dim_feat,
                 dim_rep: int = RELEASED_SCT.dim_rep, depth: int = RELEASED_SCT.depth,
                 num_heads: int = RELEASED_SCT.num_heads, mlp_ratio: float = RELEASED_SCT.mlp_ratio,
                 num_joints: int = RELEASED_SCT.num_joints, maxlen: int = RELEASED_SCT.maxlen,
                 att_fuse: bool = RELEASED_SCT.att_fuse, dct_ratio: float = 1.0,
                 freq_prune_layer: Sequence[int] = (), drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0):
        ratios = layer_compress_ratios(dct_ratio, freq_prune_layer, depth)
        super().__init__(dim_in=dim_in, dim_out=dim_out, dim_feat=dim_feat, dim_rep=dim_rep, depth=depth,
                         num_heads=num_heads, mlp_ratio=mlp_ratio, num_joints=num_joints, maxlen=maxlen,
                         att_fuse=att_fuse, compress_ratios=ratios, normed_residual=False,
                         sum_layer_outputs=False, parents=None, drop_rate=drop_rate,
                         attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate)
