"""Export a lifting model (SCT, DSTformer, ...) to ONNX, verify it with ONNX Runtime, and time both.

The model is built from a YAML config (and loaded from a checkpoint when one is given), exported with the
torch.export-based exporter, run with ONNX Runtime on random clips, and compared with PyTorch: the file
is kept only if the largest absolute difference is within --tolerance. Batch size is dynamic; the frame
count is fixed (--frames), or any 1..maxlen in one file with --dynamic-frames, for every model (SCT with
spectral compression included: the graph then computes each layer's DCT operator and compressed length
from the input's frame count). A dynamic file is checked at 1, 2, 3, 7, about --frames/2, --frames,
maxlen-1 and maxlen frames, at batch 1 and 3; speed is timed at --frames.

Examples:
    python tools/export_onnx.py --checkpoint checkpoint/best_epoch.bin --out outputs/sct_243.onnx
    python tools/export_onnx.py --checkpoint checkpoint/best_epoch.bin --dynamic-frames \\
        --out outputs/sct_dynamic.onnx
    python tools/export_onnx.py --config configs/MB_train_h36m.yaml --override backbone=DSTformer \\
        --override "freq_prune_layer=[]" --dynamic-frames --out outputs/dstformer.onnx
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/MB_train_h36m.yaml", help="YAML config of the model")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, repeatable (e.g. backbone=DSTformer)")
    p.add_argument("--checkpoint", default=None,
                   help="weights to load (released layout or a bare state dict); default: random weights")
    p.add_argument("--out", required=True, help="ONNX file to write")
    p.add_argument("--frames", type=int, default=None,
                   help="frames per clip; with --dynamic-frames the example and timing length "
                        "(default: the config's maxlen)")
    p.add_argument("--dynamic-frames", action="store_true",
                   help="one file for any frame count 1..maxlen (all models, spectral compression included)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |ONNX Runtime - PyTorch| on the check clips (default 1e-4)")
    p.add_argument("--repeats", type=int, default=10,
                   help="timed runs for the PyTorch vs ONNX Runtime speed comparison; 0 skips it (default 10)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch and ONNX Runtime")
    p.add_argument("--no-optimize", action="store_true", help="skip the exporter's graph optimisation")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lib.model import build_model
    from lib.perf.onnx_export import (
        OnnxExportError,
        check_lengths,
        compare_speed,
        export_onnx,
        max_abs_difference,
        onnx_session,
    )
    from lib.utils.checkpoint import CheckpointError, load_model_weights
    from lib.utils.config import ConfigError, load_config

    try:
        if args.threads is not None:
            if args.threads < 1:
                raise ValueError("--threads must be >= 1")
            torch.set_num_threads(args.threads)
        if args.tolerance <= 0 or args.repeats < 0:
            raise ValueError("--tolerance must be > 0 and --repeats >= 0")
        cfg = load_config(args.config, args.override)
        model = build_model(cfg).eval()
        if args.checkpoint:
            load_model_weights(model, args.checkpoint, strict=True)
        frames = args.frames if args.frames is not None else int(cfg.maxlen)
        if not 1 <= frames <= int(cfg.maxlen):
            raise ValueError(f"--frames {frames} must be between 1 and maxlen={cfg.maxlen}")
    except (ValueError, ConfigError, CheckpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.checkpoint:
        print("note: no --checkpoint given, exporting random weights", file=sys.stderr)

    out = os.path.abspath(args.out)
    staging = os.path.join(os.path.dirname(out), f".staging_{os.getpid()}_{os.path.basename(out)}")
    try:
        ratios = getattr(model, "compress_ratios", [])
        print(f"exporting {type(model).__name__} (compression ratio per layer {ratios}; "
              f"{'dynamic' if args.dynamic_frames else frames} frames) ...", file=sys.stderr)
        export_onnx(model, staging, frames, dynamic_frames=args.dynamic_frames, opset=args.opset,
                    optimize=not args.no_optimize)
        session = onnx_session(staging, threads=args.threads)
        generator = torch.Generator().manual_seed(0)
        joints = int(cfg.num_joints)
        lengths = check_lengths(frames, int(cfg.maxlen), args.dynamic_frames)
        worst = 0.0
        for length in lengths:
            for batch in (1, 3):
                x = torch.randn(batch, length, joints, 3, generator=generator)
                diff = max_abs_difference(session, model, x)
                print(f"check: batch {batch}, {length} frames: max |ONNX - PyTorch| = {diff:.2e}")
                worst = max(worst, diff)
        if worst > args.tolerance:
            print(f"error: ONNX Runtime differs from PyTorch by {worst:.2e} > --tolerance {args.tolerance:g}; "
                  "the file was not written", file=sys.stderr)
            return 1
        if args.repeats:
            x = torch.randn(1, frames, joints, 3, generator=generator)
            speed = compare_speed(session, model, x, repeats=args.repeats)
            print(f"speed (CPU, float32, batch 1, {frames} frames, {torch.get_num_threads()} threads): "
                  f"PyTorch {speed.torch_fps:,.0f} FPS ({speed.torch_ms:.1f} ms), "
                  f"ONNX Runtime {speed.onnx_fps:,.0f} FPS ({speed.onnx_ms:.1f} ms), "
                  f"ratio {speed.onnx_fps / speed.torch_fps:.2f}x")
        os.replace(staging, out)
    except OnnxExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    print(f"wrote {out} ({os.path.getsize(out) / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
