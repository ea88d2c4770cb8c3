"""Turn motion-capture clips (BVH) into a Human3.6M pickle in MotionBERT's layout.

    python tools/convert_mocap.py --train a.bvh b.bvh --test c.bvh --out data/motion3d/h36m_mocap.pkl

Each file becomes one video seen by the four Human3.6M cameras of --train-subject / --test-subject,
at 50 fps, in millimetres, inside the capture area, with detector-like 2D noise. Cut the result into
clips with tools/convert_h36m.py --dt-file h36m_mocap.pkl. See docs/DATA.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from tqdm import tqdm

from lib.data.sources.bvh import BVHError
from lib.data.sources.h36m_render import H36M_ACTIONS, DetectorNoise
from lib.data.sources.mocap import MocapMapError, convert_mocap, load_joint_map
from lib.utils.atomic_io import atomic_pickle_dump


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", nargs="+", default=[], metavar="FILE.bvh", help="BVH files for the train split")
    p.add_argument("--test", nargs="+", default=[], metavar="FILE.bvh", help="BVH files for the test split")
    p.add_argument("--out", required=True, help="output pickle (replaced atomically if it exists)")
    p.add_argument("--map", default="cmu", help="joint-name map: a built-in name (cmu) or a JSON file "
                   "(default cmu; see lib/data/sources/mocap_maps/)")
    p.add_argument("--train-subject", default="S1", help="whose camera calibration the train split uses "
                   "(default S1)")
    p.add_argument("--test-subject", default="S9", help="whose camera calibration the test split uses "
                   "(default S9)")
    p.add_argument("--action", default="Walking", help="action name stored for every video (default Walking)")
    p.add_argument("--seed", type=int, default=0, help="seed of the 2D detector noise (default 0)")
    p.add_argument("--noise-px", type=float, default=DetectorNoise.std_px,
                   help=f"std of the detector noise in pixels (default {DetectorNoise.std_px}; 0 = none)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.train and not args.test:
        print("error: give BVH files with --train and/or --test", file=sys.stderr)
        return 2
    missing = [f for f in args.train + args.test if not os.path.isfile(f)]
    if missing:
        print(f"error: BVH file(s) not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.noise_px < 0:
        print("error: --noise-px must be >= 0", file=sys.stderr)
        return 2
    if args.action not in H36M_ACTIONS:
        print(f"note: '{args.action}' is not one of the 15 Human3.6M actions; its videos are named act_01",
              file=sys.stderr)
    noise = DetectorNoise.with_std(args.noise_px)
    try:
        joint_map = load_joint_map(args.map)
        with tqdm(total=len(args.train) + len(args.test), desc="mocap videos", unit="video") as bar:
            data = convert_mocap(args.train, args.test, joint_map, args.train_subject, args.test_subject,
                                 args.action, args.seed, noise, progress=bar)
    except (FileNotFoundError, MocapMapError, BVHError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    atomic_pickle_dump(data, args.out)
    print(f"wrote {args.out}: {len(data['train']['source'])} train frames, {len(data['test']['source'])} "
          f"test frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
