"""Inference speed and cost of pose-lifting models, measured side by side in one run.

A benchmark is a list of :class:`Variant` (a name and a model factory) and a list of :class:`Setting`
(device, precision, batch size). For each setting every model is warmed up, then the repeats are
*interleaved* (model A, B, C, A, B, C, ...) so that a change of machine load hits all rows alike, and
the median time per forward pass is kept. CPU times come from ``time.perf_counter``; CUDA times from CUDA
events around each call (after a synchronise). Frames per second = ``batch * T / median``.

Rows are named by keys (:func:`variant_from_key`): ``dstformer``, ``dstformer_sc<σ>``, ``sct``,
``sct_sigma<σ>``, an optional ``_layers<i>+<j>...`` suffix to compress only some layers, and
``reference_sct``. Ratios are reported against a baseline row (MotionBERT's DSTformer for the efficiency
study; the plain :class:`lib.perf.reference_sct.ReferenceSCT` for the implementation speed-up of issue 2).
Parameters and FLOPs come from :mod:`lib.perf.flops`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lib.model import build_model
from lib.utils.atomic_io import atomic_path, write_text_atomic
from lib.utils.released_model import RELEASED_SCT

from .cpu_inference import prepack_linear_layers
from .flops import count_flops, count_parameters

PRECISIONS = ("fp32", "bf16")
RELEASED_MODEL = RELEASED_SCT.as_config()
DEFAULT_BATCHES = {"cpu": (1, 4), "cuda": (1, 64)}
"""Batch sizes timed when none are given: latency (batch 1) and a throughput batch per device."""


@dataclass(frozen=True)
class Variant:
    """One benchmarked model.

    Attributes:
        key: short identifier (CSV, accuracy file).
        label: human-readable name for tables and figures.
        factory: builds the model (on the CPU, float32).
        note: what the row is.
        groups: tables the row appears in (``'efficiency'``: issue 6; ``'implementation'``: issue 2).
        precisions: precisions measured for this row (a subset of the run's precisions).
        plain: a deliberately unoptimised baseline; run-wide optimisations (``prepack_linear``) skip it.
    """

    key: str
    label: str
    factory: Callable[[], nn.Module]
    note: str = ""
    groups: tuple[str, ...] = ("efficiency",)
    precisions: tuple[str, ...] = PRECISIONS
    plain: bool = False


@dataclass(frozen=True)
class Setting:
    """Where and how to time: ``device`` (``'cpu'`` / ``'cuda'``), ``precision`` (``'fp32'`` or ``'bf16'``
    autocast) and ``batch`` clips of ``frames`` frames."""

    device: str
    precision: str
    batch: int
    frames: int


@dataclass
class Result:
    """Timing of one variant in one setting (times in milliseconds per forward pass)."""

    key: str
    label: str
    setting: Setting
    times_ms: list[float] = field(default_factory=list)

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
    def fps(self) -> float:
        return self.setting.batch * self.setting.frames / (self.median_ms / 1e3)


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


def model_config(backbone: str, dct_ratio: float = 1.0, layers: Sequence[int] = (),
                 base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A model config (the released sizes unless ``base`` says otherwise) for :func:`lib.model.build_model`."""
    cfg = dict(RELEASED_MODEL if base is None else base)
    cfg.update(backbone=backbone, dct_ratio=float(dct_ratio), freq_prune_layer=list(layers))
    return cfg


VARIANT_KEY_HELP = (
    "dstformer (MotionBERT's backbone); dstformer_sc<σ> (SCT's spectral compression plugged into every "
    "layer, e.g. dstformer_sc0.6); sct (the released SCT, σ=0.6 in every layer); sct_sigma<σ> (SCT with "
    "another σ, e.g. sct_sigma0.45); a _layers<i>+<j>... suffix on the last two compresses only those layers "
    "(0-based, e.g. sct_sigma0.6_layers3+4); reference_sct (the plain reference implementation)")
_KEY_PATTERN = re.compile(r"^(?P<kind>dstformer_sc|sct_sigma)(?P<ratio>\d*\.?\d+)"
                          r"(?:_layers(?P<layers>\d+(?:\+\d+)*))?$")


def variant_from_key(key: str, base: Mapping[str, Any] | None = None,
                     reference_factory: Callable[[Mapping[str, Any]], nn.Module] | None = None) -> Variant:
    """The benchmark row named by ``key`` (grammar: :data:`VARIANT_KEY_HELP`), at the sizes of ``base``.

    Raises:
        ValueError: an unknown key, a ratio outside (0, 1], a layer index outside the model's depth, or
            ``reference_sct`` without a ``reference_factory``.
    """
    depth = int((base or RELEASED_MODEL)["depth"])
    every = list(range(depth))

    def make(cfg: dict[str, Any]) -> Callable[[], nn.Module]:
        return lambda: build_model(cfg)

    if key == "dstformer":
        return Variant(key, "DSTformer (MotionBERT)", make(model_config("DSTformer", base=base)),
                       "baseline: pre-norm residuals, no compression")
    if key == "sct":
        return Variant(key, "SCT (released, σ=0.6)", make(model_config("SCT", 0.6, every, base)),
                       "the released configuration", groups=("efficiency", "implementation"))
    if key == "reference_sct":
        if reference_factory is None:
            raise ValueError("reference_sct needs the plain reference implementation (lib/perf/reference_sct.py)")
        sct_cfg = model_config("SCT", 0.6, every, base)
        return Variant(key, "ReferenceSCT (plain)", lambda: reference_factory(sct_cfg),
                       "FFT-DCT + explicit-softmax reference (lib/perf/reference_sct.py)",
                       groups=("implementation",), precisions=("fp32",), plain=True)
    match = _KEY_PATTERN.match(key)
    if match is None:
        raise ValueError(f"unknown model key {key!r}; keys are: {VARIANT_KEY_HELP}")
    ratio = float(match["ratio"])
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"{key}: σ must be in (0, 1], got {match['ratio']}")
    layers = every if match["layers"] is None else sorted({int(i) for i in match["layers"].split("+")})
    if layers and layers[-1] >= depth:
        raise ValueError(f"{key}: layer {layers[-1]} does not exist (the model has layers 0..{depth - 1})")
    where = "all layers" if layers == every else "layers " + ", ".join(map(str, layers))
    if match["kind"] == "dstformer_sc":
        return Variant(key, f"DSTformer + SC σ={ratio:g} ({where})",
                       make(model_config("DSTformer", ratio, layers, base)),
                       f"SCT's spectral compression plugged into layers {layers}")
    if ratio == 1.0:
        return Variant(key, "SCT σ=1 (no compression)", make(model_config("SCT", 1.0, (), base)),
                       "Line Pose Graph and normed residuals only")
    return Variant(key, f"SCT σ={ratio:g}" + ("" if layers == every else f" ({where})"),
                   make(model_config("SCT", ratio, layers, base)), f"SCT with σ={ratio:g} in layers {layers}")


