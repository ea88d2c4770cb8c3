"""Where a model's time goes: ``torch.profiler`` tables of its forward pass or of one training step.

The model runs on the benchmark's random clips and does what ``tools/benchmark.py`` times: a forward pass
under ``torch.inference_mode``, or one training step of :func:`lib.perf.training.make_train_step` (the
release's 3D loss against a random target, backward, one AdamW update). After
``warmup`` untimed calls (they fill the per-length operator caches), ``steps`` calls are profiled and the
table lists the operators by self time, summed over those calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from .timing import Setting, autocast_for, random_clip
from .training import make_train_step


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


def _step_fn(model: nn.Module, setting: ProfileSetting, joints: int) -> Callable[[], None]:
    """The call to profile: the benchmark's own forward pass or training step (:mod:`lib.perf.training`)
    on its random clip, so a profile explains the numbers ``tools/benchmark.py`` prints."""
    timing = Setting(device=setting.device, precision="bf16" if setting.bf16 else "fp32", batch=setting.batch,
                     frames=setting.frames)
    x = random_clip(timing, joints)
    if setting.train:
        step, _ = make_train_step(model, x, random_clip(timing, joints, seed=1), timing)
        return step
    model.eval()

    def forward() -> None:
        with torch.inference_mode(), autocast_for(timing.device, timing.precision):
            model(x)
    return forward


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
