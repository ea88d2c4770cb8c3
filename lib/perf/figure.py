"""The Pareto figure: frames per second against FLOPs per frame, and MPJPE against frames per second."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from ..utils.atomic_io import atomic_path
from .benchmark import BenchmarkReport
from .reports import device_name


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
    speed_label = (("training " if report.mode == "train" else "")
                   + f"frames per second ({device_name(report, device)}, {precision}, batch {batch})")
    # small models cost a few MFLOPs per frame: their GFLOP tick labels would run into each other
    mflops = [c.mflops_per_frame for c in report.costs.values()]
    unit, scale = ("GFLOPs", 1e3) if mflops and max(mflops) >= 100 else ("MFLOPs", 1.0)
    for v, r in rows:
        c = report.costs.get(v.key)
        color, marker = style[v.key]
        ax_cost.scatter([c.mflops_per_frame / scale if c else float("nan")], [r.fps], color=color, marker=marker,
                        s=size[marker], label=v.label, zorder=2 if marker == "s" else 1)
    ax_cost.set_xlabel(f"{unit} per frame (all matrix products)")
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
