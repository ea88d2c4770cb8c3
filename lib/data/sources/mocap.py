"""Motion capture (BVH) -> Human3.6M pickle in MotionBERT's layout.

A joint-name map (``lib/data/sources/mocap_maps/<name>.json``: ``units_to_mm``, ``up_axis`` and ``joints``, one
BVH joint per Human3.6M joint) picks the 17 joints; positions are scaled to millimetres, turned to the
Human3.6M world (z up), resampled to 50 fps, placed inside the capture area and seen through the
Human3.6M cameras exactly as the synthetic generator does (:mod:`lib.data.sources.h36m_render`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ...utils.skeleton import H36M_JOINT_NAMES
from .bvh import BVHError, BVHMotion, read_bvh
from .h36m_cameras import load_h36m_cameras
from .h36m_render import (
    CAPTURE_CENTER,
    FPS,
    DetectorNoise,
    Video,
    build_split,
    place_in_capture_area,
)

MAPS_DIR = Path(__file__).with_name("mocap_maps")
MAX_EXTENT_MM = 1e7
"""Joint coordinates (mm, before placement) beyond 10 km are refused: no capture is that large, and such values
overflow or swamp the float32 keypoints written."""


class MocapMapError(ValueError):
    """A joint-name map that cannot be used, or a BVH skeleton no map fits; the message names the file."""


def map_joint_names(spec: dict) -> set[str]:
    """Every BVH joint name a map refers to (the 17 joints' names and the names inside weighted means)."""
    names: set[str] = set()
    for value in spec["joints"].values():
        names.update([value] if isinstance(value, str) else value)
    return names


def _validate_map(spec: object, path: Path) -> dict:
    if not isinstance(spec, dict):
        raise MocapMapError(f"{path}: expected a JSON object")
    for key in ("units_to_mm", "up_axis", "joints"):
        if key not in spec:
            raise MocapMapError(f"{path}: missing key '{key}'")
    missing = [j for j in H36M_JOINT_NAMES if j not in spec["joints"]]
    if missing:
        raise MocapMapError(f"{path}: 'joints' lacks {missing} (needs all 17 Human3.6M joints)")
    if spec["up_axis"] not in ("y", "z"):
        raise MocapMapError(f"{path}: 'up_axis' must be 'y' or 'z', got {spec['up_axis']!r}")
    for joint, value in spec["joints"].items():
        weighted = isinstance(value, dict) and value and all(
            isinstance(k, str) and isinstance(w, (int, float)) for k, w in value.items())
        if not (isinstance(value, str) or weighted):
            raise MocapMapError(f"{path}: joint '{joint}' must be a BVH joint name or {{name: weight, ...}}")
        if weighted and abs(sum(value.values()) - 1.0) > 1e-6:
            raise MocapMapError(f"{path}: the weights of joint '{joint}' must sum to 1, got {sum(value.values())}")
    drop = spec.get("drop_first_frames", 0)
    if not isinstance(drop, int) or drop < 0:
        raise MocapMapError(f"{path}: 'drop_first_frames' must be an integer >= 0, got {drop!r}")
    for name, offset in spec.get("extra_offsets", {}).items():
        if not (isinstance(offset, list) and len(offset) == 3):
            raise MocapMapError(f"{path}: 'extra_offsets' of '{name}' must be three numbers")
    spec["_path"] = str(path)
    return spec


def load_joint_map(name_or_path: str) -> dict:
    """Load a joint map by name (``cmu``, ``cmu_motionbuilder``, ``cmu_daz``) or path to a JSON file;
    validated.

    Keys: ``units_to_mm``, ``up_axis`` (``y``/``z``), ``joints`` (Human3.6M joint -> a BVH joint name or
    ``{name: weight}``, a weighted mean of joints, weights summing to 1), optional ``drop_first_frames``
    (frames to skip at the start, e.g. an added T-pose) and ``extra_offsets`` (BVH joint -> a vector added
    to its OFFSET before forward kinematics, file units).
    """
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
    return _validate_map(spec, path)


def builtin_joint_maps() -> dict[str, dict]:
    """Every map in ``mocap_maps/`` by name."""
    return {p.stem: load_joint_map(str(p)) for p in sorted(MAPS_DIR.glob("*.json"))}


def select_joint_map(names: Sequence[str], source: str, maps: dict[str, dict] | None = None) -> tuple[str, dict]:
    """The map (name, spec) whose joint names all occur in a BVH hierarchy ``names``; among several, the
    one that refers to the most joints. :class:`MocapMapError` naming ``source`` when none fits."""
    maps = builtin_joint_maps() if maps is None else maps
    have = set(names)
    fits = [(len(map_joint_names(spec)), name) for name, spec in maps.items() if map_joint_names(spec) <= have]
    if not fits:
        closest = min(maps, key=lambda m: len(map_joint_names(maps[m]) - have))
        lacking = sorted(map_joint_names(maps[closest]) - have)
        raise MocapMapError(f"{source}: unknown skeleton, no joint map fits (closest: {closest}, which needs "
                            f"{', '.join(lacking[:6])}{' ...' if len(lacking) > 6 else ''}); write a map, see "
                            f"{MAPS_DIR}")
    best = sorted(fits, key=lambda fit: (-fit[0], fit[1]))[0][1]
    return best, maps[best]


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


def map_joints(motion: BVHMotion, joint_map: dict, source: str = "<bvh>") -> np.ndarray:
    """The 17 Human3.6M joints (T, 17, 3) of a parsed BVH in the file's units and axes, after the map's
    ``extra_offsets`` and ``drop_first_frames``."""
    missing = sorted(map_joint_names(joint_map) - set(motion.names))
    if missing:
        raise KeyError(f"{source}: no joint '{missing[0]}' in the BVH hierarchy (the map "
                       f"{joint_map.get('_path', '')} needs {', '.join(missing)})")
    extra = joint_map.get("extra_offsets", {})
    if extra:
        offsets = motion.offsets.copy()
        for name, vec in extra.items():
            offsets[motion.index(name)] += np.asarray(vec, dtype=np.float64)
        motion = replace(motion, offsets=offsets)
    drop = int(joint_map.get("drop_first_frames", 0))
    if drop and len(motion.motion) > drop:
        motion = replace(motion, motion=motion.motion[drop:])
    pos = motion.positions()
    out = np.zeros((len(pos), len(H36M_JOINT_NAMES), 3))
    for j, name in enumerate(H36M_JOINT_NAMES):
        value = joint_map["joints"][name]
        for joint, weight in ({value: 1.0} if isinstance(value, str) else value).items():
            out[:, j] += float(weight) * pos[:, motion.index(joint)]
    return out


def bvh_to_world(path: str | os.PathLike, joint_map: dict | None = None, fps: float | None = None,
                 center: Sequence[float] = CAPTURE_CENTER) -> np.ndarray:
    """A BVH file's motion as Human3.6M world joints (T, 17, 3) mm, z up, 50 fps, inside the capture
    area (not yet seen by any camera).

    ``joint_map``: a map (:func:`load_joint_map`); ``None`` chooses one from the joint names
    (:func:`select_joint_map`). ``fps``: the true frame rate when the header's ``Frame Time`` is wrong.
    """
    motion = read_bvh(path)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise BVHError(f"{path}: frame rate {fps} given for it; expected a finite number of frames per second > 0")
    if joint_map is None:
        _, joint_map = select_joint_map(motion.names, str(path))
    joints = map_joints(motion, joint_map, str(path)) * float(joint_map["units_to_mm"])
    far = np.argwhere(~(np.abs(joints) <= MAX_EXTENT_MM))
    if len(far):
        frame = int(far[0][0]) + (len(motion.motion) - len(joints))  # frames dropped at the start come first
        raise BVHError(f"{path}: frame {frame}: joint '{H36M_JOINT_NAMES[far[0][1]]}' has a coordinate of "
                       f"{joints[tuple(far[0])]:.3g} mm; expected a person within {MAX_EXTENT_MM / 1e6:g} km "
                       "(check the channel values and the map's units_to_mm)")
    if joint_map["up_axis"] == "y":  # (x, y, z) y-up -> (x, -z, y) z-up: a rotation, no mirroring
        joints = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    joints = resample(joints, fps or motion.fps, FPS)
    return place_in_capture_area(joints, center=center)


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
