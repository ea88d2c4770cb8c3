"""SCT: Spectral Compression Transformer with Line Pose Graph (Zheng et al., Pattern Recognition 2025,
arXiv 2505.21309).

Compared with MotionBERT's DSTformer, SCT
- feeds the Line Pose Graph input (joints plus the midpoints of their bones: 6 channels),
- compresses the temporal attention of the layers in ``freq_prune_layer`` to ``ceil(T * dct_ratio)``
  frames with a truncated DCT (:mod:`lib.model.spectral`), so the sequence shortens layer by layer,
- uses the normalised input as the residual of every attention sub-layer, and
- sums every layer's output, interpolated back to ``T`` frames, before the head.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..utils.released_model import RELEASED_SCT
from ..utils.skeleton import H36M_PARENTS
from .dual_stream import DualStreamTransformer, layer_compress_ratios


class SCTformer(DualStreamTransformer):
    """The SCT lifting network. Arguments as :class:`DualStreamTransformer`, plus

    Args:
        dct_ratio: fraction ``sigma`` of DCT coefficients kept in compressing layers.
        freq_prune_layer: indices of the layers whose temporal attention is compressed.
        parents: skeleton parent list for the Line Pose Graph (Human3.6M's by default).
        line_pose_graph: feed the Line Pose Graph input (joints and bone midpoints, ``2 * dim_in``
            channels); ``False`` feeds the plain ``dim_in`` channels, as DSTformer does (an ablation).
    """

    def __init__(self, dim_in: int = 3, dim_out: int = 3, dim_feat: int = RELEASED_SCT.dim_feat,
                 dim_rep: int = RELEASED_SCT.dim_rep, depth: int = RELEASED_SCT.depth,
                 num_heads: int = RELEASED_SCT.num_heads, mlp_ratio: float = RELEASED_SCT.mlp_ratio,
                 num_joints: int = RELEASED_SCT.num_joints, maxlen: int = RELEASED_SCT.maxlen,
                 att_fuse: bool = RELEASED_SCT.att_fuse, dct_ratio: float = RELEASED_SCT.dct_ratio,
                 freq_prune_layer: Sequence[int] = RELEASED_SCT.freq_prune_layer,
                 parents: Sequence[int] | None = None, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, line_pose_graph: bool = True):
        if not line_pose_graph:
            parents = None
        elif parents is None:
            if num_joints != len(H36M_PARENTS):
                raise ValueError(f"give the skeleton's parent list for num_joints={num_joints}")
            parents = H36M_PARENTS
        ratios = layer_compress_ratios(dct_ratio, freq_prune_layer, depth)
        super().__init__(dim_in=dim_in, dim_out=dim_out, dim_feat=dim_feat, dim_rep=dim_rep, depth=depth,
                         num_heads=num_heads, mlp_ratio=mlp_ratio, num_joints=num_joints, maxlen=maxlen,
                         att_fuse=att_fuse, compress_ratios=ratios, normed_residual=True,
                         sum_layer_outputs=True, parents=parents, drop_rate=drop_rate,
                         attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate)
