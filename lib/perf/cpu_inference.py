"""Faster float32 CPU inference: run ``nn.Linear`` layers on oneDNN with their weights packed once.

On some CPUs PyTorch's default float32 ``nn.Linear`` (``addmm`` through MKL) reaches well under half of
what the oneDNN kernels reach on the same cores; on the AMD EPYC used for ``docs/BENCHMARKS.md``,
``(4131 x 512) @ (512 x 1536)`` runs at ~210 GFLOP/s through ``addmm`` and ~500 GFLOP/s through oneDNN
with a pre-packed weight (2 threads). The lifting models spend most of their CPU time in linear layers,
so this is the largest single lever for CPU speed.

:func:`prepack_linear_layers` switches every ``nn.Linear`` of a model to :class:`PrepackedLinear` in place.
Parameter names, values and the state dict are unchanged; outputs equal the default path up to float
rounding (~1e-6). The packed path is taken only for CPU float32 inference (no autocast, no gradient);
everything else (CUDA, bfloat16 autocast, training, ``torch.compile``) falls back to ``F.linear``. The packed weight is
rebuilt automatically when the weight changes (e.g. after ``load_state_dict``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def onednn_linear_available() -> bool:
    """Whether this PyTorch build has the oneDNN packed linear kernels."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))


class PrepackedLinear(nn.Linear):
    """``nn.Linear`` whose CPU float32 inference runs on oneDNN with a once-packed weight.

    Shapes: ``(..., in_features) -> (..., out_features)``, as ``nn.Linear``.
    """

    def _use_packed(self, x: torch.Tensor) -> bool:
        if x.device.type != "cpu" or x.dtype != torch.float32 or self.weight.dtype != torch.float32:
            return False
        if torch.is_autocast_enabled("cpu") or torch.compiler.is_compiling():
            return False  # under torch.compile, Inductor chooses (and with freezing packs) the kernels itself
        return not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._use_packed(x):
            return F.linear(x, self.weight, self.bias)
        key = (self.weight.data_ptr(), self.weight._version)
        if getattr(self, "_packed_key", None) != key:
            self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), None)
            self._packed_key = key
        return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.bias, "none", [], "")


def prepack_linear_layers(model: nn.Module) -> int:
    """Switch every plain ``nn.Linear`` in ``model`` to :class:`PrepackedLinear` (in place); returns how many.

    Does nothing (returns 0) where oneDNN is unavailable. Safe to call on a model that will also run on
    CUDA or under autocast: those calls take the default path.
    """
    if not onednn_linear_available():
        return 0
    count = 0
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = PrepackedLinear
            count += 1
    return count
