"""The shipped motion-capture lifters from a BVH folder (``make pretrained BVH=DIR`` =
``python tools/mocap_pretrained.py --bvh DIR``):

1. convert the corpus (``tools/convert_mocap.py``): held-out test subjects, validation subjects, the rest
   for training with a share of synthetic motion; two pickles (test / validation) sharing the train split;
2. cut both into clips (``tools/convert_h36m.py``);
3. train ``configs/mocap/sct.yaml`` and ``configs/mocap/dstformer.yaml`` (same recipe, size and budget),
   selecting the best epoch on the validation subjects;
4. evaluate each ``best_epoch.bin`` on the held-out test subjects with the exact protocol; the results go
   to ``<checkpoint root>/<model>/heldout/best_epoch_results.json`` (the ``best_epoch_results.json`` beside
   the checkpoint holds its validation results).

``--device`` trains on a GPU; ``--override KEY=VALUE`` changes the recipe of both models alike (a bigger
pair on a GPU, docs/EXPERIMENTS.md); ``--data-only`` stops after step 2, so that the models can then train
in separate processes (``--models sct`` and ``--models dstformer``) side by side.

Every step reuses what an earlier run left (pickles, clips, checkpoints): a run stopped at any moment
continues where it stopped (``train.py`` resumes from ``latest_epoch.bin``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from lib.utils.config import ConfigError, load_config
from tools import convert_h36m, convert_mocap
from tools.quickstart import print_step

TOOLS = {"convert_mocap.py": convert_mocap.main, "convert_h36m.py": convert_h36m.main}


def _run_tool(script: str, *args: str) -> None:
    """Run one data tool's ``main`` in this process; its exit status 2 (bad input) stops the run."""
    print(f"$ tools/{script} " + " ".join(args), flush=True)
    status = TOOLS[script](list(args))
    if status:
        raise SystemExit(status)

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"sct": "configs/mocap/sct.yaml", "dstformer": "configs/mocap/dstformer.yaml"}
# the recipe of the shipped files (docs/EXPERIMENTS.md)
TEST_SUBJECTS = ("06", "135")
VAL_SUBJECTS = ("49", "131")
SYNTHETIC_FRACTION = 0.25
VAL_SUFFIX = "_val"
HELDOUT_DIR = "heldout"  # <checkpoint root>/<model>/heldout/: the evaluation on the held-out test subjects


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python tools/mocap_pretrained.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bvh", required=True, metavar="DIR", help="the CMU corpus folder (.bvh / .bvh.gz files; "
                   "docs/DATA.md says where to download it)")
    p.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS),
                   help="which lifters to train (default: both)")
    p.add_argument("--checkpoint-root", default="checkpoint/mocap", metavar="DIR",
                   help="checkpoints go to DIR/<model>/, relative to the repository (default checkpoint/mocap)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of the training (default 0)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to train and evaluate (default: auto = CUDA when available)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="data-loader worker processes (default: train.py's, from the CPU count: 0 on 2 cores)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="config entry for every model, training and evaluation alike (repeatable), e.g. "
                        "--override dim_feat=96 --override epochs=30 for a bigger pair on a GPU; a clip_len or "
                        "data_stride override needs a data_root override too (the clips get their own folder)")
    p.add_argument("--data-only", action="store_true",
                   help="convert the corpus and cut the clips, then stop (e.g. before training the models in "
                        "separate processes with --models)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


DATA_KEYS = ("dt_root", "dt_file", "data_root", "clip_len", "data_stride")  # shared by both models' configs
DATA_SHAPE_KEYS = ("clip_len", "data_stride")  # those that change the clips themselves


def check_data_overrides(base, cfg) -> None:
    """Clips of another length or stride must not be mixed with the ones already cut: an override of
    ``clip_len`` or ``data_stride`` needs its own ``data_root``."""
    changed = [key for key in DATA_SHAPE_KEYS if cfg[key] != base[key]]
    if changed and cfg.data_root == base.data_root:
        raise ConfigError(f"--override {changed[0]}={cfg[changed[0]]} changes the clips, but they would go to "
                          f"{base.data_root}, where clips of {base.clip_len} frames are cut; add "
                          f"--override data_root=<another folder>/")


def val_paths(cfg) -> tuple[str, str]:
    """``(dt_file, data_root)`` of the validation pickle and its clips, beside the config's own."""
    stem, ext = os.path.splitext(cfg.dt_file)
    return f"{stem}{VAL_SUFFIX}{ext}", cfg.data_root.rstrip("/") + VAL_SUFFIX + "/"


def prepare_data(cfg, bvh: str, seed: int) -> None:
    """Convert the corpus and cut the clips unless an earlier run did."""
    val_file, val_root = val_paths(cfg)
    test_pkl, val_pkl = Path(cfg.dt_root) / cfg.dt_file, Path(cfg.dt_root) / val_file
    print_step("1/4 the corpus as Human3.6M-format pickles")
    if test_pkl.is_file() and val_pkl.is_file():
        print(f"using {test_pkl} and {val_pkl} (delete them to convert again)")
    else:
        _run_tool("convert_mocap.py", "--root", bvh, "--test-subjects", *TEST_SUBJECTS,
                  "--val-subjects", *VAL_SUBJECTS, "--synthetic-fraction", str(SYNTHETIC_FRACTION),
                  "--seed", str(seed), "--out", str(test_pkl), "--val-out", str(val_pkl))
    print_step("2/4 clips")
    for dt_file, root in ((cfg.dt_file, cfg.data_root), (val_file, val_root)):
        out = Path(root) / cfg.subset_list[0]
        if (out / "train").is_dir() and (out / "test").is_dir():
            print(f"using {out} (delete it to cut again)")
        else:
            _run_tool("convert_h36m.py", "--dt-root", cfg.dt_root, "--dt-file", dt_file, "--out", str(out),
                      "--clip-len", str(cfg.clip_len), "--stride", str(cfg.data_stride), "--format", "npy")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.bvh = os.path.abspath(args.bvh)  # relative to where the user ran it, before the chdir below
    os.chdir(REPO_ROOT)
    if not os.path.isdir(args.bvh):
        print(f"error: --bvh {args.bvh} is not a folder (the CMU corpus; see docs/DATA.md)", file=sys.stderr)
        return 2

    import torch

    from lib.engine.errors import InputError
    from lib.engine.trainer import TrainOptions, run
    from lib.utils.checkpoint import CheckpointError

    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    run_opts = {"device": args.device, "workers": args.workers, "progress": not args.no_progress}
    results = {}
    try:
        cfgs = {name: load_config(CONFIGS[name], args.override) for name in args.models}
        first = cfgs[args.models[0]]
        check_data_overrides(load_config(CONFIGS[args.models[0]]), first)
        for name, cfg in cfgs.items():
            if any(cfg[key] != first[key] for key in DATA_KEYS):
                raise ConfigError(f"{CONFIGS[name]}: the mocap configs must share their data keys")
        prepare_data(first, args.bvh, args.seed)
        if args.data_only:
            return 0
        ckpts = {name: Path(args.checkpoint_root) / name for name in cfgs}
        for k, (name, cfg) in enumerate(cfgs.items()):
            val_file, val_root = val_paths(cfg)
            print_step(f"3/4 training {name} ({k + 1}/{len(cfgs)}, {cfg.epochs} epochs, best epoch on the "
                       "validation subjects; stop any time, run again to continue)")
            t0 = time.time()
            run(TrainOptions(config=CONFIGS[name], checkpoint=str(ckpts[name]), seed=args.seed,
                             overrides=[*args.override, f"dt_file={val_file}", f"data_root={val_root}"], **run_opts))
            print(f"training {name}: {(time.time() - t0) / 60:.1f} min")
        for name in cfgs:
            print_step(f"4/4 {name} on the held-out test subjects {', '.join(TEST_SUBJECTS)}")
            # beside the checkpoint, best_epoch_results.json holds the validation's results
            results[name] = run(TrainOptions(config=CONFIGS[name], evaluate=str(ckpts[name] / "best_epoch.bin"),
                                             checkpoint=str(ckpts[name] / HELDOUT_DIR), overrides=args.override,
                                             **run_opts)).result
    except (ConfigError, CheckpointError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n=== held-out test subjects (mm) ===")
    for name, res in results.items():
        print(f"{name:10s} P1 {res.p1:6.1f}  P2 {res.p2:6.1f}  MPJVE {res.mpjve:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
