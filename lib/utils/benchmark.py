"""Inference speed and cost of pose-lifting models, measured side by side in one run.

A benchmark is a list of :class:`Variant` (a name and a model factory) and a list of :class:`Setting`
(device, precision, batch size). For each setting every model is warmed up, then the repeats are
*interleaved* (model A, B, C, A, B, C, ...) so that a change of machine load hits all rows alike, and
the median time per forward pass is kept. CPU times come from ``time.perf_counter``; CUDA times from CUDA
events around each call (after a synchronise). Frames per second = ``batch * T / median``.

Ratios are reported against a baseline row (MotionBERT's DSTformer for the efficiency study; the plain
:class:`tests.reference_sct.ReferenceSCT` for the implementation speed-up of issue 2).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lib.model import build_model

from .atomic_io import atomic_path, write_text_atomic
from .cpu_inference import prepack_linear_layers
from .flops import count_flops, count_parameters

PRECISIONS = ("fp32", "bf16")
RELEASED_MODEL = dict(dim_feat=512, dim_rep=512, depth=5, num_heads=8, mlp_ratio=2, maxlen=243, num_joints=17,
                      att_fuse=True)


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
    """Size and arithmetic of one variant for one clip of ``frames`` frames."""

    params: int
    gflops: float
    attention_gflops: float
    linear_gmacs: float
    frames: int

    @property
    def mmacs_per_frame(self) -> float:
        return self.gflops * 1e3 / 2 / self.frames


def model_config(backbone: str, dct_ratio: float = 1.0, layers: Sequence[int] = (),
                 base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A model config (the released sizes unless ``base`` says otherwise) for :func:`lib.model.build_model`."""
    cfg = dict(RELEASED_MODEL if base is None else base)
    cfg.update(backbone=backbone, dct_ratio=float(dct_ratio), freq_prune_layer=list(layers))
    return cfg


def standard_variants(base: Mapping[str, Any] | None = None,
                      reference_factory: Callable[[Mapping[str, Any]], nn.Module] | None = None) -> list[Variant]:
    """The rows of the efficiency study: DSTformer, DSTformer with SCT's spectral compression plugged in,
    SCT without and with compression (the released model), and optionally the plain reference SCT.

    Args:
        base: model sizes (default: the released configuration, :data:`RELEASED_MODEL`).
        reference_factory: builds the plain reference implementation from an SCT config (it lives in the
            tests, so the caller passes it in); omitted, the implementation table has no baseline.
    """
    depth = int((base or RELEASED_MODEL)["depth"])
    every = list(range(depth))
    last_two = every[-2:]

    def make(cfg: dict[str, Any]) -> Callable[[], nn.Module]:
        return lambda: build_model(cfg)

    rows = [
        Variant("dstformer", "DSTformer (MotionBERT)", make(model_config("DSTformer", base=base)),
                "baseline: pre-norm residuals, no compression"),
    ]
    plugins = [(0.8, every, "all"), (0.6, every, "all"), (0.4, every, "all")]
    if last_two != every:
        plugins.append((0.6, last_two, "last 2"))
    for ratio, layers, tag in plugins:
        key = f"dstformer_sc{ratio:g}" + ("" if layers == every else "_last2")
        rows.append(Variant(key, f"DSTformer + SC σ={ratio:g} ({tag} layers)",
                            make(model_config("DSTformer", ratio, layers, base)),
                            f"SCT's spectral compression plugged into layers {layers}"))
    rows.append(Variant("sct_sigma1", "SCT σ=1 (no compression)", make(model_config("SCT", 1.0, (), base)),
                        "Line Pose Graph and normed residuals only"))
    sct_cfg = model_config("SCT", 0.6, every, base)
    rows.append(Variant("sct", "SCT (released, σ=0.6)", make(sct_cfg), "the released configuration",
                        groups=("efficiency", "implementation")))
    if reference_factory is not None:
        rows.append(Variant("reference_sct", "ReferenceSCT (plain)", lambda: reference_factory(sct_cfg),
                            "FFT-DCT + explicit-softmax reference (tests/reference_sct.py)",
                            groups=("implementation",), precisions=("fp32",), plain=True))
    if len({v.key for v in rows}) != len(rows):
        raise AssertionError("variant keys must be unique")
    return rows


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


