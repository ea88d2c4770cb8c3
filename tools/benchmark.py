"""Benchmark DSTformer, DSTformer + SCT's spectral compression, SCT at several σ and the plain reference SCT
in one run.

Prints (and writes as Markdown and CSV) the parameters and FLOPs of every model, and its milliseconds and
frames per second at batch 1 and at throughput batches, float32 and bfloat16 (on CUDA also float32 with
TF32), on the CPU and on CUDA when a GPU is visible, with ratios to DSTformer beside each row and SCT's
speed-up over DSTformer per setting; with --train the same for one AdamW training step, with clips per
second and (on CUDA) peak memory; optionally draws the Pareto figure.

Examples:
    python tools/benchmark.py                                  # CPU (+ CUDA if present), default rows
    python tools/benchmark.py --device cuda                    # GPU only: batch 1, 64, 256; fp32, tf32, bf16
    python tools/benchmark.py --device cuda --train            # GPU training step: batch 16, 64
    python tools/benchmark.py --models dstformer,sct,sct_sigma0.45,sct_sigma0.6_layers3+4 --batch-sizes 1
    python tools/benchmark.py --figure figure/pareto_frontier.png --accuracy docs/benchmark_accuracy.csv \\
        --results sct=checkpoint/best_epoch_results.json
"""

from __future__ import annotations

import argparse
import shlex
import sys

