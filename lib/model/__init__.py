"""Pose-lifting models. Build one from a config mapping with :func:`build_model`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from ..utils.released_model import RELEASED_SCT
from .dstformer import DSTformer
from .sctformer import SCTformer

__all__ = ["MODEL_KEYS", "build_model", "model_args", "DSTformer", "SCTformer"]

BACKBONES = ("SCT", "DSTformer")
# the config keys that decide the network (its parameters and what it computes); checkpoints written by
# train.py carry them as ``model_args`` so that a file rebuilds its own model
MODEL_KEYS: tuple[str, ...] = ("backbone", "maxlen", "dim_feat", "mlp_ratio", "depth", "dim_rep", "num_heads",
                               "num_joints", "att_fuse", "line_pose_graph", "dct_ratio", "freq_prune_layer")


def model_args(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`MODEL_KEYS` of a config as plain Python values (lists for sequences), for a checkpoint."""
    args = {}
    for key in MODEL_KEYS:
        if key in cfg:
            value = cfg[key]
            args[key] = list(value) if isinstance(value, list | tuple) else value
    return args


def _get(cfg: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = cfg.get(key, default)
    return default if value is None else value


def build_model(cfg: Mapping[str, Any], parents: Sequence[int] | None = None) -> nn.Module:
    """Build the lifting network named by ``cfg['backbone']`` (default ``'SCT'``).

    ``cfg`` holds the model keys of ``configs/MB_train_h36m.yaml``: ``dim_feat, dim_rep, depth, num_heads,
    mlp_ratio, maxlen, num_joints, att_fuse, dct_ratio, freq_prune_layer`` and optionally ``dropout``,
    ``drop_path`` (default 0), and for SCT ``line_pose_graph`` (default true; false feeds the plain
    3-channel input, an ablation). For SCT, an absent (or null) ``dct_ratio`` / ``freq_prune_layer`` means the
    released 0.6 in every layer. ``backbone: DSTformer`` builds MotionBERT's baseline; for it ``dct_ratio``
    and ``freq_prune_layer`` plug SCT's spectral compression into the listed layers (absent: none).
    ``parents``: the skeleton of SCT's Line Pose Graph (default Human3.6M's; DSTformer has none).
    """
    backbone = _get(cfg, "backbone", "SCT")
    common = dict(
        dim_in=3, dim_out=3,
        dim_feat=int(cfg["dim_feat"]), dim_rep=int(cfg["dim_rep"]), depth=int(cfg["depth"]),
        num_heads=int(cfg["num_heads"]), mlp_ratio=float(cfg["mlp_ratio"]),
        num_joints=int(_get(cfg, "num_joints", RELEASED_SCT.num_joints)), maxlen=int(cfg["maxlen"]),
        att_fuse=bool(_get(cfg, "att_fuse", RELEASED_SCT.att_fuse)),
        drop_rate=float(_get(cfg, "dropout", 0.0)), drop_path_rate=float(_get(cfg, "drop_path", 0.0)),
    )
    if backbone == "SCT":
        all_layers = list(range(common["depth"]))
        return SCTformer(dct_ratio=float(_get(cfg, "dct_ratio", RELEASED_SCT.dct_ratio)),
                         freq_prune_layer=list(_get(cfg, "freq_prune_layer", all_layers)),
                         line_pose_graph=bool(_get(cfg, "line_pose_graph", True)), parents=parents, **common)
    if backbone == "DSTformer":
        return DSTformer(dct_ratio=float(_get(cfg, "dct_ratio", 1.0)),
                         freq_prune_layer=list(_get(cfg, "freq_prune_layer", [])), **common)
    raise ValueError(f"unknown backbone {backbone!r}; choose one of: {', '.join(BACKBONES)}")
