"""Write a synthetic Human3.6M pickle in MotionBERT's layout (the project's embedded default data).

    python tools/make_synthetic_h36m.py --out data/motion3d/h36m_synthetic.pkl [--plot frames.png]

Then cut it into clips with ``tools/convert_h36m.py --dt-file h36m_synthetic.pkl``. See docs/DATA.md.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from lib.data.sources.h36m_render import H36M_ACTIONS, TEST_SUBJECTS, TRAIN_SUBJECTS, DetectorNoise
from lib.data.sources.synthetic_h36m import SyntheticConfig, make_synthetic_h36m
from lib.utils.atomic_io import atomic_pickle_dump

DEFAULT_OUT = "data/motion3d/h36m_synthetic.pkl"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output pickle (default {DEFAULT_OUT}); replaced "
                   "atomically if it exists")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same file "
                   "(default 0)")
    p.add_argument("--frames", type=int, nargs=2, metavar=("MIN", "MAX"), default=(330, 420),
                   help="length range of each video in frames at 50 fps (default 330 420: two training "
                   "windows of 243 frames with stride 81, one test clip)")
    p.add_argument("--subactions", type=int, default=1, help="videos per subject and action (default 1)")
    p.add_argument("--actions", nargs="+", default=list(H36M_ACTIONS), metavar="NAME",
                   help="actions to generate (default: all 15 Human3.6M actions)")
    p.add_argument("--train-subjects", nargs="+", default=list(TRAIN_SUBJECTS), metavar="S",
                   help="training subjects (default S1 S5 S6 S7 S8)")
    p.add_argument("--test-subjects", nargs="+", default=list(TEST_SUBJECTS), metavar="S",
                   help="test subjects (default S9 S11)")
    p.add_argument("--noise-px", type=float, default=DetectorNoise.std_px,
                   help=f"std of the detector noise in pixels (default {DetectorNoise.std_px}; 0 = exact "
                   "projections, confidence 1)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw a few frames into this PNG")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    bad = [a for a in args.actions if a not in H36M_ACTIONS]
    if bad:
        print(f"error: unknown action(s) {bad}; choose from {list(H36M_ACTIONS)}", file=sys.stderr)
        return 2
    if args.subactions < 1 or args.frames[0] < 2 or args.frames[1] < args.frames[0]:
        print("error: need --subactions >= 1 and --frames MIN MAX with 2 <= MIN <= MAX", file=sys.stderr)
        return 2
    if args.noise_px < 0:
        print("error: --noise-px must be >= 0", file=sys.stderr)
        return 2
    noise = DetectorNoise.with_std(args.noise_px)
    cfg = SyntheticConfig(seed=args.seed, train_subjects=args.train_subjects, test_subjects=args.test_subjects,
                          actions=args.actions, subactions=args.subactions, frames=tuple(args.frames),
                          noise=noise)
    n_videos = (len(cfg.train_subjects) + len(cfg.test_subjects)) * len(cfg.actions) * cfg.subactions
    try:
        with tqdm(total=n_videos, desc="synthetic videos", unit="video") as bar:
            data = make_synthetic_h36m(cfg, progress=bar)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    atomic_pickle_dump(data, args.out)
    n_train, n_test = len(data["train"]["source"]), len(data["test"]["source"])
    print(f"wrote {args.out}: {n_train} train frames, {n_test} test frames (4 cameras each video)")
    if args.plot:
        from lib.data.sources.plot_h36m import plot_h36m_frames

        plot_h36m_frames(data, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