def default_variant_keys(depth: int, with_reference: bool = True) -> list[str]:
    """The rows of the efficiency study for a model of ``depth`` layers: DSTformer, DSTformer with SCT's
    compression plugged in (σ 0.8, 0.6, 0.4 in every layer; σ 0.6 in the last two layers), SCT with
    σ ∈ {1, 0.8, 0.7, 0.6 (released), 0.5, 0.4} in every layer and σ 0.6 in the first or the last two layers,
    and the plain reference SCT."""
    keys = ["dstformer", "dstformer_sc0.8", "dstformer_sc0.6", "dstformer_sc0.4"]
    first_two, last_two = "0+1", f"{depth - 2}+{depth - 1}"
    partial = depth > 2
    if partial:
        keys.append(f"dstformer_sc0.6_layers{last_two}")
    keys += ["sct_sigma1", "sct_sigma0.8", "sct_sigma0.7", "sct", "sct_sigma0.5", "sct_sigma0.4"]
    if partial:
        keys += [f"sct_sigma0.6_layers{first_two}", f"sct_sigma0.6_layers{last_two}"]
    if with_reference:
        keys.append("reference_sct")
    return keys


def standard_variants(base: Mapping[str, Any] | None = None,
                      reference_factory: Callable[[Mapping[str, Any]], nn.Module] | None = None,
                      keys: Sequence[str] | None = None) -> list[Variant]:
    """The rows named by ``keys`` (default: :func:`default_variant_keys`) at the sizes of ``base`` (default:
    the released configuration, :data:`RELEASED_MODEL`).

    Args:
        reference_factory: builds the plain reference implementation from an SCT config (it lives in the
            tests, so the caller passes it in); omitted, the default rows have no ``reference_sct``.
    """
    depth = int((base or RELEASED_MODEL)["depth"])
    if keys is None:
        keys = default_variant_keys(depth, with_reference=reference_factory is not None)
    if len(set(keys)) != len(keys):
        raise ValueError(f"model keys repeat: {', '.join(keys)}")
    return [variant_from_key(k, base, reference_factory) for k in keys]


