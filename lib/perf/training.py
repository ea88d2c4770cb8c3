"""Timing one training step: forward, the 3D loss, backward and an AdamW update, as the release trains.

The loss is MotionBERT's Human3.6M objective with the release's weights (MPJPE + 0.5 · N-MPJPE + 20 · velocity
error) against a random target; the optimizer is AdamW with the release's learning rate and weight decay.
bf16 runs the forward pass under bfloat16 autocast (no gradient scaler is needed for bfloat16), the loss
and the update in float32, as ``train.py --amp bf16`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from ..utils.losses import loss_mpjpe, loss_n_mpjpe, loss_velocity
from .timing import (
    Result,
    Setting,
    autocast_for,
    interleaved_times,
    matmul_precision,
    random_clip,
    tensor_bytes,
)

LEARNING_RATE = 2e-4
WEIGHT_DECAY = 0.01
SCALE_WEIGHT = 0.5
VELOCITY_WEIGHT = 20.0
"""The release's training recipe (``configs/MB_train_h36m.yaml``)."""


def training_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The release's 3D loss of ``(B, T, J, 3)`` predictions (computed in float32)."""
    pred = pred.float()
    return (loss_mpjpe(pred, target) + SCALE_WEIGHT * loss_n_mpjpe(pred, target)
            + VELOCITY_WEIGHT * loss_velocity(pred, target))


def make_train_step(model: nn.Module, x: torch.Tensor, target: torch.Tensor, setting: Setting,
                    ) -> tuple[Callable[[], None], torch.optim.Optimizer]:
    """One optimizer step of ``model`` (put in train mode) on the batch ``x`` -> ``target``, and its AdamW
    optimizer (its state exists after the first step). Gradients are freed after each step, so between
    steps only the weights and the optimizer state stay allocated."""
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)

    def step() -> None:
        with matmul_precision(setting.device, setting.precision):
            with autocast_for(setting.device, setting.precision):
                pred = model(x)
            training_loss(pred, target).backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, optimizer


def measure_train_setting(models: Mapping[str, nn.Module], labels: Mapping[str, str], setting: Setting,
                          warmup: int, repeats: int, progress: Callable[[], None] | None = None,
                          seed: int = 0, clock: str = "wall") -> list[Result]:
    """Time one optimizer step (:func:`make_train_step`) of every model in one setting, interleaved
    (:func:`lib.perf.timing.interleaved_times`). The models are trained in place: pass copies you can spare.
    On CUDA the peak memory counts each model's weights and AdamW state plus the step's own allocations."""
    first = next(iter(models.values()))
    joints = getattr(first, "num_joints", 17)
    x = random_clip(setting, joints, seed)
    target = random_clip(setting, joints, seed + 1)
    steps: dict[str, Callable[[], None]] = {}
    optimizers: dict[str, Any] = {}
    for key, model in models.items():
        steps[key], optimizers[key] = make_train_step(model, x, target, setting)

    def resident(key: str) -> int:
        return tensor_bytes(models[key], optimizers[key].state)

    timed = interleaved_times(steps, setting.device, warmup, repeats, progress, clock, resident_bytes=resident)
    return [Result(key, labels[key], setting, times, peak) for key, (times, peak) in timed.items()]