MODEL_KEYS = ("dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "num_joints", "att_fuse")
DEVICES = ("cpu", "cuda")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from lib.perf.benchmark import DEFAULT_BATCHES, DEFAULT_PRECISIONS, DEFAULT_REPEATS, DEFAULT_TRAIN_BATCHES
    from lib.perf.variants import CUDA_DEFAULT_KEYS, VARIANT_KEY_HELP, default_variant_keys

    def per_device(table: dict) -> str:
        return ", ".join(f"{','.join(map(str, v))} on {d.upper()}" for d, v in table.items())

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None,
                   help="where to time the models: cpu, cuda or cpu,cuda (default: the CPU, plus CUDA when a GPU "
                        "is visible)")
    p.add_argument("--train", action="store_true",
                   help="time one training step (forward, the release's loss, backward, AdamW update) instead of "
                        "one forward pass; reports clips/s, frames/s and, on CUDA, peak memory")
    p.add_argument("--precisions", default=None,
                   help="comma list of fp32 (on CUDA: TF32 off), tf32 (CUDA only: float32 with TF32 matrix "
                        "products) and bf16 (bfloat16 autocast); default: " + per_device(DEFAULT_PRECISIONS))
    p.add_argument("--batch-sizes", default=None,
                   help="comma list of batch sizes for every device; default: latency and throughput, "
                        + per_device(DEFAULT_BATCHES) + "; with --train " + per_device(DEFAULT_TRAIN_BATCHES))
    p.add_argument("--frames", type=int, default=243, help="frames per clip (default 243, at most maxlen)")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed calls per model and setting (default 2; at least 1 with --compile)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per model and setting, interleaved across models; the median is reported "
                        "(default: " + ", ".join(f"{n} on {d.upper()}" for d, n in DEFAULT_REPEATS.items()) + ")")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--clock", choices=("wall", "process"), default="wall",
                   help="CPU timing: wall clock (default) or this process's CPU time, which with --threads 1 is "
                        "the compute time even when other programs load the machine")
    p.add_argument("--prepack-linear", action=argparse.BooleanOptionalAction, default=True,
                   help="run the linear layers of every row except the plain reference on oneDNN with packed "
                        "weights, as evaluation and the demo do (CPU float32 inference only; see "
                        "lib/perf/cpu_inference.py); --no-prepack-linear times plain eager PyTorch (default: on)")
    p.add_argument("--compile", action="store_true", help="wrap every model in torch.compile before timing")
    p.add_argument("--compile-mode", choices=("default", "reduce-overhead", "max-autotune"), default="default",
                   help="torch.compile's mode with --compile (reduce-overhead: CUDA graphs); default: default")
    p.add_argument("--config", default=None,
                   help="YAML config whose model sizes (dim_feat, depth, ...) replace the released ones")
    p.add_argument("--models", default=None,
                   help="comma list of rows to run on every device. Keys: " + VARIANT_KEY_HELP
                        + ". Default (depth 5): on the CPU " + ", ".join(default_variant_keys(5))
                        + "; on CUDA " + ", ".join(CUDA_DEFAULT_KEYS))
    p.add_argument("--no-flops", action="store_true", help="skip counting parameters and FLOPs")
    p.add_argument("--targets", default=None,
                   help="CSV of speed targets to check in the report (columns model, precision, versus, "
                        "versus_precision, device, batch, at_least; e.g. docs/benchmark_targets.csv)")
    p.add_argument("--out-md", default="outputs/benchmark/benchmark.md",
                   help="Markdown report to write (default outputs/benchmark/benchmark.md)")
    p.add_argument("--out-csv", default="outputs/benchmark/benchmark.csv",
                   help="CSV of every measurement (default outputs/benchmark/benchmark.csv)")
    p.add_argument("--figure", default=None,
                   help="also draw the Pareto figure (PNG) to this path: frames per second against FLOPs, and "
                        "against MPJPE for the rows whose accuracy is given (--results, --accuracy); it shows "
                        "the GPU at its largest batch if one was timed, else the CPU at batch 1, at float32")
    p.add_argument("--results", action="append", default=[], metavar="NAME=PATH",
                   help="MPJPE of row NAME for the figure, from an evaluation JSON of train.py "
                        "(<checkpoint>_results.json); repeatable; overrides --accuracy for that row")
    p.add_argument("--accuracy", default=None,
                   help="CSV 'model,mpjpe_mm,source' of known accuracies (e.g. published ones, "
                        "docs/benchmark_accuracy.csv) for the figure")
    p.add_argument("--replot", default=None, metavar="CSV",
                   help="measure nothing: redraw --figure from a CSV written by an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def _int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag} must be a comma list of integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"{flag} must list positive integers, got {text!r}")
    return values


def _devices(text: str | None, cuda_available: bool) -> list[str]:
    if text is None:
        return ["cpu", "cuda"] if cuda_available else ["cpu"]
    devices = list(dict.fromkeys(d.strip() for d in text.split(",") if d.strip()))
    unknown = [d for d in devices if d not in DEVICES]
    if unknown or not devices:
        raise ValueError(f"--device: unknown {', '.join(unknown) or repr(text)}; use cpu, cuda or cpu,cuda")
    if "cuda" in devices and not cuda_available:
        raise ValueError("--device cuda: no CUDA device is visible to torch; run on a GPU machine or use "
                         "--device cpu")
    return devices


def _accuracies(args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """``--accuracy`` rows, then ``--results`` files on top."""
    from lib.perf.accuracy import read_accuracy, read_results_json

    accuracy = read_accuracy(args.accuracy) if args.accuracy else {}
    for item in args.results:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--results expects NAME=PATH (a row key and an evaluation JSON), got {item!r}")
        accuracy[name] = read_results_json(path)
    return accuracy


def _check_result_rows(given: list[str], variants) -> None:
    """Every ``--results`` NAME must be a plotted (efficiency) row."""
    known = [v.key for v in variants if "efficiency" in v.groups]
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(f"--results: {', '.join(unknown)} is not a row of this run; rows: {', '.join(known)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lib.perf import benchmark as bench
    from lib.perf.figure import plot_pareto
    from lib.perf.reference_sct import ReferenceSCT
    from lib.perf.reports import markdown_report, read_csv_report, read_targets, write_csv
    from lib.perf.timing import PRECISIONS
    from lib.perf.variants import RELEASED_MODEL, default_keys_for_device, standard_variants
    from lib.utils.atomic_io import write_text_atomic
    from lib.utils.config import ConfigError, load_config

    try:
        precisions = None
        if args.precisions is not None:
            precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
            bad = [p for p in precisions if p not in PRECISIONS]
            if bad or not precisions:
                raise ValueError(f"--precisions: unknown {bad or precisions}; use fp32, tf32 and/or bf16")
        batches = _int_list(args.batch_sizes, "--batch-sizes") if args.batch_sizes else None
        if args.warmup < 0 or (args.repeats is not None and args.repeats < 1):
            raise ValueError("--warmup must be >= 0 and --repeats >= 1")
        if (args.compile or "@" in (args.models or "")) and args.warmup < 1:
            raise ValueError("--compile and @compile/@cudagraphs rows compile during the warm-up: use --warmup 1 "
                             "or more")
        if args.threads is not None and args.threads < 1:
            raise ValueError("--threads must be >= 1")
        result_names = [item.partition("=")[0] for item in args.results]
        accuracy = _accuracies(args)
        targets = read_targets(args.targets) if args.targets else []
        if args.replot:
            if not args.figure:
                raise ValueError("--replot needs --figure (the PNG to draw)")
            old = read_csv_report(args.replot)
            _check_result_rows(result_names, old.variants)
            plot_pareto(old, args.figure, accuracy)
            print(f"wrote {args.figure}", file=sys.stderr)
            return 0
        devices = _devices(args.device, torch.cuda.is_available())
        if precisions is not None and set(precisions) == {"tf32"} and devices == ["cpu"]:
            raise ValueError("--precisions tf32 is a CUDA setting; on the CPU use fp32 and/or bf16")
        base = dict(RELEASED_MODEL)
        if args.config:
            cfg = load_config(args.config)
            base = {k: cfg[k] for k in MODEL_KEYS}
        if not 1 <= args.frames <= int(base["maxlen"]):
            raise ValueError(f"--frames {args.frames} must be between 1 and maxlen={base['maxlen']}")
        keys = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
        keys_by_device = None
        if keys is None:
            keys_by_device = {d: default_keys_for_device(d, int(base["depth"])) for d in devices}
            keys = list(dict.fromkeys(k for d in devices for k in keys_by_device[d]))
        try:
            variants = standard_variants(base, reference_factory=lambda c: ReferenceSCT(**c), keys=keys)
        except ValueError as exc:
            raise ValueError(f"--models: {exc}") from None
        _check_result_rows(result_names, variants)
        if any(v.compile_mode == "reduce-overhead" for v in variants) and devices != ["cuda"]:
            raise ValueError("--models: @cudagraphs rows need --device cuda")
    except (ValueError, ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    mode = "train" if args.train else "inference"
    settings, notes = bench.plan_settings(devices, args.frames, precisions, batches, mode,
                                          bf16_on_cuda="cuda" not in devices or torch.cuda.is_bf16_supported())
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    repeats = args.repeats if args.repeats is not None else {d: bench.DEFAULT_REPEATS[d] for d in devices}
    total = bench.count_calls(variants, settings, args.warmup, repeats, count_cost=not args.no_flops,
                              keys_by_device=keys_by_device)
    from tqdm import tqdm

    with tqdm(total=total, desc="benchmark", unit="step", disable=args.no_progress, file=sys.stderr) as bar:
        report = bench.run_benchmark(variants, settings, warmup=args.warmup, repeats=repeats,
                                     compile_models=args.compile, compile_mode=args.compile_mode,
                                     count_cost=not args.no_flops, progress=lambda: bar.update(1),
                                     clock=args.clock, prepack_linear=args.prepack_linear, mode=mode,
                                     keys_by_device=keys_by_device)
    command = "python tools/benchmark.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                                                  else sys.argv[1:]))
    text = markdown_report(report, command.strip(), targets)
    print(text)
    write_text_atomic(args.out_md, text)
    write_csv(report, args.out_csv)
    written = [args.out_md, args.out_csv]
    if args.figure:
        plot_pareto(report, args.figure, accuracy)
        written.append(args.figure)
    print("wrote " + ", ".join(written), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
