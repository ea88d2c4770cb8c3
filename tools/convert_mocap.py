"""Turn motion capture (BVH) into a Human3.6M pickle in MotionBERT's layout.

A corpus folder, split by subject (every .bvh / .bvh.gz below it; docs/DATA.md says where to get the CMU
corpus):

    python tools/convert_mocap.py --root cmu_mocap --test-subjects 06 135 --val-subjects 49 131 \\
        --synthetic-fraction 0.25 --out data/mocap/h36m_mocap.pkl --val-out data/mocap/h36m_mocap_val.pkl

Single files, each one video of --action:

    python tools/convert_mocap.py --train a.bvh b.bvh --test c.bvh --out data/motion3d/h36m_mocap.pkl

Every clip is seen by four Human3.6M cameras at 50 fps, in millimetres, inside the capture area, with
detector-like 2D noise and confidence. Cut the result into clips with tools/convert_h36m.py.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from tqdm import tqdm

from lib.data.sources.bvh import BVHError
from lib.data.sources.h36m_render import H36M_ACTIONS, DetectorNoise
from lib.data.sources.mocap import MocapMapError, convert_mocap, load_joint_map
from lib.data.sources.mocap_augment import AugmentConfig
from lib.data.sources.mocap_corpus import (
    CLIPS_JSON,
    CorpusConfig,
    MocapCorpusError,
    build_mocap_dataset,
    describe_clips,
    find_bvh_files,
    load_clip_index,
    parse_fps_overrides,
    split_by_subject,
)
from lib.utils.atomic_io import atomic_pickle_dump

INPUT_ERRORS = (FileNotFoundError, MocapMapError, MocapCorpusError, BVHError, KeyError, ValueError)
PROGRESS = dict(leave=False, disable=None)  # on a terminal only, and cleared, so that an error stays one line


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output pickle (replaced atomically if it exists)")
    p.add_argument("--map", default="auto", help="joint-name map: auto (chosen per file from its joint "
                   "names, default), a built-in name (cmu, cmu_motionbuilder, cmu_daz) or a JSON file "
                   "(see lib/data/sources/mocap_maps/)")
    p.add_argument("--seed", type=int, default=0, help="seed of bodies, placement and 2D noise (default 0)")
    p.add_argument("--noise-px", type=float, default=DetectorNoise.std_px,
                   help=f"std of the detector noise in pixels (default {DetectorNoise.std_px}; 0 = none)")
    corpus = p.add_argument_group("a corpus folder, split by subject")
    corpus.add_argument("--root", metavar="DIR", help="folder tree of .bvh / .bvh.gz files")
    corpus.add_argument("--test-subjects", nargs="+", default=[], metavar="S",
                        help="subjects held out for the test split (e.g. 06 135)")
    corpus.add_argument("--val-subjects", nargs="+", default=[], metavar="S",
                        help="subjects held out for validation (model selection); written to --val-out")
    corpus.add_argument("--train-subjects", nargs="+", default=None, metavar="S",
                        help="training subjects (default: every subject not held out)")
    corpus.add_argument("--val-out", metavar="FILE.pkl",
                        help="pickle with the same train split and the validation subjects as its test split")
    corpus.add_argument("--clips", default=str(CLIPS_JSON), metavar="JSON",
                        help="clip index: subject, motion, action and true fps per file (default: the CMU "
                        "corpus's, lib/data/sources/mocap_corpora/cmu.json)")
    corpus.add_argument("--fps", action="append", default=[], metavar="PATTERN=FPS",
                        help="true frame rate of the files whose path below --root matches the glob "
                        "PATTERN, over the header and the clip index (repeatable), e.g. 'acrnn/salsa/*=60'")
    corpus.add_argument("--synthetic-fraction", type=float, default=0.0, metavar="F",
                        help="share of training frames from the synthetic generator, 0 <= F < 1 (default 0)")
    corpus.add_argument("--body", type=float, nargs=2, default=(0.9, 1.2), metavar=("MIN", "MAX"),
                        help="range of the body scale drawn per training clip (default 0.9 1.2)")
    aug = p.add_argument_group("augmentation of the training split (all off by default: the shipped recipe; "
                               "docs/EXPERIMENTS.md measures each)")
    aug.add_argument("--recombine", type=float, default=0.0, metavar="F",
                     help="share of the real training clips replaced by the trunk and arms (or the arms) of "
                          "another training clip on their legs and path, bone lengths kept (default 0)")
    aug.add_argument("--proportions", type=float, default=0.0, metavar="S",
                     help="spread of per-clip body-proportion factors (legs, arms, trunk, head, hip and "
                          "shoulder width apart; e.g. 0.1; default 0 = off)")
    aug.add_argument("--camera-variety", type=float, default=0.0, metavar="F",
                     help="share of the training videos seen by four random cameras (heights 0.5-2.5 m, "
                          "2-10 m away, any heading, tilt, focal 500-1800 px) instead of Human3.6M's (default 0)")
    aug.add_argument("--synthetic-exclude", nargs="+", default=[], metavar="ACTION",
                     help="Human3.6M actions left out of the synthetic training motion (e.g. the ones of "
                          "--heldout-synthetic, to keep that test set unlike the training data)")
    held = p.add_argument_group("held-out sets unlike the corpus (test and validation splits alike)")
    held.add_argument("--heldout-cameras", choices=["h36m", "wild"], default="h36m",
                      help="h36m: the held-out Human3.6M calibrations S9 and S11 (default); wild: four cameras "
                           "per clip at heights 0.6-2.2 m, 2.5-8 m away, any heading, focal 700-1600 px")
    held.add_argument("--heldout-synthetic", nargs="+", default=[], metavar="ACTION",
                      help="replace each held-out clip by the synthetic generator's ACTION (in turn) on that "
                           "clip's body, e.g. Sitting SittingDown Purchases (sitting, lying down, bending)")
    files = p.add_argument_group("single files")
    files.add_argument("--train", nargs="+", default=[], metavar="FILE.bvh", help="BVH files for the train split")
    files.add_argument("--test", nargs="+", default=[], metavar="FILE.bvh", help="BVH files for the test split")
    files.add_argument("--train-subject", default="S1", help="whose camera calibration the train split uses "
                       "(default S1)")
    files.add_argument("--test-subject", default="S9", help="whose camera calibration the test split uses "
                       "(default S9)")
    files.add_argument("--action", default="Walking", help="action name stored for every video (default Walking)")
    return p.parse_args(argv)


def _error(msg: object) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def first_non_finite_key(data: dict) -> str | None:
    """``'split/key'`` of the first float array of a converted pickle dict that holds NaN or inf (None if all
    are finite): the last check before anything is written."""
    for split, part in data.items():
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            arr = np.asarray(value)
            if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                return f"{split}/{key}"
    return None


def check_finite_output(data: dict, path: str) -> None:
    """ValueError naming the array when the dict to be written to ``path`` holds NaN or inf."""
    bad = first_non_finite_key(data)
    if bad is not None:
        raise ValueError(f"the conversion produced NaN or inf in '{bad}'; nothing was written to {path} (check the "
                         "BVH files' channel values and the frame rates)")


def write_pickle(data: dict, path: str) -> None:
    """Write the converted dict atomically after checking that every number in it is finite."""
    check_finite_output(data, path)
    atomic_pickle_dump(data, path)


def convert_files(args: argparse.Namespace, noise: DetectorNoise) -> int:
    missing = [f for f in args.train + args.test if not os.path.isfile(f)]
    if missing:
        return _error(f"BVH file(s) not found: {', '.join(missing)}")
    if args.action not in H36M_ACTIONS:
        print(f"note: '{args.action}' is not one of the 15 Human3.6M actions; its videos are named act_01",
              file=sys.stderr)
    joint_map = None if args.map == "auto" else load_joint_map(args.map)
    with tqdm(total=len(args.train) + len(args.test), desc="mocap videos", unit="video", **PROGRESS) as bar:
        data = convert_mocap(args.train, args.test, joint_map, args.train_subject, args.test_subject,
                             args.action, args.seed, noise, progress=bar)
    write_pickle(data, args.out)
    print(f"wrote {args.out}: {len(data['train']['source'])} train frames, {len(data['test']['source'])} "
          f"test frames")
    return 0


def convert_corpus(args: argparse.Namespace, noise: DetectorNoise) -> int:
    if not args.test_subjects:
        return _error("give the held-out subjects with --test-subjects (e.g. --test-subjects 06 135)")
    if args.val_subjects and not args.val_out:
        return _error("--val-subjects needs --val-out (the validation pickle)")
    if args.map != "auto":
        load_joint_map(args.map)
    files = find_bvh_files(args.root)
    clips = describe_clips(args.root, files, load_clip_index(args.clips), parse_fps_overrides(args.fps))
    splits = split_by_subject(clips, args.test_subjects, args.val_subjects, args.train_subjects)
    augment = AugmentConfig(recombine=args.recombine, proportions=args.proportions,
                            camera_variety=args.camera_variety, heldout_cameras=args.heldout_cameras,
                            heldout_synthetic=tuple(args.heldout_synthetic),
                            synthetic_exclude=tuple(args.synthetic_exclude))
    augment.check()
    cfg = CorpusConfig(seed=args.seed, noise=noise, body=tuple(args.body),
                       synthetic_fraction=args.synthetic_fraction,
                       joint_map=None if args.map == "auto" else args.map, augment=augment)
    with tqdm(total=len(clips), desc="mocap clips", unit="clip", **PROGRESS) as bar:
        data, val, table = build_mocap_dataset(splits, cfg, progress=bar)
    data["clips"] = [row for row in table if row["split"] != "validation"]
    if val is not None:
        val["clips"] = [row for row in table if row["split"] != "test"]
    for split in ("train", "test", "validation"):
        rows = [r for r in table if r["split"] == split]
        if rows:
            subjects = sorted({r["subject"] for r in rows})
            minutes = sum(r["frames_50fps"] for r in rows) / 50 / 60
            print(f"{split}: subjects {', '.join(subjects)} ({len(rows)} clips, {minutes:.1f} min)")
    if val is not None:
        check_finite_output(val, args.val_out)  # before the first file is written
    write_pickle(data, args.out)
    print(f"wrote {args.out}: {len(data['train']['source'])} train frames (4 cameras, synthetic included), "
          f"{len(data['test']['source'])} test frames")
    if val is not None:
        write_pickle(val, args.val_out)
        print(f"wrote {args.val_out}: the same train split, {len(val['test']['source'])} validation frames")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.root and (args.train or args.test):
        return _error("give either --root (a corpus folder) or --train/--test (single files), not both")
    if not args.root and not args.train and not args.test:
        return _error("give a corpus folder with --root, or BVH files with --train and/or --test")
    if args.noise_px < 0:
        return _error("--noise-px must be >= 0")
    noise = DetectorNoise.with_std(args.noise_px)
    try:
        return convert_corpus(args, noise) if args.root else convert_files(args, noise)
    except INPUT_ERRORS as exc:
        return _error(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)


if __name__ == "__main__":
    sys.exit(main())