def measure_costs(variants: Iterable[Variant], frames: int) -> dict[str, Cost]:
    """Parameters and FLOPs (one clip, batch 1, float32, CPU) of every variant."""
    costs = {}
    for variant in variants:
        model = variant.factory().eval()
        x = torch.randn(1, frames, getattr(model, "num_joints", 17), 3)
        count = count_flops(model, x)
        costs[variant.key] = Cost(params=count_parameters(model), gflops=count.flops / 1e9,
                                  attention_gflops=count.attention_flops / 1e9,
                                  linear_gmacs=count.linear_macs / 1e9, frames=frames)
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


def count_calls(variants: Sequence[Variant], settings: Sequence[Setting], warmup: int, repeats: int) -> int:
    """Forward passes :func:`run_benchmark` makes (for a progress bar)."""
    return sum((warmup + repeats) * sum(s.precision in v.precisions for v in variants) for s in settings)


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
        progress: called once per timed or warm-up forward pass (:func:`count_calls` of them in all).
        clock: ``'wall'`` or ``'process'`` (CPU time; see :func:`time_call`). CUDA always uses events.
        prepack_linear: run the linear layers of every non-``plain`` row on oneDNN with packed weights
            (:func:`lib.utils.cpu_inference.prepack_linear_layers`; affects CPU float32 only).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError("need repeats >= 1 and warmup >= 0")
    costs = measure_costs(variants, settings[0].frames) if count_cost else {}
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
                device_models[variant.key] = torch.compile(model) if compile_models else model
            models = {setting.device: device_models}  # one device's models at a time
        chosen = {v.key: device_models[v.key] for v in variants if setting.precision in v.precisions}
        labels = {v.key: v.label for v in variants}
        results.extend(measure_setting(chosen, labels, setting, warmup, repeats, progress=progress, clock=clock))
    environment = describe_environment(settings[0].device)
    environment["compile"] = str(compile_models)
    environment["clock"] = "CUDA events" if settings[0].device == "cuda" else clock
    environment["prepacked linear (oneDNN)"] = ("yes, all rows but the plain reference" if prepack_linear
                                                else "no")
    environment["warmup"], environment["repeats"] = str(warmup), str(repeats)
    return BenchmarkReport(list(variants), costs, results, environment, baseline=baseline)


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


def describe_environment(device: str) -> dict[str, str]:
    """Date, machine, library versions and threads: what a reader needs to compare numbers."""
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu_model_name()} ({os.cpu_count()} logical cores)",
        "torch": torch.__version__,
        "threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
    }
    if device == "cuda" and torch.cuda.is_available():
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


