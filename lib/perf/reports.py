"""A benchmark run as Markdown tables and CSV rows (and back from CSV), with the speed targets the caller
passes in checked against the measured ratios."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..utils.atomic_io import write_text_atomic
from .benchmark import BenchmarkReport
from .costs import Cost
from .timing import MODES, Result, Setting
from .variants import Variant

MIB = 2**20


def _num(x: float) -> str:
    """Three significant digits for small numbers, one decimal for large ones."""
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3g}"


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}×" if value and base else "–"


def _fmt_ms(r: Result | None) -> str:
    return f"{_num(r.median_ms)} ± {_num(r.spread_ms)}" if r else "–"


def _fmt_fps(r: Result | None) -> str:
    return f"{r.fps:,.0f}" if r else "–"


def _fmt_clips(r: Result | None) -> str:
    return _num(r.clips_per_s) if r else "–"


def _fmt_peak(r: Result | None) -> str:
    return f"{r.peak_bytes / MIB:,.0f}" if r is not None and r.peak_bytes is not None else "–"


def device_name(report: BenchmarkReport, device: str) -> str:
    """``'CPU'``, or the GPU's name for ``'cuda'``."""
    return report.environment.get("gpu", "GPU") if device == "cuda" else "CPU"


def precision_label(precision: str) -> str:
    """How a precision is written in tables: ``fp32`` on CUDA means TF32 off."""
    return {"bf16": "bf16 autocast", "tf32": "fp32 + TF32"}.get(precision, precision)


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


def _has_peak(report: BenchmarkReport, device: str) -> bool:
    return any(r.peak_bytes is not None for r in report.results if r.setting.device == device)


def speed_table(report: BenchmarkReport, device: str, batch: int) -> str:
    """Markdown table of the efficiency rows' speed for one device and batch size, per precision:
    milliseconds per call, (in the ``train`` mode clips per second,) frames per second, the ratio to the
    baseline's frames per second and (where measured: CUDA) the peak memory in MiB."""
    precisions = report.precisions(device)
    train, peak = report.mode == "train", _has_peak(report, device)
    unit = "ms/step" if train else "ms"
    head = ["Model"]
    for p in precisions:
        head += [f"{p} {unit}"] + ([f"{p} clips/s"] if train else []) + [f"{p} FPS", f"{p} × DSTformer"]
        head += [f"{p} peak MiB"] if peak else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in report.variants:
        if "efficiency" not in v.groups:
            continue
        row = [v.label]
        for p in precisions:
            r = report.result(v.key, device, p, batch)
            b = report.result(report.baseline, device, p, batch)
            row += [_fmt_ms(r)] + ([_fmt_clips(r)] if train else [])
            row += [_fmt_fps(r), _ratio(r.fps if r else None, b.fps if b else None)]
            row += [_fmt_peak(r)] if peak else []
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def implementation_table(report: BenchmarkReport, device: str, batch: int) -> str:
    """Markdown table: optimised SCT vs the plain reference, ratios vs the reference at float32."""
    base = report.result(report.reference, device, "fp32", batch)
    unit = "ms/step" if report.mode == "train" else "ms/forward"
    lines = [f"| Model | Precision | {unit} | FPS | × ReferenceSCT fp32 |", "|---|---|---|---|---|"]
    for v in report.variants:
        if "implementation" not in v.groups:
            continue
        for p in report.precisions(device):
            r = report.result(v.key, device, p, batch)
            if r is None:
                continue
            lines.append(f"| {v.label} | {precision_label(p)} | {_fmt_ms(r)} | {_fmt_fps(r)} | "
                         f"{_ratio(r.fps, base.fps if base else None)} |")
    return "\n".join(lines)


def speedup_table(report: BenchmarkReport, key: str = "sct") -> str | None:
    """Markdown table of ``key``'s frames per second over the baseline's, one line per (device, batch) and one
    column per precision; ``None`` when the two were never measured together."""
    precisions = report.precisions()
    lines = []
    for device, batch in report.settings():
        cells = []
        for p in precisions:
            r, b = report.result(key, device, p, batch), report.result(report.baseline, device, p, batch)
            cells.append(_ratio(r.fps if r else None, b.fps if b else None))
        if any(c != "–" for c in cells):
            lines.append(f"| {device_name(report, device)}, batch {batch} | " + " | ".join(cells) + " |")
    if not lines:
        return None
    return "\n".join(["| | " + " | ".join(precision_label(p) for p in precisions) + " |",
                      "|" + "---|" * (len(precisions) + 1), *lines])


@dataclass(frozen=True)
class Target:
    """A speed target: ``model`` at ``precision`` reaches at least ``at_least`` times the frames per second of
    ``versus`` at ``versus_precision``, on ``device`` at ``batch``, in a run of ``mode`` (``'inference'`` or
    ``'train'``)."""

    model: str
    precision: str
    versus: str
    versus_precision: str
    device: str
    batch: int
    at_least: float
    mode: str = "inference"


TARGET_FIELDS = ("model", "precision", "versus", "versus_precision", "device", "batch", "at_least")
"""The columns a targets CSV must have; an optional ``mode`` column says ``inference`` (default) or ``train``."""


