"""Where a model's time goes: ``torch.profiler`` tables of its forward pass or of one training step.

The model runs on random clips. A training step is forward, a mean per-joint position error against a
random target, backward and one AdamW step; a forward pass runs under ``torch.inference_mode``. After
``warmup`` untimed calls (they fill the per-length operator caches), ``steps`` calls are profiled and the
table lists the operators by self time, summed over those calls.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile


@dataclass(frozen=True)
class ProfileSetting:
    """What to profile: ``batch`` clips of ``frames`` frames, forward only or a training step, on ``device``."""

    batch: int = 1
    frames: int = 243
    train: bool = False
    device: str = "cpu"
    bf16: bool = False
    warmup: int = 1
    steps: int = 2


def _step_fn(model: nn.Module, setting: ProfileSetting, joints: int):
    generator = torch.Generator().manual_seed(0)
    shape = (setting.batch, setting.frames, joints, 3)
    x = torch.randn(shape, generator=generator).to(setting.device)
    target = torch.randn(shape, generator=generator).to(setting.device)
    autocast = (torch.autocast(setting.device, dtype=torch.bfloat16) if setting.bf16
                else contextlib.nullcontext())
    if not setting.train:
        model.eval()

        def forward() -> None:
            with torch.inference_mode(), autocast:
                model(x)
        return forward

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step() -> None:
        with autocast:
            loss = torch.linalg.norm(model(x).float() - target, dim=-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return train_step


def profile_table(model: nn.Module, setting: ProfileSetting, row_limit: int = 20) -> str:
    """The profiler's operator table (sorted by self time on the setting's device) for ``setting``."""
    model = model.to(setting.device)
    step = _step_fn(model, setting, int(getattr(model, "num_joints", 17)))
    for _ in range(setting.warmup):
        step()
    activities = [ProfilerActivity.CPU]
    sort_by = "self_cpu_time_total"
    if setting.device.startswith("cuda"):
        activities.append(ProfilerActivity.CUDA)
        sort_by = "self_cuda_time_total"
    with profile(activities=activities) as prof:
        for _ in range(setting.steps):
            step()
        if setting.device.startswith("cuda"):
            torch.cuda.synchronize()
    return prof.key_averages().table(sort_by=sort_by, row_limit=row_limit, max_name_column_width=48)