def _autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


CLOCKS = ("wall", "process")


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


def measure_setting(models: Mapping[str, nn.Module], labels: Mapping[str, str], setting: Setting,
                    warmup: int, repeats: int, progress: Callable[[], None] | None = None,
                    seed: int = 0, clock: str = "wall") -> list[Result]:
    """Time every model of ``models`` (already on ``setting.device``, eval mode) in one setting.

    The input is a random ``(batch, frames, 17, 3)`` clip. After ``warmup`` calls per model the
    ``repeats`` timed calls are interleaved across the models. ``progress`` is called after every call.
    """
    first = next(iter(models.values()))
    joints = getattr(first, "num_joints", 17)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(setting.batch, setting.frames, joints, 3, generator=generator).to(setting.device)
    results = {key: Result(key, labels[key], setting) for key in models}

    def call(model: nn.Module) -> Callable[[], Any]:
        def run() -> Any:
            with torch.inference_mode(), _autocast(setting.device, setting.precision):
                return model(x)
        return run

    for model in models.values():
        for _ in range(warmup):
            call(model)()
            if progress:
                progress()
    _synchronize(setting.device)
    for _ in range(repeats):
        for key, model in models.items():
            results[key].times_ms.append(time_call(call(model), setting.device, clock))
            if progress:
                progress()
    return list(results.values())


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


@dataclass
class BenchmarkReport:
    """Everything one benchmark run measured, plus the facts needed to reproduce it."""

    variants: list[Variant]
    costs: dict[str, Cost]
    results: list[Result]
    environment: dict[str, str]
    baseline: str = "dstformer"
    reference: str = "reference_sct"
    cpu_clock: str = "wall"

    def result(self, key: str, device: str, precision: str, batch: int) -> Result | None:
        for r in self.results:
            s = r.setting
            if (r.key, s.device, s.precision, s.batch) == (key, device, precision, batch):
                return r
        return None

    def settings(self) -> list[tuple[str, int]]:
        """The (device, batch) pairs measured, in order."""
        return list(dict.fromkeys((r.setting.device, r.setting.batch) for r in self.results))

    def precisions(self) -> list[str]:
        return list(dict.fromkeys(r.setting.precision for r in self.results))


def count_calls(variants: Sequence[Variant], settings: Sequence[Setting], warmup: int, repeats: int,
                count_cost: bool = False) -> int:
    """Steps :func:`run_benchmark` reports to its ``progress`` callback (for a progress bar): one per timed or
    warm-up forward pass, plus one per costed row when ``count_cost``."""
    calls = sum((warmup + repeats) * sum(s.precision in v.precisions for v in variants) for s in settings)
    return calls + (sum("efficiency" in v.groups for v in variants) if count_cost else 0)