def read_targets(path: str | os.PathLike) -> list[Target]:
    """Read a CSV with the columns of :data:`TARGET_FIELDS` (e.g. ``docs/benchmark_targets.csv``); lines
    starting with ``#`` are comments."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(line for line in f if not line.startswith("#"))
        missing = set(TARGET_FIELDS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                             f"expected a header '{','.join(TARGET_FIELDS)}'")
        targets = []
        for number, row in enumerate(reader, start=1):
            try:
                target = Target(row["model"], row["precision"], row["versus"], row["versus_precision"],
                                row["device"], int(row["batch"]), float(row["at_least"]),
                                row.get("mode") or "inference")
            except (TypeError, ValueError):
                raise ValueError(f"{path}: target {number}: batch must be an integer and at_least a number"
                                 ) from None
            if target.mode not in MODES:
                raise ValueError(f"{path}: target {number}: mode must be one of {', '.join(MODES)}, "
                                 f"got {target.mode!r}")
            targets.append(target)
    return targets


def target_checks(report: BenchmarkReport, targets: Sequence[Target]) -> list[tuple[Target, str, float]]:
    """``(target, description, measured ratio)`` for every target of the report's mode whose two rows were
    measured."""
    labels = {v.key: v.label for v in report.variants}
    checks = []
    for t in targets:
        if t.mode != report.mode:
            continue
        num = report.result(t.model, t.device, t.precision, t.batch)
        den = report.result(t.versus, t.device, t.versus_precision, t.batch)
        if num and den:
            text = (f"{labels.get(t.model, t.model)} {precision_label(t.precision)} vs "
                    f"{labels.get(t.versus, t.versus)} {precision_label(t.versus_precision)} "
                    f"({device_name(report, t.device)}, batch {t.batch})")
            checks.append((t, text, num.fps / den.fps))
    return checks


def markdown_report(report: BenchmarkReport, command: str = "", targets: Sequence[Target] = ()) -> str:
    """The whole run as Markdown: environment, the cost table, one speed table per (device, batch) and, where
    the plain reference was measured, one implementation table, SCT's speed-up over DSTformer, and the
    ``targets`` whose rows were measured."""
    out = io.StringIO()
    env = report.environment
    out.write(f"Command: `{command}`\n\n" if command else "")
    out.write("Environment: " + "; ".join(f"{k} {v}" for k, v in env.items()) + "\n\n")
    frames = report.results[0].setting.frames if report.results else 0
    if report.costs:
        out.write(f"### Cost — one clip of {frames} frames, batch 1\n\n")
        out.write(cost_table(report) + "\n\n" + COST_CONVENTIONS + "\n\n")
    what = "Training step (AdamW)" if report.mode == "train" else "Speed"
    for device, batch in report.settings():
        where = device_name(report, device)
        out.write(f"### {what} — {where}, batch {batch}, {frames} frames\n\n")
        out.write(speed_table(report, device, batch) + "\n\n")
        if report.result(report.reference, device, "fp32", batch) is not None:
            out.write(f"### Implementation — optimised SCT vs plain reference ({where}, batch {batch})\n\n")
            out.write(implementation_table(report, device, batch) + "\n\n")
    speedup = speedup_table(report)
    if speedup:
        out.write(f"### SCT's frames per second over DSTformer's ({report.mode})\n\n{speedup}\n\n")
    checks = target_checks(report, targets)
    if checks:
        out.write("Targets:\n\n")
        for target, text, ratio in checks:
            verdict = "met" if ratio >= target.at_least else "MISSED"
            out.write(f"- {text}: {ratio:.2f}× (target ≥ {target.at_least:g}×) — {verdict}\n")
        out.write("\n")
    return out.getvalue()


CSV_FIELDS = ("model", "label", "device", "precision", "batch", "frames", "median_ms", "spread_ms", "fps",
              "speedup_vs_baseline", "params", "gflops_per_clip", "gmacs_per_clip", "mflops_per_frame",
              "mmacs_per_frame", "attention_gflops_per_clip", "linear_gmacs_per_clip", "linear_mmacs_per_frame",
              "repeats", "machine", "torch", "threads", "clock", "mode", "clips_per_s", "peak_mib")
_REQUIRED_CSV_FIELDS = CSV_FIELDS[:10]
_COST_FIELDS = CSV_FIELDS[10:18]


def _sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (tiny test models and full-size models alike)."""
    return float(f"{x:.{digits}g}")


def csv_rows(report: BenchmarkReport) -> list[dict[str, Any]]:
    """One dict per measurement with the fields of :data:`CSV_FIELDS` (cost fields empty when not counted,
    ``peak_mib`` empty where not measured)."""
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
            **{name: cost.get(name, "") for name in _COST_FIELDS},
            "repeats": len(r.times_ms), "machine": device_name(report, s.device) if s.device == "cuda"
            else report.environment.get("cpu", ""),
            "torch": report.environment.get("torch", ""), "threads": report.environment.get("threads", ""),
            "clock": "CUDA events" if s.device == "cuda" else report.cpu_clock,
            "mode": report.mode, "clips_per_s": round(r.clips_per_s, 3),
            "peak_mib": "" if r.peak_bytes is None else round(r.peak_bytes / MIB, 1),
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
    cpu_clock, mode = "wall", rows[0].get("mode") or "inference"

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
        peak = round(float(row["peak_mib"]) * MIB) if row.get("peak_mib") else None
        results.append(Result(key, row["label"], setting, [float(row["median_ms"])], peak))
        environment.setdefault("gpu" if setting.device == "cuda" else "cpu", row.get("machine", ""))
        for name in ("torch", "threads"):
            environment.setdefault(name, row.get(name) or "")
        if setting.device == "cpu" and row.get("clock"):
            cpu_clock = row["clock"]
    return BenchmarkReport(list(variants.values()), costs, results, environment, cpu_clock=cpu_clock, mode=mode)


def write_csv(report: BenchmarkReport, path: str | os.PathLike) -> None:
    """Write :func:`csv_rows` to ``path`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    write_text_atomic(path, buffer.getvalue())
