"""Benchmark DSTformer, DSTformer + SCT's spectral compression, SCT and the plain reference SCT in one run.

Prints (and writes) Markdown tables with parameters, FLOPs, milliseconds and frames per second of every
model, ratios vs DSTformer and vs the plain reference, and the speed targets of issues 2 and 6.

Examples:
    python tools/benchmark.py                                   # CPU, batch 1, fp32 + bf16, 243 frames
    python tools/benchmark.py --device cuda --batch-sizes 1,64  # GPU: latency and throughput
    python tools/benchmark.py --figure figure/pareto_frontier.png --accuracy docs/benchmark_accuracy.csv
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL_KEYS = ("dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "num_joints", "att_fuse")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to time the models (default cpu)")
    p.add_argument("--precisions", default="fp32,bf16",
                   help="comma list of fp32 and/or bf16 (bfloat16 autocast); default fp32,bf16")
    p.add_argument("--batch-sizes", default=None,
                   help="comma list of batch sizes; default 1 on the CPU, 1,64 on CUDA (latency and throughput)")
    p.add_argument("--frames", type=int, default=243, help="frames per clip (default 243, at most maxlen)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per model and setting (default 2)")
    p.add_argument("--repeats", type=int, default=10,
                   help="timed calls per model and setting, interleaved across models; the median is reported "
                        "(default 10)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--clock", choices=("wall", "process"), default="wall",
                   help="CPU timing: wall clock (default) or this process's CPU time, which with --threads 1 is "
                        "the compute time even when other programs load the machine")
    p.add_argument("--prepack-linear", action=argparse.BooleanOptionalAction, default=True,
                   help="run the linear layers of every row except the plain reference on oneDNN with packed "
                        "weights, as evaluation and the demo do (CPU float32 only; see "
                        "lib/utils/cpu_inference.py); --no-prepack-linear times plain eager PyTorch (default: on)")
    p.add_argument("--compile", action="store_true", help="wrap every model in torch.compile before timing")
    p.add_argument("--config", default=None,
                   help="YAML config whose model sizes (dim_feat, depth, ...) replace the released ones")
    p.add_argument("--models", default=None,
                   help="comma list of row keys to run (default all): dstformer, dstformer_sc0.8, dstformer_sc0.6, "
                        "dstformer_sc0.4, dstformer_sc0.6_last2, sct_sigma1, sct, reference_sct")
    p.add_argument("--no-flops", action="store_true", help="skip counting parameters and FLOPs")
    p.add_argument("--out-md", default="outputs/benchmark/benchmark.md", help="Markdown report to write")
    p.add_argument("--out-csv", default="outputs/benchmark/benchmark.csv", help="CSV of every measurement")
    p.add_argument("--figure", default=None, help="also draw the Pareto figure (PNG) to this path")
    p.add_argument("--accuracy", default=None,
                   help="CSV 'model,mpjpe_mm,source' of known accuracies for the figure's accuracy panel")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lib.utils import benchmark as bench
    from lib.utils.atomic_io import write_text_atomic
    from lib.utils.config import ConfigError, load_config
    from tests.reference_sct import ReferenceSCT

    try:
        precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
        bad = [p for p in precisions if p not in bench.PRECISIONS]
        if bad or not precisions:
            raise ValueError(f"--precisions: unknown {bad or precisions}; use fp32 and/or bf16")
        default_batches = "1" if args.device == "cpu" else "1,64"
        batches = _int_list(args.batch_sizes or default_batches, "--batch-sizes")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is visible to torch; run on a GPU machine or use "
                             "--device cpu")
        if args.warmup < 0 or args.repeats < 1:
            raise ValueError("--warmup must be >= 0 and --repeats >= 1")
        if args.threads is not None:
            if args.threads < 1:
                raise ValueError("--threads must be >= 1")
            torch.set_num_threads(args.threads)
        base = dict(bench.RELEASED_MODEL)
        if args.config:
            cfg = load_config(args.config)
            base = {k: cfg[k] for k in MODEL_KEYS}
        if not 1 <= args.frames <= int(base["maxlen"]):
            raise ValueError(f"--frames {args.frames} must be between 1 and maxlen={base['maxlen']}")
        variants = bench.standard_variants(base, reference_factory=lambda c: ReferenceSCT(**c))
        if args.models:
            wanted = [m.strip() for m in args.models.split(",") if m.strip()]
            known = [v.key for v in variants]
            unknown = [m for m in wanted if m not in known]
            if unknown:
                raise ValueError(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(known)}")
            variants = [v for v in variants if v.key in wanted]
        accuracy = bench.read_accuracy(args.accuracy) if args.accuracy else {}
        if args.replot:
            if not args.figure:
                raise ValueError("--replot needs --figure (the PNG to draw)")
            old = bench.read_csv_report(args.replot)
            bench.plot_pareto(old, args.figure, accuracy, device=args.device, precision=precisions[0],
                              batch=batches[0])
            print(f"wrote {args.figure}", file=sys.stderr)
            return 0
    except (ValueError, ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    settings = [bench.Setting(args.device, p, b, args.frames) for b in batches for p in precisions]
    total = bench.count_calls(variants, settings, args.warmup, args.repeats)
    from tqdm import tqdm

    with tqdm(total=total, desc="forward passes", disable=args.no_progress, file=sys.stderr) as bar:
        report = bench.run_benchmark(variants, settings, warmup=args.warmup, repeats=args.repeats,
                                     compile_models=args.compile, count_cost=not args.no_flops,
                                     progress=lambda: bar.update(1), clock=args.clock,
                                     prepack_linear=args.prepack_linear)
    command = "python tools/benchmark.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                                                  else sys.argv[1:]))
    text = bench.markdown_report(report, command.strip())
    print(text)
    write_text_atomic(args.out_md, text)
    bench.write_csv(report, args.out_csv)
    written = [args.out_md, args.out_csv]
    if args.figure:
        bench.plot_pareto(report, args.figure, accuracy, device=args.device, precision=precisions[0],
                          batch=batches[0])
        written.append(args.figure)
    print("wrote " + ", ".join(written), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