def run_benchmark(variants: Sequence[Variant], settings: Sequence[Setting], warmup: int = 2, repeats: int = 10,
                  compile_models: bool = False, baseline: str = "dstformer", count_cost: bool = True,
                  progress: Callable[[], None] | None = None, clock: str = "wall",
                  prepack_linear: bool = False) -> BenchmarkReport:
    """Measure ``variants`` in every setting (one model build per variant and device).

    Args:
        variants: the rows.
        settings: the columns; models are moved to each setting's device.
        warmup, repeats: calls per model before timing, and timed calls per model.
        compile_models: wrap every model in ``torch.compile`` (compilation happens during the warm-up).
        baseline: key of the row the efficiency ratios refer to.
        count_cost: also count parameters and FLOPs (on the CPU).
        progress: called once per step (:func:`count_calls` of them in all).
        clock: ``'wall'`` or ``'process'`` (CPU time; see :func:`time_call`). CUDA always uses events.
        prepack_linear: run the linear layers of every non-``plain`` row on oneDNN with packed weights
            (:func:`lib.perf.cpu_inference.prepack_linear_layers`; affects CPU float32 only).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError("need repeats >= 1 and warmup >= 0")
    if compile_models and warmup < 1:
        raise ValueError("torch.compile compiles during the warm-up: need warmup >= 1")
    costs = measure_costs(variants, settings[0].frames, progress) if count_cost else {}
    results: list[Result] = []
    models: dict[str, dict[str, nn.Module]] = {}
    for setting in settings:
        device_models = models.get(setting.device)
        if device_models is None:
            device_models = {}
            for variant in variants:
                model = variant.factory().eval().to(setting.device)
                if prepack_linear and not variant.plain:
                    prepack_linear_layers(model)
                if compile_models:
                    # eager calls fill the per-length, per-dtype caches (spectral compression operators) for
                    # every precision, so the compiled graph does not recompile when they change
                    x = torch.zeros(1, setting.frames, getattr(model, "num_joints", 17), 3, device=setting.device)
                    for precision in dict.fromkeys(s.precision for s in settings if s.device == setting.device):
                        with torch.inference_mode(), _autocast(setting.device, precision):
                            model(x)
                    model = torch.compile(model)
                device_models[variant.key] = model
            models = {setting.device: device_models}  # one device's models at a time
        chosen = {v.key: device_models[v.key] for v in variants if setting.precision in v.precisions}
        labels = {v.key: v.label for v in variants}
        results.extend(measure_setting(chosen, labels, setting, warmup, repeats, progress=progress, clock=clock))
    devices = list(dict.fromkeys(s.device for s in settings))
    environment = describe_environment(devices)
    environment["compile"] = str(compile_models)
    environment["clock"] = ", ".join(f"CPU {clock}" if d == "cpu" else "CUDA events" for d in devices)
    environment["prepacked linear (oneDNN)"] = ("yes, all rows but the plain reference" if prepack_linear
                                                else "no")
    environment["warmup"], environment["repeats"] = str(warmup), str(repeats)
    return BenchmarkReport(list(variants), costs, results, environment, baseline=baseline, cpu_clock=clock)


def cpu_model_name() -> str:
    """The CPU model (``lscpu``'s "Model name" on Linux, else :func:`platform.processor`)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        for line in text.splitlines():
            if line.strip().startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def describe_environment(devices: Sequence[str] = ("cpu",)) -> dict[str, str]:
    """Date, machine, library versions and threads: what a reader needs to compare numbers."""
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu_model_name()} ({os.cpu_count()} logical cores)",
        "torch": torch.__version__,
        "threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
    }
    if "cuda" in devices and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name()
        env["cuda"] = str(torch.version.cuda)
        env["tf32"] = str(torch.backends.cuda.matmul.allow_tf32)
    return env


# ----------------------------------------------------------------------------------------------- reports

def _num(x: float) -> str:
    """Three significant digits for small numbers, one decimal for large ones."""
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3g}"


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}×" if value and base else "–"


def _fmt_ms(r: Result | None) -> str:
    return f"{_num(r.median_ms)} ± {_num(r.spread_ms)}" if r else "–"


def _fmt_fps(r: Result | None) -> str:
    return f"{r.fps:,.0f}" if r else "–"


def device_name(report: BenchmarkReport, device: str) -> str:
    """``'CPU'``, or the GPU's name for ``'cuda'``."""
    return report.environment.get("gpu", "GPU") if device == "cuda" else "CPU"


