"""Write synthetic MPI-INF-3DHP files in the de-facto npz layout (data_train_3dhp.npz, data_test_3dhp.npz).

    python tools/make_synthetic_3dhp.py --out-dir data/mpi_inf_3dhp_synthetic

The project's synthetic motion seen through 3DHP-like cameras (2048 x 2048, f ~ 1499 px; TS5/TS6
1920 x 1080, f ~ 1684 px), test sequences with invalid stretches. Train and evaluate on it with
``python train.py --config configs/MB_train_3dhp.yaml dt_root=<out-dir> ...`` (see docs/TRAINING.md).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from lib.data.mpi_inf_3dhp import TEST_FILE, TRAIN_FILE
from lib.data.sources.synthetic_3dhp import Synthetic3DHPConfig, make_synthetic_3dhp
from lib.utils.atomic_io import atomic_path

DEFAULT_OUT = "data/mpi_inf_3dhp_synthetic"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=DEFAULT_OUT,
                   help=f"folder for {TRAIN_FILE} and {TEST_FILE} (default {DEFAULT_OUT}); existing files are "
                        "replaced atomically")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same files (default 0)")
    p.add_argument("--train-subjects", type=int, default=8, help="training subjects S1..Sk (default 8)")
    p.add_argument("--sequences", type=int, default=2, help="sequences per training subject (default 2)")
    p.add_argument("--frames", type=int, nargs=2, metavar=("MIN", "MAX"), default=(300, 400),
                   help="training sequence length range at 50 fps, before 25 fps sequences drop every other "
                        "frame (default 300 400)")
    p.add_argument("--test-frames", type=int, nargs=2, metavar=("MIN", "MAX"), default=(300, 400),
                   help="test sequence length range (default 300 400)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Synthetic3DHPConfig(seed=args.seed, train_subjects=args.train_subjects,
                              sequences_per_subject=args.sequences, frames=tuple(args.frames),
                              test_frames=tuple(args.test_frames))
    try:
        train, test = make_synthetic_3dhp(cfg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, data in ((TRAIN_FILE, train), (TEST_FILE, test)):
        path = os.path.join(args.out_dir, name)
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, data=data)
    n_train = sum(len(v["data_2d"]) for cams, _ in train.values() for v in cams.values())
    n_valid = sum(int(v["valid"].sum()) for v in test.values())
    n_test = sum(len(v["valid"]) for v in test.values())
    print(f"wrote {args.out_dir}/{TRAIN_FILE} ({len(train)} sequences x 8 cameras, {n_train} frames) and "
          f"{TEST_FILE} ({len(test)} sequences, {n_test} frames, {n_valid} valid)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
