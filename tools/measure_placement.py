"""Measure how well ``sct.placement`` puts people in the camera frame, and ``sct.world`` finds up and the
floor, on held-out real motion seen by cameras whose focal length, position and tilt are known.

The held-out test subjects of the shipped lifters (CMU 06 and 135, docs/EXPERIMENTS.md) are seen, as in
their test split, by the held-out Human3.6M camera sets (S9, S11; four cameras each, f about 1145 px for
1000 px images, 4-6 m away) with detector-like 2D noise. For every view, the root-relative 3D pose comes
from the ground truth or from the shipped SCT lifter (``--checkpoint``), scaled to a body height, and is
placed from the noisy 2D keypoints:

* true focal + true height: the camera's focal length; the pose scaled to the subject's true skeleton
  height (median over the clip of ``demo``'s :func:`skeleton_height`, ankle to head joint);
* defaults: :func:`sct.placement.default_focal` and a skeleton height of 1700 mm (the demo's ``--height``);
* and each default alone.

Printed: the median root position error and root depth error in mm and as a fraction of the camera
distance (over every frame of every view), and the world frame's up-direction error (degrees) and camera
height error (mm) per view.

    python tools/measure_placement.py --root ../shared/data/cmu_mocap
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from lib.data.sources.bvh import BVHError
from lib.data.sources.h36m_cameras import load_h36m_cameras
from lib.data.sources.h36m_render import TEST_SUBJECTS, DetectorNoise, place_in_capture_area, render_camera
from lib.data.sources.mocap import MocapMapError, bvh_to_world
from lib.data.sources.mocap_corpus import (
    MocapCorpusError,
    describe_clips,
    find_bvh_files,
    load_clip_index,
    split_by_subject,
    turn_about_vertical,
)
from lib.utils.atomic_io import write_text_atomic
from sct import DEFAULT_HEIGHT_MM, Lifter, skeleton_height
from sct.placement import default_focal, root_translation, scale_each_frame
from sct.world import estimate_world_frame

REPO_ROOT = Path(__file__).resolve().parents[1]
HELDOUT_SUBJECTS = ("06", "135")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python tools/measure_placement.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, metavar="DIR", help="the CMU corpus folder (.bvh / .bvh.gz files)")
    p.add_argument("--subjects", nargs="+", default=list(HELDOUT_SUBJECTS), metavar="S",
                   help="CMU subjects to measure on (default: the held-out test subjects 06 135)")
    p.add_argument("--checkpoint", default=str(REPO_ROOT / "checkpoint/mocap/sct/best_epoch.bin"),
                   help="lifter checkpoint (default: the shipped SCT trained on CMU motion, "
                        "checkpoint/mocap/sct/best_epoch.bin)")
    p.add_argument("--config", default=str(REPO_ROOT / "configs/mocap/sct.yaml"),
                   help="the checkpoint's config (default configs/mocap/sct.yaml)")
    p.add_argument("--no-lifter", action="store_true", help="measure with the ground-truth 3D poses only")
    p.add_argument("--noise-px", type=float, default=DetectorNoise.std_px,
                   help=f"std of the 2D detector noise in pixels (default {DetectorNoise.std_px})")
    p.add_argument("--scale", choices=["frame", "video"], default="frame",
                   help="scale the 3D poses to the height in every frame (sct.placement.scale_each_frame, default) "
                        "or with one factor per clip (as the demo's poses_mm up to issue 25)")
    p.add_argument("--smooth", type=float, default=2.0, help="placement smoothing sigma in frames (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the heading, place and noise (default 0)")
    p.add_argument("--max-clips", type=int, default=None, metavar="N", help="only the first N clips (quick run)")
    p.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    return p


def held_out_views(root: str, subjects: list[str], seed: int, noise: DetectorNoise, max_clips: int | None):
    """Yield ``(clip name, camera, camera-frame joints (T, 17, 3) mm, noisy 2D (T, 17, 3) px + confidence,
    true skeleton height mm)`` for every clip of ``subjects`` and every camera of its held-out set, placed
    as in the converter's test split (heading, place, camera set S9/S11 alternating)."""
    clips = describe_clips(root, find_bvh_files(root), load_clip_index())
    clips = split_by_subject(clips, subjects, train_subjects=sorted({c.subject for c in clips} - set(subjects)))
    cameras = load_h36m_cameras()
    for k, clip in enumerate(clips["test"][:max_clips]):
        rng = np.random.default_rng([seed, 1, k])
        world = turn_about_vertical(bvh_to_world(clip.path, fps=clip.fps), rng.uniform(0, 2 * np.pi))
        world = place_in_capture_area(world)
        height = float(np.median(skeleton_height(world)))
        for ci, camera in enumerate(cameras[TEST_SUBJECTS[k % len(TEST_SUBJECTS)]]):
            view = render_camera(world, camera, np.random.default_rng([seed, 101, k, ci]), noise)
            kpts = np.concatenate([view["joint_2d"], view["confidence"]], axis=-1).astype(np.float64)
            yield clip.rel, camera, world, camera.world_to_camera(world), kpts, height


