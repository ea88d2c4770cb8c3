"""The tiny model configurations the tests build: one base, varied only where a test needs it."""

from __future__ import annotations

from typing import Any

TINY_BASE: dict[str, Any] = dict(dim_feat=16, dim_rep=24, depth=2, num_heads=2, mlp_ratio=2, maxlen=243,
                                 num_joints=17, att_fuse=True, dct_ratio=0.6, freq_prune_layer=[0, 1])
"""A two-layer SCT with spectral compression in both layers (the released model's structure, tiny sizes)."""


def tiny_config(**changes: Any) -> dict[str, Any]:
    """A fresh copy of :data:`TINY_BASE` with ``changes`` applied; a value of ``None`` removes the key (then the
    backbone's own default applies, e.g. no compression for DSTformer)."""
    cfg = {**TINY_BASE, "freq_prune_layer": list(TINY_BASE["freq_prune_layer"]), **changes}
    return {k: v for k, v in cfg.items() if v is not None}
