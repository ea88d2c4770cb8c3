"""Timing calls side by side: settings, precisions, clocks, interleaved repeats and peak memory.

For one setting every call is warmed up, then the repeats are *interleaved* (A, B, C, A, B, C, ...) so that a
change of machine load hits all rows alike, and the median is kept. CPU times come from ``time.perf_counter``
(or the process's CPU time); CUDA times from CUDA events around each call (after a synchronise), with the
peak memory of every call from ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

PRECISIONS = ("fp32", "tf32", "bf16")
"""``fp32``: float32 (on CUDA with TF32 off); ``tf32``: float32 weights and inputs with TF32 matrix
products (CUDA only); ``bf16``: bfloat16 autocast around float32 weights."""
CLOCKS = ("wall", "process")
MODES = ("inference", "train")
"""What one timed call is: a forward pass under ``torch.inference_mode`` or one optimizer step."""


@dataclass(frozen=True)
class Setting:
    """Where and how to time: ``device`` (``'cpu'`` / ``'cuda'``), ``precision`` (one of :data:`PRECISIONS`)
    and ``batch`` clips of ``frames`` frames."""

    device: str
    precision: str
    batch: int
    frames: int


@dataclass
class Result:
    """Timing of one variant in one setting (times in milliseconds per call: a forward pass or, in the
    ``train`` mode, an optimizer step). ``peak_bytes``: the memory the call needs on a GPU (see
    :func:`interleaved_times`); ``None`` where not measured (the CPU)."""

    key: str
    label: str
    setting: Setting
    times_ms: list[float] = field(default_factory=list)
    peak_bytes: int | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def spread_ms(self) -> float:
        """Half the inter-quartile range (a robust +- for the median)."""
        if len(self.times_ms) < 4:
            return (max(self.times_ms) - min(self.times_ms)) / 2
        q = statistics.quantiles(self.times_ms, n=4)
        return (q[2] - q[0]) / 2

    @property
    def clips_per_s(self) -> float:
        return self.setting.batch / (self.median_ms / 1e3)

    @property
    def fps(self) -> float:
        """Frames per second: batch × frames / median."""
        return self.clips_per_s * self.setting.frames


def check_precision(device: str, precision: str) -> None:
    """Raise ``ValueError`` unless ``precision`` is one of :data:`PRECISIONS` and usable on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    if precision == "tf32" and device != "cuda":
        raise ValueError("tf32 is a CUDA setting; on the CPU use fp32 or bf16")


@contextlib.contextmanager
def matmul_precision(device: str, precision: str) -> Iterator[None]:
    """On CUDA, TF32 matrix products switched off for ``fp32`` and on for ``tf32`` inside the body (PyTorch's
    flags are restored afterwards); nothing otherwise."""
    check_precision(device, precision)
    if device != "cuda" or precision not in ("fp32", "tf32"):
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        _restore_tf32(*old)


def autocast_for(device: str, precision: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for ``bf16``; nothing for the float32 precisions."""
    check_precision(device, precision)
    if precision == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def precision_context(device: str, precision: str) -> Iterator[None]:
    """Run a forward pass in ``precision``: :func:`matmul_precision` and :func:`autocast_for` together."""
    with matmul_precision(device, precision), autocast_for(device, precision):
        yield


def _restore_tf32(matmul: bool, cudnn: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_call(fn: Callable[[], Any], device: str, clock: str = "wall") -> float:
    """Milliseconds of one call of ``fn``: CUDA events on the GPU; on the CPU ``perf_counter`` (``clock='wall'``)
    or the CPU time of this process (``clock='process'``: all threads together, so with one thread it is
    the compute time, unaffected by other programs competing for the cores)."""
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; choose from {', '.join(CLOCKS)}")
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))
    timer = time.perf_counter if clock == "wall" else time.process_time
    begin = timer()
    fn()
    return (timer() - begin) * 1e3


def tensor_bytes(*modules_or_states: Any) -> int:
    """Bytes of every tensor in the given modules (parameters and buffers) and nested state dicts (e.g. an
    optimizer's ``state``)."""
    total = 0

    def visit(obj: Any) -> None:
        nonlocal total
        if isinstance(obj, torch.Tensor):
            total += obj.numel() * obj.element_size()
        elif isinstance(obj, nn.Module):
            for t in (*obj.parameters(), *obj.buffers()):
                visit(t)
        elif isinstance(obj, Mapping):
            for v in obj.values():
                visit(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                visit(v)

    for item in modules_or_states:
        visit(item)
    return total


def interleaved_times(calls: Mapping[str, Callable[[], Any]], device: str, warmup: int, repeats: int,
                      progress: Callable[[], None] | None = None, clock: str = "wall",
                      resident_bytes: Callable[[str], int] | None = None,
                      ) -> dict[str, tuple[list[float], int | None]]:
    """Time every call of ``calls``: ``warmup`` untimed calls each, then ``repeats`` timed calls interleaved
    across them. ``progress`` is called after every call.

    Returns ``{key: (milliseconds per timed call, peak bytes)}``. On CUDA the peak is what the call would need
    with only its own model on the GPU: ``resident_bytes(key)`` (its weights and any optimizer state, counted
    after the warm-up) plus the most memory one timed call allocated on top of what was allocated before it
    (``torch.cuda.max_memory_allocated``). Elsewhere it is ``None``.
    """
    for fn in calls.values():
        for _ in range(warmup):
            fn()
            if progress:
                progress()
    synchronize(device)
    cuda = device == "cuda"
    times: dict[str, list[float]] = {key: [] for key in calls}
    extra: dict[str, int] = dict.fromkeys(calls, 0)
    for _ in range(repeats):
        for key, fn in calls.items():
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                before = torch.cuda.memory_allocated()
            times[key].append(time_call(fn, device, clock))
            if cuda:
                extra[key] = max(extra[key], torch.cuda.max_memory_allocated() - before)
            if progress:
                progress()
    return {key: (times[key], (extra[key] + (resident_bytes(key) if resident_bytes else 0)) if cuda else None)
            for key in calls}


def random_clip(setting: Setting, joints: int, seed: int = 0) -> torch.Tensor:
    """A random ``(batch, frames, joints, 3)`` input on ``setting.device`` (the same for every row)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(setting.batch, setting.frames, joints, 3, generator=generator).to(setting.device)


def measure_setting(models: Mapping[str, nn.Module], labels: Mapping[str, str], setting: Setting,
                    warmup: int, repeats: int, progress: Callable[[], None] | None = None,
                    seed: int = 0, clock: str = "wall") -> list[Result]:
    """Time one forward pass of every model of ``models`` (already on ``setting.device``, eval mode) in one
    setting, on a random ``(batch, frames, 17, 3)`` clip under ``torch.inference_mode`` (see
    :func:`interleaved_times`)."""
    first = next(iter(models.values()))
    x = random_clip(setting, getattr(first, "num_joints", 17), seed)

    def call(model: nn.Module) -> Callable[[], Any]:
        def run() -> Any:
            with torch.inference_mode(), precision_context(setting.device, setting.precision):
                return model(x)
        return run

    timed = interleaved_times({key: call(model) for key, model in models.items()}, setting.device, warmup,
                              repeats, progress, clock, resident_bytes=lambda key: tensor_bytes(models[key]))
    return [Result(key, labels[key], setting, times, peak) for key, (times, peak) in timed.items()]
