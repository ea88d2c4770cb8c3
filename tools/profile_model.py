"""Profile a lifting model (SCT, DSTformer, ...) with torch.profiler: its forward pass or one training step.

The model is built from a YAML config with random weights and run on random clips; the table lists the
operators by self time summed over --steps calls, after --warmup untimed ones.

Examples:
    python tools/profile_model.py                           # released SCT, forward, batch 1, 243 frames
    python tools/profile_model.py --train --batch 2         # one AdamW step per call
    python tools/profile_model.py --override dim_feat=128 --override num_heads=4 --train
    python tools/profile_model.py --device cuda --batch 64 --bf16
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/MB_train_h36m.yaml", help="YAML config of the model")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, repeatable (e.g. backbone=DSTformer)")
    p.add_argument("--batch", type=int, default=1, help="clips per call (default 1)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default: the config's maxlen)")
    p.add_argument("--train", action="store_true",
                   help="profile a training step (forward, loss, backward, AdamW) instead of a forward pass")
    p.add_argument("--bf16", action="store_true", help="run under bfloat16 autocast")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls before profiling (default 1)")
    p.add_argument("--steps", type=int, default=2, help="profiled calls (default 2)")
    p.add_argument("--rows", type=int, default=20, help="operators listed (default 20)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from lib.model import build_model
    from lib.perf.profiling import ProfileSetting, profile_table
    from lib.utils.config import ConfigError, load_config

    try:
        for name in ("batch", "steps", "rows"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name} must be >= 1")
        if args.warmup < 0 or (args.threads is not None and args.threads < 1):
            raise ValueError("--warmup must be >= 0 and --threads >= 1")
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("--device cuda but no GPU is visible; use --device cpu")
        cfg = load_config(args.config, args.override)
        frames = args.frames if args.frames is not None else int(cfg.maxlen)
        if not 1 <= frames <= int(cfg.maxlen):
            raise ValueError(f"--frames must be between 1 and the config's maxlen {cfg.maxlen}")
        model = build_model(cfg)
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    setting = ProfileSetting(batch=args.batch, frames=frames, train=args.train, device=args.device,
                             bf16=args.bf16, warmup=args.warmup, steps=args.steps)
    print(f"{cfg.get('backbone', 'SCT')} {'training step' if args.train else 'forward'}, batch {args.batch}, "
          f"{frames} frames, {'bf16 autocast' if args.bf16 else 'fp32'}, {args.device}, "
          f"{torch.get_num_threads()} threads, {args.steps} profiled calls; torch {torch.__version__}")
    print(profile_table(model, setting, row_limit=args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