def summarize(errors: dict[str, list[np.ndarray]]) -> dict[str, float]:
    cat = {k: np.concatenate(v) for k, v in errors.items()}
    return {"root_mm": float(np.median(cat["root"])), "root_frac": float(np.median(cat["root"] / cat["dist"])),
            "depth_mm": float(np.median(cat["depth"])), "depth_frac": float(np.median(cat["depth"] / cat["dist"])),
            "frames": int(len(cat["root"]))}


def measure(args: argparse.Namespace) -> dict:
    noise = DetectorNoise.with_std(args.noise_px)
    lifter = None if args.no_lifter else Lifter.from_checkpoint(args.checkpoint, args.config, device="cpu")
    sources = ["ground truth"] + ([] if lifter is None else ["SCT lifter"])
    settings = ("true focal + height", "true focal, default height", "default focal, true height", "defaults")
    errors = {(s, c): {"root": [], "depth": [], "dist": []} for s in sources for c in settings}
    world_errors = {(s, c): {k: [] for k in ("up_deg", "height_mm", "up_floor_deg", "height_floor_mm")}
                    for s in sources for c in settings}
    clips, true_heights = set(), []
    for name, camera, _world, cam, kpts, true_height in held_out_views(args.root, args.subjects, args.seed, noise,
                                                                       args.max_clips):
        clips.add(name)
        true_heights.append(round(true_height))
        size = (camera.res_w, camera.res_h)
        poses = {"ground truth": cam - cam[:, :1]}
        if lifter is not None:
            poses["SCT lifter"] = lifter.lift(kpts, *size)
        true_root, dist = cam[:, 0], np.linalg.norm(cam[:, 0], axis=-1)
        true_up = camera.R_c2w.T @ np.array([0.0, 0.0, 1.0])  # Human3.6M world: z up, floor at z = 0
        for source, pose in poses.items():
            for setting in settings:
                height = true_height if "true height" in setting or setting == settings[0] else DEFAULT_HEIGHT_MM
                focal = float(camera.focal_length.mean()) if setting.startswith("true focal") else default_focal(size)
                if args.scale == "frame":
                    pose_mm = scale_each_frame(pose[None], height, args.smooth)
                else:
                    pose_mm = pose[None] * height / np.median(skeleton_height(pose))
                t = root_translation(pose_mm, kpts[None], size, focal, smooth_sigma=args.smooth)[0]
                e = errors[(source, setting)]
                e["root"].append(np.linalg.norm(t - true_root, axis=-1))
                e["depth"].append(np.abs(t[:, 2] - true_root[:, 2]))
                e["dist"].append(dist)
                w = world_errors[(source, setting)]
                for suffix, use_floor in (("", False), ("_floor", True)):
                    frame = estimate_world_frame((pose_mm[0] + t[:, None])[None], use_floor=use_floor)
                    w[f"up{suffix}_deg"].append(math.degrees(math.acos(min(1.0, float(frame.up_camera @ true_up)))))
                    w[f"height{suffix}_mm"].append(abs(frame.camera_height_mm - camera.translation[2]))
    rows = []
    for (source, setting), e in errors.items():
        row = {"poses": source, "focal and height": setting, **summarize(e)}
        w = world_errors[(source, setting)]
        row.update({k: float(np.median(v)) for k, v in w.items()})
        row["views"] = len(w["up_deg"])
        rows.append(row)
    return {"clips": len(clips), "subjects": args.subjects, "noise_px": args.noise_px, "smooth": args.smooth,
            "scale": args.scale,
            "true_heights_mm": sorted(set(true_heights)), "rows": rows}


def format_table(result: dict) -> str:
    lines = ["| 3D poses | focal, height | median root error | median root depth error | up error: trunks "
             "(floor) | camera height error: trunks (floor) | frames |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['poses']} | {r['focal and height']} "
                     f"| {r['root_mm']:.0f} mm ({100 * r['root_frac']:.1f} %) "
                     f"| {r['depth_mm']:.0f} mm ({100 * r['depth_frac']:.1f} %) "
                     f"| {r['up_deg']:.1f} ({r['up_floor_deg']:.1f}) deg "
                     f"| {r['height_mm']:.0f} ({r['height_floor_mm']:.0f}) mm | {r['frames']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.noise_px >= 0 or not args.smooth >= 0:
        print("error: --noise-px and --smooth must be >= 0", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        result = measure(args)
    except (MocapCorpusError, MocapMapError, BVHError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = format_table(result)
    print(f"{result['clips']} clips of subjects {' '.join(args.subjects)}, 2D noise {args.noise_px} px, "
          f"smoothing sigma {args.smooth} frames, scaled per {args.scale}, {time.perf_counter() - start:.0f} s; "
          "true skeleton heights "
          f"{min(result['true_heights_mm'])}-{max(result['true_heights_mm'])} mm")
    print(table)
    if args.json:
        write_text_atomic(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