def efficiency_table(report: BenchmarkReport, device: str, batch: int) -> str:
    """Markdown table of the efficiency rows for one device and batch size, ratios vs the baseline."""
    precisions = report.precisions()
    head = ["Model", "Params (M)", "GFLOPs/clip", "MMACs/frame", "Linear GMACs/clip (thop)"]
    for p in precisions:
        head += [f"{p} ms", f"{p} FPS", f"{p} × DSTformer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in report.variants:
        if "efficiency" not in v.groups:
            continue
        c = report.costs.get(v.key)
        row = [v.label] + ([_num(c.params / 1e6), _num(c.gflops), _num(c.mmacs_per_frame), _num(c.linear_gmacs)]
                           if c else ["–"] * 4)
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
    """The whole run as Markdown: environment, one efficiency table and one implementation table per
    (device, batch), and the target checks."""
    out = io.StringIO()
    env = report.environment
    out.write(f"Command: `{command}`\n\n" if command else "")
    out.write("Environment: " + "; ".join(f"{k} {v}" for k, v in env.items()) + "\n\n")
    frames = report.results[0].setting.frames if report.results else 0
    for device, batch in report.settings():
        where = env.get("gpu", "GPU") if device == "cuda" else "CPU"
        out.write(f"### Efficiency — {where}, batch {batch}, {frames} frames\n\n")
        out.write(efficiency_table(report, device, batch) + "\n\n")
        if any("implementation" in v.groups for v in report.variants):
            out.write(f"### Implementation — optimised SCT vs plain reference ({where}, batch {batch})\n\n")
            out.write(implementation_table(report, device, batch) + "\n\n")
        checks = target_checks(report, device, batch)
        if checks:
            out.write(f"Targets ({where}, batch {batch}):\n\n")
            for text, ratio, target in checks:
                verdict = "met" if ratio >= target else "MISSED"
                out.write(f"- {text}: {ratio:.2f}× (target ≥ {target:g}×) — {verdict}\n")
            out.write("\n")
    return out.getvalue()


CSV_FIELDS = ("model", "label", "device", "precision", "batch", "frames", "median_ms", "spread_ms", "fps",
              "speedup_vs_baseline", "params", "gflops_per_clip", "attention_gflops_per_clip",
              "mmacs_per_frame", "linear_gmacs_per_clip", "repeats", "machine", "torch", "threads",
              "clock")


def csv_rows(report: BenchmarkReport) -> list[dict[str, Any]]:
    """One dict per measurement with the fields of :data:`CSV_FIELDS`."""
    rows = []
    for r in report.results:
        s = r.setting
        base = report.result(report.baseline, s.device, s.precision, s.batch)
        c = report.costs.get(r.key)
        rows.append({
            "model": r.key, "label": r.label, "device": s.device, "precision": s.precision, "batch": s.batch,
            "frames": s.frames, "median_ms": round(r.median_ms, 3), "spread_ms": round(r.spread_ms, 3),
            "fps": round(r.fps, 2), "speedup_vs_baseline": round(r.fps / base.fps, 4) if base else "",
            "params": c.params if c else "", "gflops_per_clip": round(c.gflops, 4) if c else "",
            "attention_gflops_per_clip": round(c.attention_gflops, 4) if c else "",
            "mmacs_per_frame": round(c.mmacs_per_frame, 2) if c else "",
            "linear_gmacs_per_clip": round(c.linear_gmacs, 4) if c else "", "repeats": len(r.times_ms),
            "machine": report.environment.get("gpu" if s.device == "cuda" else "cpu", ""),
            "torch": report.environment.get("torch", ""), "threads": report.environment.get("threads", ""),
            "clock": report.environment.get("clock", ""),
        })
    return rows


def read_csv_report(path: str | os.PathLike) -> BenchmarkReport:
    """Rebuild a report (medians only, no model factories) from a CSV written by :func:`write_csv`, e.g. to
    redraw the figure without measuring again."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(CSV_FIELDS[:10]) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a benchmark CSV (missing {', '.join(sorted(missing))})")
        rows = list(reader)
    variants, costs, results, environment = {}, {}, [], {}

    def unavailable() -> nn.Module:
        raise RuntimeError("a variant read from CSV cannot build its model")

    for row in rows:
        key = row["model"]
        groups = ("implementation",) if key == "reference_sct" else ("efficiency",)
        variants.setdefault(key, Variant(key, row["label"], unavailable, groups=groups))
        if row.get("params"):
            frames = int(row["frames"])
            costs[key] = Cost(params=int(row["params"]), gflops=float(row["gflops_per_clip"]),
                              attention_gflops=float(row["attention_gflops_per_clip"] or 0),
                              linear_gmacs=float(row["linear_gmacs_per_clip"] or 0), frames=frames)
        setting = Setting(row["device"], row["precision"], int(row["batch"]), int(row["frames"]))
        results.append(Result(key, row["label"], setting, [float(row["median_ms"])]))
        environment.setdefault("gpu" if setting.device == "cuda" else "cpu", row.get("machine", ""))
        for name in ("torch", "threads", "clock"):
            environment.setdefault(name, row.get(name) or "")
    return BenchmarkReport(list(variants.values()), costs, results, environment)


def write_csv(report: BenchmarkReport, path: str | os.PathLike) -> None:
    """Write :func:`csv_rows` to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    write_text_atomic(path, buffer.getvalue())


# ----------------------------------------------------------------------------------------------- figure

def read_accuracy(path: str | os.PathLike) -> dict[str, tuple[float, str]]:
    """Read ``model,mpjpe_mm,source`` rows (``model`` = a variant key) into ``{key: (mpjpe, source)}``."""
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


def plot_pareto(report: BenchmarkReport, path: str | os.PathLike, accuracy: Mapping[str, tuple[float, str]],
                device: str = "cpu", precision: str = "fp32", batch: int = 1) -> None:
    """Two panels: speed vs cost of every efficiency row, and MPJPE vs speed (with the Pareto front) of the
    rows whose accuracy is known. Written atomically to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(v, report.result(v.key, device, precision, batch)) for v in report.variants
            if "efficiency" in v.groups]
    rows = [(v, r) for v, r in rows if r is not None]
    if not rows:
        raise ValueError(f"no efficiency rows measured on {device} {precision} batch {batch}")
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(13, 5.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    style = {v.key: (colors[i % len(colors)], "s" if v.key.startswith("sct") else "o") for i, (v, _) in enumerate(rows)}
    for v, r in rows:
        c = report.costs.get(v.key)
        x = c.mmacs_per_frame / 1e3 if c else float("nan")
        color, marker = style[v.key]
        ax_cost.scatter([x], [r.fps], color=color, marker=marker, s=70, label=v.label)
    ax_cost.set_xlabel("GMACs per frame (all matrix products)")
    ax_cost.set_ylabel(f"frames per second ({device}, {precision}, batch {batch})")
    ax_cost.set_title("Speed vs arithmetic")
    ax_cost.grid(alpha=0.3)
    fig.legend(*ax_cost.get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8, frameon=False)

    known = [(v, r, accuracy[v.key]) for v, r in rows if v.key in accuracy]
    if known:
        points = [(r.fps, acc[0]) for _, r, acc in known]
        front = pareto_front(points)
        ax_acc.plot([points[i][0] for i in front], [points[i][1] for i in front], "k--", lw=1,
                    label="Pareto front", zorder=1)
        for (v, _r, (err, source)), (fps, _) in zip(known, points, strict=True):
            color, marker = style[v.key]
            ax_acc.scatter([fps], [err], color=color, marker=marker, s=70, zorder=2)
            ax_acc.annotate(f"{v.label}\n({source})" if source else v.label, (fps, err),
                            textcoords="offset points", xytext=(6, 4), fontsize=7)
        ax_acc.legend(loc="upper right", fontsize=8)
        ax_acc.margins(x=0.35, y=0.25)
        ax_acc.set_xlim(left=0)
    else:
        ax_acc.text(0.5, 0.5, "no accuracy figures given (--accuracy)", ha="center", va="center",
                    transform=ax_acc.transAxes)
    ax_acc.set_xlabel(f"frames per second ({device}, {precision}, batch {batch})")
    ax_acc.set_ylabel("MPJPE on Human3.6M (mm, lower is better)")
    ax_acc.set_title("Accuracy vs speed")
    ax_acc.grid(alpha=0.3)
    env = report.environment
    machine = env.get("gpu" if device == "cuda" else "cpu")
    title = [machine, f"torch {env['torch']}" if env.get("torch") else None,
             f"{env['threads']} thread(s)" if device == "cpu" and env.get("threads") else None,
             f"clock: {env['clock']}" if env.get("clock") else None,
             f"{report.results[0].setting.frames} frames per clip"]
    fig.suptitle(", ".join(t for t in title if t), fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
