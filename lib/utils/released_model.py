"""The released SCT model for Human3.6M (243 frames): the one place its sizes and compression are written.

What derives from :data:`RELEASED_SCT`: the config schema's model defaults (:mod:`lib.utils.config`), the
defaults of the model classes and of :func:`lib.model.build_model` (:mod:`lib.model`), and the benchmark's
released model (:mod:`lib.perf`). ``configs/MB_train_h36m.yaml`` spells the same values out for people
(MotionBERT's convention: the YAML is the whole experiment); ``tests/test_config.py`` keeps the two equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """The model keys of a config (the names of ``configs/MB_train_h36m.yaml``)."""

    maxlen: int = 243
    dim_feat: int = 512
    dim_rep: int = 512
    depth: int = 5
    num_heads: int = 8
    mlp_ratio: float = 2.0
    num_joints: int = 17
    att_fuse: bool = True
    dct_ratio: float = 0.6  # fraction of DCT coefficients kept in the compressed layers
    freq_prune_layer: tuple[int, ...] = (0, 1, 2, 3, 4)  # the compressed layers: all of them

    def as_config(self) -> dict[str, Any]:
        """The keys as a config mapping (``freq_prune_layer`` as a list, as YAML gives it)."""
        out = asdict(self)
        out["freq_prune_layer"] = list(self.freq_prune_layer)
        return out


RELEASED_SCT = ModelConfig()
