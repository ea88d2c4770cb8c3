"""Speed and cost of pose-lifting models, measured side by side in one run.

A benchmark is a list of rows (:class:`lib.perf.variants.Variant`) and a list of settings
(:class:`lib.perf.timing.Setting`: device, precision, batch size). Every row is built once per device; in
each setting the rows are timed interleaved (:func:`lib.perf.timing.interleaved_times`): one forward pass
(``mode='inference'``) or one optimizer step (``mode='train'``, :mod:`lib.perf.training`). Parameters and
FLOPs come from :mod:`lib.perf.costs`. The result is a :class:`BenchmarkReport`, which
:mod:`lib.perf.reports` turns into Markdown and CSV and :mod:`lib.perf.figure` into the Pareto figure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .costs import Cost, measure_costs
from .cpu_inference import prepack_linear_layers
from .environment import describe_environment
from .timing import MODES, Result, Setting, measure_setting, precision_context
from .training import measure_train_setting
from .variants import Variant

DEFAULT_BATCHES = {"cpu": (1, 4), "cuda": (1, 64, 256)}
"""Batch sizes timed when none are given: latency (batch 1) and throughput batches per device."""
DEFAULT_TRAIN_BATCHES = {"cpu": (2,), "cuda": (16, 64)}
"""Batch sizes of the ``train`` mode when none are given (16 is the release's training batch)."""
DEFAULT_PRECISIONS = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "tf32", "bf16")}
"""Precisions timed per device when none are given."""
DEFAULT_REPEATS = {"cpu": 10, "cuda": 5}
"""Timed calls per row and setting when none are given (a default CUDA run times 3 batch sizes × 3
precisions)."""


@dataclass
class BenchmarkReport:
    """Everything one benchmark run measured, plus the facts needed to reproduce it.

    ``mode``: ``'inference'`` (times per forward pass) or ``'train'`` (per optimizer step).
    """

    variants: list[Variant]
    costs: dict[str, Cost]
    results: list[Result]
    environment: dict[str, str]
    baseline: str = "dstformer"
    reference: str = "reference_sct"
    cpu_clock: str = "wall"
    mode: str = "inference"

    def result(self, key: str, device: str, precision: str, batch: int) -> Result | None:
        for r in self.results:
            s = r.setting
            if (r.key, s.device, s.precision, s.batch) == (key, device, precision, batch):
                return r
        return None

    def settings(self) -> list[tuple[str, int]]:
        """The (device, batch) pairs measured, in order."""
        return list(dict.fromkeys((r.setting.device, r.setting.batch) for r in self.results))

    def precisions(self, device: str | None = None) -> list[str]:
        """The precisions measured (on ``device`` when given), in order."""
        return list(dict.fromkeys(r.setting.precision for r in self.results
                                  if device is None or r.setting.device == device))


def _per_device(value: int | Mapping[str, int], device: str) -> int:
    return value if isinstance(value, int) else value[device]


def rows_in_setting(variants: Sequence[Variant], setting: Setting,
                    keys_by_device: Mapping[str, Collection[str]] | None = None) -> list[Variant]:
    """The rows timed in ``setting``: those measured in its precision and, when ``keys_by_device`` names the
    setting's device, listed there."""
    wanted = None if keys_by_device is None else keys_by_device.get(setting.device)
    return [v for v in variants if setting.precision in v.precisions and (wanted is None or v.key in wanted)]


def count_calls(variants: Sequence[Variant], settings: Sequence[Setting], warmup: int,
                repeats: int | Mapping[str, int], count_cost: bool = False,
                keys_by_device: Mapping[str, Collection[str]] | None = None) -> int:
    """Steps :func:`run_benchmark` reports to its ``progress`` callback (for a progress bar): one per timed or
    warm-up call, plus one per costed row when ``count_cost``."""
    calls = sum((warmup + _per_device(repeats, s.device)) * len(rows_in_setting(variants, s, keys_by_device))
                for s in settings)
    return calls + (sum("efficiency" in v.groups for v in timed_rows(variants, settings, keys_by_device))
                    if count_cost else 0)


def timed_rows(variants: Sequence[Variant], settings: Sequence[Setting],
               keys_by_device: Mapping[str, Collection[str]] | None = None) -> list[Variant]:
    """The rows timed in at least one setting, in order."""
    timed = {v.key for s in settings for v in rows_in_setting(variants, s, keys_by_device)}
    return [v for v in variants if v.key in timed]


