"""Cut the preprocessed Human3.6M pickle into MotionBERT's clip folders.

    python tools/convert_h36m.py                       # the real SH pickle, MotionBERT's defaults
    python tools/convert_h36m.py --dt-file h36m_synthetic.pkl --out data/motion3d/MB3D_f243s81/H36M-SYN

Writes <out>/train and <out>/test (clips of --clip-len frames; training windows every --stride frames,
test windows every --clip-len frames as the evaluation expects). See docs/DATA.md.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from lib.data.convert_h36m import convert_h36m
from lib.data.datareader_h36m import DataFormatError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dt-root", default="data/motion3d", help="folder of the pickle (default data/motion3d)")
    p.add_argument("--dt-file", default="h36m_sh_conf_cam_source_final.pkl",
                   help="pickle file name inside --dt-root (default h36m_sh_conf_cam_source_final.pkl)")
    p.add_argument("--out", default="data/motion3d/MB3D_f243s81/H36M-SH",
                   help="output folder; gets train/ and test/ (default data/motion3d/MB3D_f243s81/H36M-SH)")
    p.add_argument("--clip-len", type=int, default=243, help="frames per clip (default 243)")
    p.add_argument("--stride", type=int, default=81, help="distance between training windows (default 81)")
    p.add_argument("--format", choices=("pkl", "npy"), default="pkl",
                   help="pkl: one pickle per clip (MotionBERT's layout, default); npy: one memory-mapped "
                   "array per split and field (much faster to load; same batches)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        counts = convert_h36m(args.dt_root, args.dt_file, args.out, clip_len=args.clip_len, stride=args.stride,
                              fmt=args.format, force=args.force,
                              progress_factory=lambda n, desc: tqdm(total=n, desc=desc, unit="clip"))
    except (FileNotFoundError, FileExistsError, DataFormatError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {counts['train']} train clips, {counts['test']} test clips "
          f"({args.clip_len} frames, {args.format})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