COST_CONVENTIONS = (
    "GFLOPs and GMACs count every matrix product of one forward pass (`torch.utils.flop_counter`: linear "
    "layers, attention, the spectral compression operator) with MACs = FLOPs / 2; per frame = per clip / "
    "frames (every input frame is an output frame). *Linear (thop)* counts only the `nn.Linear` layers, the "
    "convention of thop/ptflops and of most papers' MAC figures (it misses attention). Element-wise work is "
    "not counted.")


def cost_table(report: BenchmarkReport) -> str:
    """Markdown table of parameters and arithmetic (one clip, batch 1) of the efficiency rows, with each row's
    FLOPs relative to the baseline's."""
    head = ["Model", "Params (M)", "GFLOPs/clip", "GMACs/clip", "MFLOPs/frame", "MMACs/frame",
            "Attention GFLOPs/clip", "Linear GMACs/clip (thop)", "Linear MMACs/frame (thop)", "FLOPs vs DSTformer"]
    base = report.costs.get(report.baseline)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in report.variants:
        c = report.costs.get(v.key)
        if "efficiency" not in v.groups or c is None:
            continue
        row = [v.label, _num(c.params / 1e6), _num(c.gflops), _num(c.gmacs), _num(c.mflops_per_frame),
               _num(c.mmacs_per_frame), _num(c.attention_gflops), _num(c.linear_gmacs),
               _num(c.linear_mmacs_per_frame), _ratio(c.gflops, base.gflops if base else None)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def speed_table(report: BenchmarkReport, device: str, batch: int) -> str:
    """Markdown table of the efficiency rows' speed for one device and batch size: milliseconds per forward
    pass, frames per second and the ratio to the baseline's frames per second, per precision."""
    precisions = report.precisions()
    head = ["Model"]
    for p in precisions:
        head += [f"{p} ms", f"{p} FPS", f"{p} × DSTformer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in report.variants:
        if "efficiency" not in v.groups:
            continue
        row = [v.label]
        for p in precisions:
            r = report.result(v.key, device, p, batch)
            b = report.result(report.baseline, device, p, batch)
            row += [_fmt_ms(r), _fmt_fps(r), _ratio(r.fps if r else None, b.fps if b else None)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def implementation_table(report: BenchmarkReport, device: str, batch: int) -> str:
    """Markdown table: optimised SCT vs the plain reference, ratios vs the reference at float32."""
    base = report.result(report.reference, device, "fp32", batch)
    lines = ["| Model | Precision | ms/forward | FPS | × ReferenceSCT fp32 |", "|---|---|---|---|---|"]
    for v in report.variants:
        if "implementation" not in v.groups:
            continue
        for p in report.precisions():
            r = report.result(v.key, device, p, batch)
            if r is None:
                continue
            label = "bf16 autocast" if p == "bf16" else p
            lines.append(f"| {v.label} | {label} | {_fmt_ms(r)} | {_fmt_fps(r)} | "
                         f"{_ratio(r.fps, base.fps if base else None)} |")
    return "\n".join(lines)


def target_checks(report: BenchmarkReport, device: str = "cpu", batch: int = 1) -> list[tuple[str, float, float]]:
    """The speed targets of issues 2 and 6 as ``(description, measured ratio, target ratio)``; only those
    whose rows were measured."""

    def fps(key: str, precision: str) -> float | None:
        r = report.result(key, device, precision, batch)
        return r.fps if r else None

    wanted = [
        ("SCT (released) fp32 vs DSTformer fp32", "sct", "fp32", "dstformer", "fp32", 2.5),
        ("DSTformer + SC σ=0.6 (all layers) fp32 vs DSTformer fp32", "dstformer_sc0.6", "fp32",
         "dstformer", "fp32", 2.0),
        ("SCT fp32 vs ReferenceSCT fp32", "sct", "fp32", "reference_sct", "fp32", 1.25),
        ("SCT bf16 autocast vs ReferenceSCT fp32", "sct", "bf16", "reference_sct", "fp32", 2.0),
    ]
    checks = []
    for text, key, prec, base_key, base_prec, target in wanted:
        num, den = fps(key, prec), fps(base_key, base_prec)
        if num and den:
            checks.append((text, num / den, target))
    return checks


def markdown_report(report: BenchmarkReport, command: str = "") -> str:
    """The whole run as Markdown: environment, the cost table, one speed table and one implementation table
    per (device, batch), and the speed targets (defined on the CPU at batch 1)."""
    out = io.StringIO()
    env = report.environment
    out.write(f"Command: `{command}`\n\n" if command else "")
    out.write("Environment: " + "; ".join(f"{k} {v}" for k, v in env.items()) + "\n\n")
    frames = report.results[0].setting.frames if report.results else 0
    if report.costs:
        out.write(f"### Cost — one clip of {frames} frames, batch 1\n\n")
        out.write(cost_table(report) + "\n\n" + COST_CONVENTIONS + "\n\n")
    for device, batch in report.settings():
        where = device_name(report, device)
        out.write(f"### Speed — {where}, batch {batch}, {frames} frames\n\n")
        out.write(speed_table(report, device, batch) + "\n\n")
        if any("implementation" in v.groups for v in report.variants):
            out.write(f"### Implementation — optimised SCT vs plain reference ({where}, batch {batch})\n\n")
            out.write(implementation_table(report, device, batch) + "\n\n")
    checks = target_checks(report, "cpu", 1)
    if checks:
        out.write("Targets (CPU, batch 1):\n\n")
        for text, ratio, target in checks:
            verdict = "met" if ratio >= target else "MISSED"
            out.write(f"- {text}: {ratio:.2f}× (target ≥ {target:g}×) — {verdict}\n")
        out.write("\n")
    return out.getvalue()


CSV_FIELDS = ("model", "label", "device", "precision", "batch", "frames", "median_ms", "spread_ms", "fps",
              "speedup_vs_baseline", "params", "gflops_per_clip", "gmacs_per_clip", "mflops_per_frame",
              "mmacs_per_frame", "attention_gflops_per_clip", "linear_gmacs_per_clip", "linear_mmacs_per_frame",
              "repeats", "machine", "torch", "threads", "clock")
_REQUIRED_CSV_FIELDS = CSV_FIELDS[:10]


def _sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (tiny test models and full-size models alike)."""
    return float(f"{x:.{digits}g}")


def csv_rows(report: BenchmarkReport) -> list[dict[str, Any]]:
    """One dict per measurement with the fields of :data:`CSV_FIELDS` (cost fields empty when not counted)."""
    rows = []
    for r in report.results:
        s = r.setting
        base = report.result(report.baseline, s.device, s.precision, s.batch)
        c = report.costs.get(r.key)
        cost = {} if c is None else {
            "params": c.params, "gflops_per_clip": _sig(c.gflops), "gmacs_per_clip": _sig(c.gmacs),
            "mflops_per_frame": _sig(c.mflops_per_frame), "mmacs_per_frame": _sig(c.mmacs_per_frame),
            "attention_gflops_per_clip": _sig(c.attention_gflops), "linear_gmacs_per_clip": _sig(c.linear_gmacs),
            "linear_mmacs_per_frame": _sig(c.linear_mmacs_per_frame)}
        rows.append({
            "model": r.key, "label": r.label, "device": s.device, "precision": s.precision, "batch": s.batch,
            "frames": s.frames, "median_ms": round(r.median_ms, 3), "spread_ms": round(r.spread_ms, 3),
            "fps": round(r.fps, 2), "speedup_vs_baseline": round(r.fps / base.fps, 4) if base else "",
            **{name: cost.get(name, "") for name in CSV_FIELDS[10:18]},
            "repeats": len(r.times_ms), "machine": device_name(report, s.device) if s.device == "cuda"
            else report.environment.get("cpu", ""),
            "torch": report.environment.get("torch", ""), "threads": report.environment.get("threads", ""),
            "clock": "CUDA events" if s.device == "cuda" else report.cpu_clock,
        })
    return rows


def read_csv_report(path: str | os.PathLike) -> BenchmarkReport:
    """Rebuild a report (medians only, no model factories) from a CSV written by :func:`write_csv`, e.g. to
    redraw the figure without measuring again."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(_REQUIRED_CSV_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a benchmark CSV (missing {', '.join(sorted(missing))})")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path}: the benchmark CSV has no measurements")
    variants, costs, results, environment = {}, {}, [], {}
    cpu_clock = "wall"

    def unavailable() -> nn.Module:
        raise RuntimeError("a variant read from CSV cannot build its model")

    groups = {"reference_sct": ("implementation",), "sct": ("efficiency", "implementation")}  # as variant_from_key
    for row in rows:
        key = row["model"]
        variants.setdefault(key, Variant(key, row["label"], unavailable, groups=groups.get(key, ("efficiency",))))
        if row.get("params"):
            costs[key] = Cost(params=int(row["params"]), gflops=float(row["gflops_per_clip"]),
                              attention_gflops=float(row.get("attention_gflops_per_clip") or 0),
                              linear_gmacs=float(row.get("linear_gmacs_per_clip") or 0), frames=int(row["frames"]))
        setting = Setting(row["device"], row["precision"], int(row["batch"]), int(row["frames"]))
        results.append(Result(key, row["label"], setting, [float(row["median_ms"])]))
        environment.setdefault("gpu" if setting.device == "cuda" else "cpu", row.get("machine", ""))
        for name in ("torch", "threads"):
            environment.setdefault(name, row.get(name) or "")
        if setting.device == "cpu" and row.get("clock"):
            cpu_clock = row["clock"]
    return BenchmarkReport(list(variants.values()), costs, results, environment, cpu_clock=cpu_clock)


def write_csv(report: BenchmarkReport, path: str | os.PathLike) -> None:
    """Write :func:`csv_rows` to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    write_text_atomic(path, buffer.getvalue())


# ----------------------------------------------------------------------------------------------- accuracy

def read_accuracy(path: str | os.PathLike) -> dict[str, tuple[float, str]]:
    """Read ``model,mpjpe_mm,source`` rows (``model`` = a row key) into ``{key: (mpjpe, source)}``."""
    table = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"model", "mpjpe_mm"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                             "expected a header 'model,mpjpe_mm,source'")
        for line in reader:
            try:
                value = float(line["mpjpe_mm"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: mpjpe_mm of {line['model']!r} is not a number") from exc
            if math.isfinite(value):
                table[line["model"]] = (value, line.get("source") or "")
    return table


def read_results_json(path: str | os.PathLike) -> tuple[float, str]:
    """MPJPE (protocol 1, mm) of an evaluation JSON written by ``train.py`` (``<checkpoint>_results.json`` or
    ``--evaluate``'s output), and a short source label (the evaluated checkpoint when recorded, else the file
    name; the epoch when recorded)."""
    try:
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON file ({exc.msg} at line {exc.lineno})") from None
    value = payload.get("p1") if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{path}: no MPJPE; expected the evaluation JSON of train.py with a number under 'p1'")
    checkpoint = payload.get("checkpoint")
    source = checkpoint if isinstance(checkpoint, str) and checkpoint else os.path.basename(os.fspath(path))
    if isinstance(payload.get("epoch"), int):
        source += f", epoch {payload['epoch']}"
    return float(value), source


# ----------------------------------------------------------------------------------------------- figure

def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points ``(speed, error)`` that no other point beats on both (higher speed, lower
    error), sorted by speed."""
    front = []
    for i, (s_i, e_i) in enumerate(points):
        dominated = any((s_j >= s_i and e_j <= e_i) and (s_j > s_i or e_j < e_i)
                        for j, (s_j, e_j) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def figure_setting(report: BenchmarkReport) -> tuple[str, str, int]:
    """The ``(device, precision, batch)`` the figure shows: float32 when measured, and the GPU at its largest
    (throughput) batch when one was measured, as in the paper's figure; else the CPU at its smallest batch
    (batch 1, where the speed targets are defined; on the CPU larger batches do not raise throughput)."""
    devices = {r.setting.device for r in report.results}
    if not devices:
        raise ValueError("the report has no measurements")
    device = "cuda" if "cuda" in devices else "cpu"
    precisions = [p for p in report.precisions() if any(r.setting.device == device and r.setting.precision == p
                                                         for r in report.results)]
    precision = "fp32" if "fp32" in precisions else precisions[0]
    batches = [r.setting.batch for r in report.results if r.setting.device == device]
    return device, precision, max(batches) if device == "cuda" else min(batches)


def plot_pareto(report: BenchmarkReport, path: str | os.PathLike, accuracy: Mapping[str, tuple[float, str]],
                device: str | None = None, precision: str | None = None, batch: int | None = None) -> None:
    """Frames per second against FLOPs per frame for every efficiency row and, when ``accuracy`` knows some
    rows (``{key: (mpjpe_mm, source)}``), a second panel of MPJPE against frames per second with the Pareto
    front. The setting defaults to :func:`figure_setting`. Written atomically to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    auto = figure_setting(report)
    device = device or auto[0]
    precision = precision or auto[1]
    batch = batch or auto[2]
    rows = [(v, report.result(v.key, device, precision, batch)) for v in report.variants
            if "efficiency" in v.groups]
    rows = [(v, r) for v, r in rows if r is not None]
    if not rows:
        raise ValueError(f"no efficiency rows measured on {device} {precision} batch {batch}")
    known = [(v, r, accuracy[v.key]) for v, r in rows if v.key in accuracy]
    if known:
        fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(13, 5.8))
    else:
        fig, ax_cost = plt.subplots(1, 1, figsize=(8, 6.2))
    colors = plt.get_cmap("tab20").colors  # 20 distinct colours; circles DSTformer rows, squares SCT rows
    style = {v.key: (colors[i % len(colors)], "s" if v.key.startswith("sct") else "o")
             for i, (v, _) in enumerate(rows)}
    size = {"o": 110, "s": 55}  # a square drawn over a circle at the same place leaves the circle visible
    speed_label = f"frames per second ({device_name(report, device)}, {precision}, batch {batch})"
    for v, r in rows:
        c = report.costs.get(v.key)
        color, marker = style[v.key]
        ax_cost.scatter([c.mflops_per_frame / 1e3 if c else float("nan")], [r.fps], color=color, marker=marker,
                        s=size[marker], label=v.label, zorder=2 if marker == "s" else 1)
    ax_cost.set_xlabel("GFLOPs per frame (all matrix products)")
    ax_cost.set_ylabel(speed_label)
    ax_cost.set_title("Speed vs arithmetic")
    ax_cost.grid(alpha=0.3)
    fig.legend(*ax_cost.get_legend_handles_labels(), loc="lower center", ncol=4 if known else 3, fontsize=8,
               frameon=False)
    if known:
        points = [(r.fps, acc[0]) for _, r, acc in known]
        front = pareto_front(points)
        ax_acc.plot([points[i][0] for i in front], [points[i][1] for i in front], "k--", lw=1,
                    label="Pareto front", zorder=1)
        for (v, _r, (err, source)), (fps, _) in zip(known, points, strict=True):
            color, marker = style[v.key]
            ax_acc.scatter([fps], [err], color=color, marker=marker, s=size[marker], zorder=2)
            ax_acc.annotate(f"{v.label}\n({source})" if source else v.label, (fps, err),
                            textcoords="offset points", xytext=(6, 4), fontsize=7)
        ax_acc.legend(loc="upper right", fontsize=8)
        ax_acc.margins(x=0.35, y=0.25)
        ax_acc.set_xlim(left=0)
        ax_acc.set_xlabel(speed_label)
        ax_acc.set_ylabel("MPJPE (mm, lower is better; source in brackets)")
        ax_acc.set_title("Accuracy vs speed")
        ax_acc.grid(alpha=0.3)
    env = report.environment
    title = [device_name(report, device) if device == "cuda" else env.get("cpu"),
             f"torch {env['torch']}" if env.get("torch") else None,
             f"{env['threads']} thread(s)" if device == "cpu" and env.get("threads") else None,
             "clock: CUDA events" if device == "cuda" else f"clock: {report.cpu_clock}",
             f"{report.results[0].setting.frames} frames per clip"]
    fig.suptitle(", ".join(t for t in title if t), fontsize=9)
    legend_rows = math.ceil(len(rows) / (4 if known else 3))
    fig.tight_layout(rect=(0, min(0.3, 0.035 * legend_rows + 0.02), 1, 1))
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
