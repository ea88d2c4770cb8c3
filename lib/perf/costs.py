"""Size and arithmetic of the benchmark's rows: parameters and FLOPs of one clip (:mod:`lib.perf.flops`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from .flops import count_flops, count_parameters
from .variants import Variant


@dataclass(frozen=True)
class Cost:
    """Size and arithmetic of one variant for one clip of ``frames`` frames (batch 1).

    ``gflops`` counts every matrix product at 2 FLOPs per multiply-add (attention and the compression
    operator included); ``linear_gmacs`` only the ``nn.Linear`` layers (the thop convention).
    """

    params: int
    gflops: float
    attention_gflops: float
    linear_gmacs: float
    frames: int

    @property
    def gmacs(self) -> float:
        return self.gflops / 2

    @property
    def mflops_per_frame(self) -> float:
        return self.gflops * 1e3 / self.frames

    @property
    def mmacs_per_frame(self) -> float:
        return self.mflops_per_frame / 2

    @property
    def linear_mmacs_per_frame(self) -> float:
        return self.linear_gmacs * 1e3 / self.frames


def measure_costs(variants: Iterable[Variant], frames: int,
                  progress: Callable[[], None] | None = None) -> dict[str, Cost]:
    """Parameters and FLOPs (one clip, batch 1, float32, CPU) of every efficiency row (the plain reference
    computes its DCT with FFTs, which FLOP counters skip, so its count would mislead). ``progress`` is called
    after each row."""
    costs = {}
    for variant in variants:
        if "efficiency" not in variant.groups:
            continue
        model = variant.factory().eval()
        x = torch.randn(1, frames, getattr(model, "num_joints", 17), 3)
        count = count_flops(model, x)
        costs[variant.key] = Cost(params=count_parameters(model), gflops=count.flops / 1e9,
                                  attention_gflops=count.attention_flops / 1e9,
                                  linear_gmacs=count.linear_macs / 1e9, frames=frames)
        if progress:
            progress()
    return costs
