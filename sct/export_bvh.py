"""`sct-export-bvh`: one BVH file per person from the demo's keypoints_3d.npz, for Blender, Maya, Unity, Unreal.

The skeleton is the 17 Human3.6M joints rooted at the pelvis (plus zero-length hip and collar joints, and
end sites), Y up, millimetres, each person's bone lengths constant (the median over the video), rotations
from an analytic inverse kinematics in the channel order Yrotation Zrotation Xrotation, the root moving
through the scene as in poses_world_mm. Frames where a person is not seen hold the last pose seen.
docs/MOTION.md has the details and how to import the files (in Blender: scale 0.001 for metres).

Examples:
    python tools/export_bvh.py demo/output/street/keypoints_3d.npz
    sct-export-bvh demo/output/street/keypoints_3d.npz --person 0 2 --out bvh/ --fps 25

Exit status: 0 written, 2 bad input (one line on stderr; no file is written).
"""

from __future__ import annotations

import argparse
import sys

from .bvh import export_keypoints_npz


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sct-export-bvh", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("npz", help="keypoints_3d.npz written by demo/vis.py (poses_world_mm, or poses_mm from an older "
                               "demo: then the root stays in place)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder for person_<i>.bvh (created if needed; default: the npz's folder)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of the motion (default: the fps stored by the demo, in the npz or the "
                        "keypoints_2d.npz beside it)")
    p.add_argument("--person", type=int, nargs="+", default=None, metavar="I",
                   help="export only these people (indices 0..P-1; default: everyone)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.fps is not None and not args.fps > 0:
        print(f"error: --fps must be a positive number of frames per second, got {args.fps}", file=sys.stderr)
        return 2
    try:
        written = export_keypoints_npz(args.npz, args.out, fps=args.fps, people=args.person,
                                       log=lambda line: print(line, file=sys.stderr))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
