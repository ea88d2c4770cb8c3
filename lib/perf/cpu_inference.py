"""Faster float32 CPU inference: run ``nn.Linear`` layers on oneDNN with their weights packed once.

On some CPUs PyTorch's default float32 ``nn.Linear`` (``addmm`` through MKL) is much slower than the oneDNN
kernels with a pre-packed weight on the same cores. The lifting models spend most of their CPU time in
linear layers, so this is the largest single lever for CPU speed (``docs/BENCHMARKS.md`` measures it:
``tools/benchmark.py`` with and without ``--no-prepack-linear``).

:func:`prepack_linear_layers` replaces every ``nn.Linear`` of a model by a :class:`PrepackedLinear` that
shares its parameters. Parameter names, values and the state dict are unchanged; outputs equal the default
path up to float rounding (~1e-6). The packed path is taken only for CPU float32 inference (no autocast, no
gradient); everything else (CUDA, bfloat16 autocast, training, ``torch.compile``) uses ``F.linear``. The
packed weight is rebuilt when the weight changes (e.g. after ``load_state_dict``).

The kernels are private PyTorch operators (``torch.ops.mkldnn._reorder_linear_weight`` and
``_linear_pointwise``). Where a build lacks them, or they fail or disagree with ``F.linear`` on a trial
input, :func:`prepack_linear_layers` leaves the model as it is with one warning; a layer whose packed call
fails later falls back to ``F.linear`` for good, also with one warning. Evaluation and the demo then run
on eager PyTorch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _onednn_ops() -> tuple[Callable, Callable] | None:
    """The oneDNN ``(reorder_weight, linear)`` operators of this PyTorch build, or ``None`` without them."""
    if not torch.backends.mkldnn.is_available():
        return None
    ops = torch.ops.mkldnn
    if not (hasattr(ops, "_reorder_linear_weight") and hasattr(ops, "_linear_pointwise")):
        return None
    return ops._reorder_linear_weight, ops._linear_pointwise


def onednn_linear_available() -> bool:
    """Whether this PyTorch build has the oneDNN packed linear kernels."""
    return _onednn_ops() is not None


def _packed_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """One packed linear call (reorder + oneDNN linear); raises whatever the private operators raise."""
    ops = _onednn_ops()
    if ops is None:
        raise RuntimeError("the oneDNN linear operators are missing from this PyTorch build")
    reorder, linear = ops
    return linear(x, reorder(weight, None), bias, "none", [], "")


class PrepackedLinear(nn.Linear):
    """``nn.Linear`` whose CPU float32 inference runs on oneDNN with a once-packed weight.

    Shapes: ``(..., in_features) -> (..., out_features)``, as ``nn.Linear``. Build one with
    :meth:`sharing` (same parameter objects as an existing layer).
    """

    @classmethod
    def sharing(cls, linear: nn.Linear) -> PrepackedLinear:
        """A :class:`PrepackedLinear` that uses ``linear``'s own weight and bias parameters (no copy)."""
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None, device="meta")
        layer.weight = linear.weight
        layer.bias = linear.bias
        layer.train(linear.training)
        return layer

    def _use_packed(self, x: torch.Tensor) -> bool:
        if getattr(self, "_packing_failed", False):
            return False
        if x.device.type != "cpu" or x.dtype != torch.float32 or self.weight.dtype != torch.float32:
            return False
        if torch.is_autocast_enabled("cpu") or torch.compiler.is_compiling():
            return False  # under torch.compile, Inductor chooses (and with freezing packs) the kernels itself
        return not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._use_packed(x):
            return F.linear(x, self.weight, self.bias)
        ops = _onednn_ops()
        try:
            if ops is None:
                raise RuntimeError("the oneDNN linear operators are missing")
            reorder, linear = ops
            key = (self.weight.data_ptr(), self.weight._version)
            if getattr(self, "_packed_key", None) != key:
                self._packed = reorder(self.weight.detach(), None)
                self._packed_key = key
            return linear(x, self._packed, self.bias, "none", [], "")
        except RuntimeError as exc:
            self._packing_failed = True
            warnings.warn(f"oneDNN packed linear failed ({str(exc).splitlines()[0]}); this layer runs on plain "
                          "PyTorch from now on", RuntimeWarning, stacklevel=2)
            return F.linear(x, self.weight, self.bias)


def _trial_ok() -> str | None:
    """``None`` when the packed operators run and agree with ``F.linear`` on a small input, else why not."""
    if _onednn_ops() is None:
        return "this PyTorch build has no oneDNN packed linear operators"
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, generator=generator)
    weight, bias = torch.randn(6, 8, generator=generator), torch.randn(6, generator=generator)
    try:
        with torch.inference_mode():
            got = _packed_linear(x, weight, bias)
    except RuntimeError as exc:
        return f"the oneDNN packed linear failed on a trial input ({str(exc).splitlines()[0]})"
    if got.shape != (3, 5, 6) or not torch.allclose(got, F.linear(x, weight, bias), atol=1e-4, rtol=1e-4):
        return "the oneDNN packed linear disagrees with F.linear on a trial input"
    return None


def prepack_linear_layers(model: nn.Module) -> int:
    """Replace every plain ``nn.Linear`` in ``model`` by a :class:`PrepackedLinear` sharing its parameters
    (in place); returns how many.

    Does nothing (returns 0, one ``RuntimeWarning``) where the oneDNN operators are missing, fail or disagree
    on a trial input. Safe to call on a model that will also run on CUDA or under autocast: those calls take
    the default path.
    """
    problem = _trial_ok()
    if problem is not None:
        warnings.warn(f"{problem}; running the model on plain PyTorch (slower on some CPUs, same results)",
                      RuntimeWarning, stacklevel=2)
        return 0
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, PrepackedLinear.sharing(child))
                count += 1
    return count
