"""Motion capture (BVH) -> Human3.6M pickle in MotionBERT's layout.

A joint-name map (``lib/data/sources/mocap_maps/<name>.json``: ``units_to_mm``, ``up_axis`` and ``joints``, one
BVH joint per Human3.6M joint) picks the 17 joints; positions are scaled to millimetres, turned to the
Human3.6M world (z up), resampled to 50 fps, placed inside the capture area and seen through the
Human3.6M cameras exactly as the synthetic generator does (:mod:`lib.data.sources.h36m_render`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lib.data.sources.bvh import read_bvh
from lib.data.sources.h36m_cameras import load_h36m_cameras
from lib.data.sources.h36m_render import FPS, DetectorNoise, Video, build_split, place_in_capture_area
from lib.utils.skeleton import H36M_JOINT_NAMES

MAPS_DIR = Path(__file__).with_name("mocap_maps")


class MocapMapError(ValueError):
    """A joint-name map that cannot be used; the message names the file and the key."""


def load_joint_map(name_or_path: str) -> dict:
    """Load a joint map by name (``cmu``) or path to a JSON file; validated."""
    path = Path(name_or_path)
    if not path.suffix:
        path = MAPS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in MAPS_DIR.glob("*.json"))
        raise FileNotFoundError(f"joint map {name_or_path} not found (built-in maps: {known}, or give a JSON path)")
    with open(path, encoding="utf-8") as fh:
        try:
            spec = json.load(fh)
        except json.JSONDecodeError as exc:
            raise MocapMapError(f"{path}: not valid JSON ({exc})") from exc
    for key in ("units_to_mm", "up_axis", "joints"):
        if key not in spec:
            raise MocapMapError(f"{path}: missing key '{key}'")
    missing = [j for j in H36M_JOINT_NAMES if j not in spec["joints"]]
    if missing:
        raise MocapMapError(f"{path}: 'joints' lacks {missing} (needs all 17 Human3.6M joints)")
    if spec["up_axis"] not in ("y", "z"):
        raise MocapMapError(f"{path}: 'up_axis' must be 'y' or 'z', got {spec['up_axis']!r}")
    return spec


def resample(positions: np.ndarray, src_fps: float, dst_fps: float = FPS) -> np.ndarray:
    """Linear interpolation in time of (T, J, 3) from ``src_fps`` to ``dst_fps`` (frames at k / dst_fps
    within the clip's duration)."""
    t = len(positions)
    if t < 2:
        return positions.copy()
    duration = (t - 1) / src_fps
    new_t = np.arange(int(np.floor(duration * dst_fps + 1e-9)) + 1) / dst_fps
    x = new_t * src_fps
    lo = np.minimum(np.floor(x).astype(int), t - 2)
    w = (x - lo)[:, None, None]
    return positions[lo] * (1 - w) + positions[lo + 1] * w


def bvh_to_world(path: str | os.PathLike, joint_map: dict) -> np.ndarray:
    """A BVH file's motion as Human3.6M world joints (T, 17, 3) mm, z up, 50 fps, inside the capture
    area (not yet seen by any camera)."""
    motion = read_bvh(path)
    pos = motion.positions()
    idx = [motion.index(joint_map["joints"][name]) for name in H36M_JOINT_NAMES]
    joints = pos[:, idx] * float(joint_map["units_to_mm"])
    if joint_map["up_axis"] == "y":  # (x, y, z) y-up -> (x, -z, y) z-up: a rotation, no mirroring
        joints = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    joints = resample(joints, motion.fps, FPS)
    return place_in_capture_area(joints)


def convert_mocap(train_files: Sequence[str], test_files: Sequence[str], joint_map: dict,
                  train_subject: str = "S1", test_subject: str = "S9", action: str = "Walking",
                  seed: int = 0, noise: DetectorNoise | None = None, progress=None) -> dict:
    """Build the pickle dict from BVH files: each file one video (subaction 1, 2, ... in the order given)
    of ``action``, seen by the four cameras of ``train_subject`` (train split) or ``test_subject`` (test).
    ``noise``: the detector noise model (default :class:`DetectorNoise`)."""
    noise = noise or DetectorNoise()
    cameras = load_h36m_cameras()
    for subject in (train_subject, test_subject):
        if subject not in cameras:
            raise ValueError(f"no camera calibration for subject '{subject}'; choose from {sorted(cameras)}")
    out = {}
    for split, files, subject in (("train", train_files, train_subject), ("test", test_files, test_subject)):
        videos = []
        for k, f in enumerate(files):
            videos.append(Video(bvh_to_world(f, joint_map), subject, action, k + 1))

        def rng_for(vi: int, ci: int, _split=split) -> np.random.Generator:
            return np.random.default_rng([seed, 0 if _split == "train" else 1, vi, ci])

        out[split] = build_split(videos, cameras, rng_for, noise, test=(split == "test"), progress=progress)
    return out
