"""The quickstart (``make quickstart`` = ``python tools/quickstart.py``): the whole job on embedded data.

1. generate a synthetic Human3.6M-format pickle (:func:`lib.data.sources.synthetic_h36m.make_synthetic_h36m`),
2. cut it into clips (:func:`lib.data.convert_h36m.convert_h36m`),
3. evaluate the untrained model (the training run's initial weights) with the Human3.6M protocol,
4. train a small SCT from ``configs/quickstart.yaml`` on the CPU (a few minutes on 2 cores),
5. evaluate the best checkpoint and check that its P1 is at least 3 times lower than the untrained model's
   (exit code 1 otherwise).

Every step reuses what an earlier run left (data, clips, checkpoints): a second run only evaluates, and a
run stopped at any moment continues where it stopped. ``--fresh`` trains again from scratch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from lib.data.convert_h36m import convert_h36m
from lib.data.datareader_h36m import DataFormatError
from lib.data.sources.synthetic_h36m import SyntheticConfig, make_synthetic_h36m
from lib.engine.errors import InputError
from lib.engine.evaluate import EvalResult
from lib.engine.trainer import TrainOptions, run, seed_everything
from lib.model import build_model
from lib.utils.atomic_io import atomic_pickle_dump
from lib.utils.checkpoint import CheckpointError, save_checkpoint
from lib.utils.config import ConfigError, load_config

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = "configs/quickstart.yaml"
DEFAULT_CHECKPOINT = "checkpoint/quickstart"
# the quickstart passes when the trained P1 is at least this many times lower than the untrained one
REQUIRED_IMPROVEMENT = 3.0


@dataclass
class QuickstartResult:
    before: EvalResult
    after: EvalResult
    train_minutes: float

    @property
    def improvement(self) -> float:
        """Untrained P1 / trained P1."""
        return self.before.p1 / self.after.p1

    @property
    def passed(self) -> bool:
        return self.improvement >= REQUIRED_IMPROVEMENT


@dataclass
class QuickstartOptions:
    config: str = DEFAULT_CONFIG
    checkpoint: str = DEFAULT_CHECKPOINT
    device: str = "cpu"
    workers: int = 0
    seed: int = 0
    fresh: bool = False
    progress: bool = True
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python tools/quickstart.py", description=__doc__,
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


def print_step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def prepare_data(cfg, synthetic: SyntheticConfig, progress: bool) -> None:
    """Generate and convert the synthetic data unless an earlier run did."""
    pkl = Path(cfg.dt_root) / cfg.dt_file
    print_step("1/5 synthetic Human3.6M-format data")
    if pkl.is_file():
        print(f"using {pkl} (delete it to generate it again)")
    else:
        n_videos = (len(synthetic.train_subjects) + len(synthetic.test_subjects)) * len(synthetic.actions) \
            * synthetic.subactions
        with tqdm(total=n_videos, desc="synthetic videos", unit="video", disable=not progress) as bar:
            atomic_pickle_dump(make_synthetic_h36m(synthetic, progress=bar), pkl)
        print(f"wrote {pkl}")
    print_step("2/5 clips")
    if len(cfg.subset_list) != 1:
        raise ConfigError(f"a quickstart config names one subset in subset_list, got {cfg.subset_list}")
    out = Path(cfg.data_root) / cfg.subset_list[0]
    if (out / "train").is_dir() and (out / "test").is_dir():
        print(f"using {out} (delete it to convert again)")
    else:
        counts = convert_h36m(str(cfg.dt_root), cfg.dt_file, out, clip_len=cfg.clip_len, stride=cfg.data_stride,
                              progress_factory=lambda n, desc: tqdm(total=n, desc=desc, unit="clip",
                                                                    disable=not progress))
        print(f"wrote {out}: {counts['train']} train clips, {counts['test']} test clips")


def save_untrained(cfg, seed: int, path: Path) -> None:
    """The weights the training starts from (same seed, same construction), in the released layout."""
    seed_everything(seed)
    model = build_model(cfg)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    save_checkpoint(path, {"epoch": 0, "lr": float(cfg.learning_rate), "optimizer": None, "model_pos": state,
                           "min_loss": 100000.0})


def run_quickstart(opts: QuickstartOptions) -> QuickstartResult:
    """Steps 1-5 (see the module docstring); relative paths are relative to the working directory."""
    cfg = load_config(opts.config)
    prepare_data(cfg, opts.synthetic, opts.progress)
    ckpt = Path(opts.checkpoint)
    if opts.fresh and ckpt.is_dir():
        shutil.rmtree(ckpt)
    common = dict(config=opts.config, checkpoint=str(ckpt), seed=opts.seed, device=opts.device,
                  workers=opts.workers, progress=opts.progress)

    print_step("3/5 the untrained model (the training's initial weights)")
    untrained = ckpt / "untrained.bin"
    save_untrained(cfg, opts.seed, untrained)
    before = run(TrainOptions(evaluate=str(untrained), **common)).result

    print_step(f"4/5 training a small SCT ({cfg.epochs} epochs; stop any time, run again to continue)")
    t0 = time.time()
    run(TrainOptions(**common))
    train_minutes = (time.time() - t0) / 60

    print_step("5/5 the trained model (best epoch)")
    after = run(TrainOptions(evaluate=str(ckpt / "best_epoch.bin"), **common)).result
    return QuickstartResult(before, after, train_minutes)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads < 1:
        print("error: --threads must be >= 1", file=sys.stderr)
        return 2
    os.chdir(REPO_ROOT)  # the default config and its data paths are relative to the repository

    import torch

    torch.set_num_threads(args.threads)
    start = time.time()
    opts = QuickstartOptions(config=args.config, checkpoint=args.checkpoint, device=args.device,
                             workers=args.workers, seed=args.seed, fresh=args.fresh, progress=not args.no_progress,
                             synthetic=SyntheticConfig(seed=args.seed))
    try:
        result = run_quickstart(opts)
    except (ConfigError, CheckpointError, InputError, DataFormatError, FileNotFoundError, FileExistsError,
            ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    before, after = result.before, result.after
    print("\n=== quickstart summary ===")
    print(f"untrained model: P1 {before.p1:.1f} mm, P2 {before.p2:.1f} mm")
    print(f"trained model:   P1 {after.p1:.1f} mm, P2 {after.p2:.1f} mm  "
          f"({result.improvement:.1f}x lower P1; training {result.train_minutes:.1f} min, "
          f"total {(time.time() - start) / 60:.1f} min)")
    print(f"checkpoints, TensorBoard logs and results JSON: {args.checkpoint}/")
    if not result.passed:
        print(f"quickstart FAILED: the trained P1 is not {REQUIRED_IMPROVEMENT:g}x below the untrained one",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
