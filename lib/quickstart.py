"""The quickstart (``make quickstart`` = ``python -m lib.quickstart``): the whole job on embedded data.

1. generate a synthetic Human3.6M-format pickle (``tools/make_synthetic_h36m.py``),
2. cut it into clips (``tools/convert_h36m.py``),
3. evaluate the untrained model (the training run's initial weights) with the Human3.6M protocol,
4. train a small SCT from ``configs/quickstart.yaml`` on the CPU (a few minutes on 2 cores),
5. evaluate the best checkpoint and compare its P1 with the untrained model's.

Every step reuses what an earlier run left (data, clips, checkpoints): a second run only evaluates, and a
run stopped at any moment continues where it stopped. ``--fresh`` trains again from scratch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = "configs/quickstart.yaml"
DEFAULT_CHECKPOINT = "checkpoint/quickstart"
# the quickstart's P1 must end at least this many times lower than the untrained model's
REQUIRED_IMPROVEMENT = 3.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.quickstart", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"training config (default {DEFAULT_CONFIG})")
    p.add_argument("-c", "--checkpoint", default=DEFAULT_CHECKPOINT,
                   help=f"output directory (default {DEFAULT_CHECKPOINT})")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"],
                   help="compute device (default cpu, the setting the quickstart's timing is meant for)")
    p.add_argument("--workers", type=int, default=0, help="data-loader workers (default 0)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the small model gains little from more, and a CPU "
                   "shared with other programs slows many threads down badly)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the training (default 0)")
    p.add_argument("--fresh", action="store_true",
                   help="delete the quickstart's previous checkpoints (not the data) and train again")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def _step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def _tool(script: str, *args: str) -> None:
    """Run one of the ``tools/`` entry scripts; its exit status 2 (bad input) stops the quickstart."""
    cmd = [sys.executable, str(REPO_ROOT / "tools" / script), *args]
    print("$ " + " ".join(cmd[1:]), flush=True)
    done = subprocess.run(cmd, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def prepare_data(cfg, seed: int) -> None:
    """Generate and convert the synthetic data unless an earlier run did."""
    pkl = Path(cfg.dt_root) / cfg.dt_file
    _step("1/5 synthetic Human3.6M-format data")
    if pkl.is_file():
        print(f"using {pkl} (delete it to generate it again)")
    else:
        _tool("make_synthetic_h36m.py", "--out", str(pkl), "--seed", str(seed))
    _step("2/5 clips")
    if len(cfg.subset_list) != 1:
        raise SystemExit(f"error: {DEFAULT_CONFIG}-style configs name one subset, got {cfg.subset_list}")
    out = Path(cfg.data_root) / cfg.subset_list[0]
    if (out / "train").is_dir() and (out / "test").is_dir():
        print(f"using {out} (delete it to convert again)")
    else:
        _tool("convert_h36m.py", "--dt-root", str(cfg.dt_root), "--dt-file", cfg.dt_file, "--out", str(out),
              "--clip-len", str(cfg.clip_len), "--stride", str(cfg.data_stride))


def save_untrained(cfg, seed: int, path: Path) -> None:
    """The weights the training starts from (same seed, same construction), in the released layout."""
    from lib.engine.trainer import seed_everything
    from lib.model import build_model
    from lib.utils.checkpoint import save_checkpoint

    seed_everything(seed)
    model = build_model(cfg)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    save_checkpoint(path, {"epoch": 0, "lr": float(cfg.learning_rate), "optimizer": None, "model_pos": state,
                           "min_loss": 100000.0})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.chdir(REPO_ROOT)

    import torch

    from lib.engine.errors import InputError
    from lib.engine.trainer import TrainOptions, run
    from lib.utils.checkpoint import CheckpointError
    from lib.utils.config import ConfigError, load_config

    if args.threads < 1:
        print("error: --threads must be >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    start = time.time()
    ckpt = Path(args.checkpoint)
    try:
        cfg = load_config(args.config)
        prepare_data(cfg, args.seed)
        if args.fresh and ckpt.is_dir():
            shutil.rmtree(ckpt)
        common = dict(config=args.config, checkpoint=str(ckpt), seed=args.seed, device=args.device,
                      workers=args.workers, progress=not args.no_progress)

        _step("3/5 the untrained model (the training's initial weights)")
        untrained = ckpt / "untrained.bin"
        save_untrained(cfg, args.seed, untrained)
        before = run(TrainOptions(evaluate=str(untrained), **common)).result

        _step(f"4/5 training a small SCT ({cfg.epochs} epochs; stop any time, run again to continue)")
        t0 = time.time()
        run(TrainOptions(**common))
        train_minutes = (time.time() - t0) / 60

        _step("5/5 the trained model (best epoch)")
        after = run(TrainOptions(evaluate=str(ckpt / "best_epoch.bin"), **common)).result
    except (ConfigError, CheckpointError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    print("\n=== quickstart summary ===")
    print(f"untrained model: P1 {before.p1:.1f} mm, P2 {before.p2:.1f} mm")
    print(f"trained model:   P1 {after.p1:.1f} mm, P2 {after.p2:.1f} mm  "
          f"({before.p1 / after.p1:.1f}x lower P1; training {train_minutes:.1f} min, "
          f"total {(time.time() - start) / 60:.1f} min)")
    print(f"checkpoints, TensorBoard logs and results JSON: {ckpt}/")
    if after.p1 * REQUIRED_IMPROVEMENT > before.p1:
        print(f"quickstart FAILED: the trained P1 is not {REQUIRED_IMPROVEMENT:g}x below the untrained one",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