def run_benchmark(variants: Sequence[Variant], settings: Sequence[Setting], warmup: int = 2,
                  repeats: int | Mapping[str, int] = 10, compile_models: bool = False, baseline: str = "dstformer",
                  count_cost: bool = True, progress: Callable[[], None] | None = None, clock: str = "wall",
                  prepack_linear: bool = False, mode: str = "inference",
                  keys_by_device: Mapping[str, Collection[str]] | None = None,
                  compile_mode: str = "default") -> BenchmarkReport:
    """Measure ``variants`` in every setting (one model build per variant and device).

    Args:
        variants: the rows.
        settings: the columns; models are moved to each setting's device.
        warmup: untimed calls per model and setting.
        repeats: timed calls per model and setting, or ``{device: repeats}``.
        compile_models: wrap every model in ``torch.compile`` (compilation happens during the warm-up).
        compile_mode: ``torch.compile``'s ``mode`` (e.g. ``'reduce-overhead'``: CUDA graphs).
        baseline: key of the row the efficiency ratios refer to.
        count_cost: also count parameters and FLOPs (on the CPU).
        progress: called once per step (:func:`count_calls` of them in all).
        clock: ``'wall'`` or ``'process'`` (CPU time; see :func:`lib.perf.timing.time_call`). CUDA always
            uses events.
        prepack_linear: run the linear layers of every non-``plain`` row on oneDNN with packed weights
            (:func:`lib.perf.cpu_inference.prepack_linear_layers`; affects CPU float32 inference only).
        mode: ``'inference'`` (one forward pass per call) or ``'train'`` (one AdamW step per call; the models
            are trained in place).
        keys_by_device: the rows to time on each device it names (default: every row everywhere).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if warmup < 0 or min(_per_device(repeats, s.device) for s in settings) < 1:
        raise ValueError("need repeats >= 1 and warmup >= 0")
    if (compile_models or any(v.compile_mode for v in variants)) and warmup < 1:
        raise ValueError("torch.compile compiles during the warm-up: need warmup >= 1")
    if any(v.compile_mode == "reduce-overhead" for v in variants) and any(s.device != "cuda" for s in settings):
        raise ValueError("CUDA graphs (@cudagraphs rows) need --device cuda")
    variants = timed_rows(variants, settings, keys_by_device)
    costs = measure_costs(variants, settings[0].frames, progress) if count_cost else {}
    measure = measure_train_setting if mode == "train" else measure_setting
    results: list[Result] = []
    models: dict[str, dict[str, nn.Module]] = {}
    for setting in settings:
        device_models = models.get(setting.device)
        if device_models is None:
            models.clear()  # one device's models at a time
            device_models = models[setting.device] = {}
            on_device = [s for s in settings if s.device == setting.device]
            for variant in timed_rows(variants, on_device, keys_by_device):
                row_mode = variant.compile_mode or (compile_mode if compile_models else None)
                device_models[variant.key] = _build(variant, setting, settings, row_mode,
                                                    prepack_linear and mode == "inference")
        chosen = {v.key: device_models[v.key] for v in rows_in_setting(variants, setting, keys_by_device)}
        labels = {v.key: v.label for v in variants}
        results.extend(measure(chosen, labels, setting, warmup, _per_device(repeats, setting.device),
                               progress=progress, clock=clock))
    devices = list(dict.fromkeys(s.device for s in settings))
    environment = describe_environment(devices)
    environment["mode"] = "training step (AdamW)" if mode == "train" else "inference"
    environment["compile"] = f"True (mode {compile_mode})" if compile_models else "False"
    environment["clock"] = ", ".join(f"CPU {clock}" if d == "cpu" else "CUDA events" for d in devices)
    environment["prepacked linear (oneDNN)"] = ("yes, all rows but the plain reference"
                                                if prepack_linear and mode == "inference" else "no")
    environment["warmup"] = str(warmup)
    environment["repeats"] = ", ".join(f"{_per_device(repeats, d)}" + ("" if isinstance(repeats, int) else f" ({d})")
                                       for d in devices)
    return BenchmarkReport(list(variants), costs, results, environment, baseline=baseline, cpu_clock=clock,
                           mode=mode)


def _build(variant: Variant, setting: Setting, settings: Sequence[Setting], compile_mode: str | None,
           prepack_linear: bool) -> nn.Module:
    """``variant``'s model on ``setting.device`` in eval mode, optionally prepacked and compiled (with
    ``torch.compile``'s ``compile_mode``, unless ``None``)."""
    model = variant.factory().eval().to(setting.device)
    if prepack_linear and not variant.plain:
        prepack_linear_layers(model)
    if compile_mode is not None:
        # eager calls fill the per-length, per-dtype caches (spectral compression operators) for every
        # precision, so the compiled graph does not recompile when they change
        x = torch.zeros(1, setting.frames, getattr(model, "num_joints", 17), 3, device=setting.device)
        for precision in dict.fromkeys(s.precision for s in settings if s.device == setting.device):
            with torch.inference_mode(), precision_context(setting.device, precision):
                model(x)
        model = torch.compile(model, mode=compile_mode)
    return model


def plan_settings(devices: Sequence[str], frames: int, precisions: Sequence[str] | None = None,
                  batches: Sequence[int] | None = None, mode: str = "inference",
                  bf16_on_cuda: bool = True) -> tuple[list[Setting], list[str]]:
    """The settings of a run and notes on what was left out.

    Per device: ``batches`` (default :data:`DEFAULT_BATCHES`, or :data:`DEFAULT_TRAIN_BATCHES` in the
    ``train`` mode) × ``precisions`` (default :data:`DEFAULT_PRECISIONS`). ``tf32`` is skipped on the CPU and
    ``bf16`` on a GPU without bfloat16 (``bf16_on_cuda=False``), each with a note.
    """
    settings, notes = [], []
    for device in devices:
        usable = list(precisions or DEFAULT_PRECISIONS[device])
        if device == "cpu" and "tf32" in usable:
            usable.remove("tf32")
            notes.append("tf32 is a CUDA setting; the CPU is timed without it")
        if device == "cuda" and not bf16_on_cuda and "bf16" in usable:
            usable.remove("bf16")
            notes.append("this GPU has no bfloat16 support; timing float32 only on CUDA")
        if not usable:
            usable = ["fp32"]
        default = DEFAULT_TRAIN_BATCHES if mode == "train" else DEFAULT_BATCHES
        for batch in batches or default[device]:
            settings += [Setting(device, p, batch, frames) for p in usable]
    return settings, notes
