"""Count the arithmetic of one forward pass.

Two conventions, because papers use both:

- :func:`count_flops` runs the model under :class:`torch.utils.flop_counter.FlopCounterMode`, which counts
  every matrix product (linear layers, attention scores and weighted sums, the spectral compression
  operator, explicit ``matmul``/``bmm``). A multiply-add is 2 FLOPs; ``macs = flops / 2``. The fused
  CPU attention kernel (``_scaled_dot_product_flash_attention_for_cpu``) is not in PyTorch's table, so it
  is added here with PyTorch's own SDPA formula. Element-wise work (LayerNorm, GELU, softmax, FFTs) is
  not counted.
- :func:`count_linear_macs` counts only ``nn.Linear`` layers, one MAC per weight per token, the way
  ``thop``/``ptflops`` do for transformers (they miss the attention products).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count


def _cpu_sdpa_flops(query_shape: torch.Size, key_shape: torch.Size, value_shape: torch.Size, *args,
                    out_shape: object = None, **kwargs) -> int:
    """FLOPs of the fused CPU attention kernel (same formula as PyTorch's for the CUDA kernels)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _extra_formulas() -> dict:
    name = "_scaled_dot_product_flash_attention_for_cpu"
    return {getattr(torch.ops.aten, name): _cpu_sdpa_flops} if hasattr(torch.ops.aten, name) else {}


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one forward pass of a ``(B, T, ...)`` input.

    Attributes:
        flops: all counted FLOPs (2 per multiply-add).
        attention_flops: the part spent in fused attention kernels (``scaled_dot_product_attention``).
        linear_macs: multiply-adds of the ``nn.Linear`` layers only (thop convention).
        frames: ``B * T``, for per-frame figures.
    """

    flops: int
    attention_flops: int
    linear_macs: int
    frames: int

    @property
    def macs(self) -> int:
        return self.flops // 2

    @property
    def gflops_per_frame(self) -> float:
        return self.flops / self.frames / 1e9

    @property
    def mmacs_per_frame(self) -> float:
        return self.macs / self.frames / 1e6


def count_flops(model: nn.Module, x: torch.Tensor) -> FlopCount:
    """FLOPs of ``model(x)`` (eval mode, no grad) for an input ``x`` of shape ``(B, T, ...)``."""
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False, custom_mapping=_extra_formulas())
        with torch.no_grad(), counter:
            model(x)
        linear_macs = count_linear_macs(model, x)
    finally:
        model.train(was_training)
    by_op = counter.get_flop_counts()["Global"]
    attention = sum(v for op, v in by_op.items() if "attention" in str(op))
    return FlopCount(flops=int(counter.get_total_flops()), attention_flops=int(attention),
                     linear_macs=linear_macs, frames=int(x.shape[0] * x.shape[1]))


def count_linear_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of every ``nn.Linear`` in ``model(x)``: ``in_features * out_features`` per token."""
    total = 0

    def hook(module: nn.Linear, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += module.in_features * module.out_features * (inputs[0].numel() // module.in_features)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return total


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())
