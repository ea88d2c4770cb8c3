"""A folder tree of motion capture (BVH) -> a Human3.6M pickle split by subject.

Every ``*.bvh`` / ``*.bvh.gz`` file under a root folder is one clip. A clip index (JSON, by default
``mocap_maps/cmu_clips.json``) names each file's subject, motion, action label and, where the header is
wrong, its true frame rate; files it does not list take the subject from a CMU-style name
``SUBJECT_TAKE.bvh``. Patterns ``GLOB=FPS`` override frame rates on top. Each file's joint map is chosen
from its joint names (:func:`lib.data.sources.mocap.select_joint_map`).

Clips are split by subject: the test subjects (and optional validation subjects) are held out whole.
Training clips get a new body each (bone lengths scaled, :func:`rescale_bones`), a random heading and
place, and the four cameras of a random training calibration; held-out clips keep their true bodies and
are seen by the held-out calibrations (S9, S11). Optionally the synthetic generator's motion is mixed into
the training split.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...utils.rotations import axis_rotation
from .bvh import read_bvh
from .h36m_cameras import load_h36m_cameras
from .h36m_render import (
    CAPTURE_CENTER,
    H36M_ACTIONS,
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    DetectorNoise,
    Video,
    build_split,
    place_in_capture_area,
)
from .mocap import bvh_to_world, load_joint_map, select_joint_map
from .mocap_augment import (
    TEST_CAMERA_RANGES,
    TRAIN_CAMERA_RANGES,
    AugmentConfig,
    bone_lengths,
    proportion_factors,
    recombine,
    rescale_bones,
    synthetic_on_body,
    wild_cameras,
)
from .synthetic_h36m import SyntheticConfig, bone_scale_factors, synthesize_videos

CLIPS_JSON = Path(__file__).with_name("mocap_corpora") / "cmu.json"
BVH_SUFFIXES = (".bvh", ".bvh.gz")
_CMU_NAME = re.compile(r"^(\d+)_(\d+)$")


class MocapCorpusError(ValueError):
    """A corpus that cannot be converted; the message names the file and what is wrong."""


@dataclass(frozen=True)
class MocapClip:
    """One BVH file of the corpus: ``rel`` its path below the root without the suffix, ``fps`` its true
    frame rate (``None``: the header's)."""

    path: str
    rel: str
    subject: str
    action: str
    motion: str
    fps: float | None = None


def _stem(rel: str) -> str:
    for suffix in BVH_SUFFIXES[::-1]:  # .bvh.gz before .bvh
        if rel.endswith(suffix):
            return rel[: -len(suffix)]
    return rel


def find_bvh_files(root: str | os.PathLike) -> list[Path]:
    """Every ``.bvh`` / ``.bvh.gz`` file below ``root``, sorted; :class:`MocapCorpusError` if none."""
    root = Path(root)
    if not root.is_dir():
        raise MocapCorpusError(f"{root}: not a folder (give the folder that holds the BVH files)")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(BVH_SUFFIXES))
    if not files:
        raise MocapCorpusError(f"{root}: empty folder, no .bvh or .bvh.gz file below it")
    return files


def load_clip_index(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """The ``clips`` table of a clip-index JSON (default :data:`CLIPS_JSON`)."""
    path = Path(path or CLIPS_JSON)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise MocapCorpusError(f"{path}: clip index not found") from None
    except json.JSONDecodeError as exc:
        raise MocapCorpusError(f"{path}: not valid JSON ({exc})") from None
    clips = doc.get("clips") if isinstance(doc, dict) else None
    if not isinstance(clips, dict):
        raise MocapCorpusError(f"{path}: expected an object with a 'clips' table")
    for key, entry in clips.items():
        if not isinstance(entry, dict) or "subject" not in entry:
            raise MocapCorpusError(f"{path}: clip '{key}' needs at least a 'subject'")
    return clips


def parse_fps_overrides(items: Sequence[str]) -> list[tuple[str, float]]:
    """``["acrnn/salsa/*=60", ...]`` -> ``[(pattern, fps), ...]`` (glob patterns on the path below the
    root, with or without the suffix)."""
    out = []
    for item in items:
        pattern, sep, value = item.rpartition("=")
        try:
            fps = float(value)
        except ValueError:
            fps = -1.0
        if not sep or not pattern or not fps > 0:
            raise MocapCorpusError(f"frame-rate override '{item}' is not PATTERN=FPS with FPS > 0 "
                                   "(e.g. 'acrnn/salsa/*=60')")
        out.append((pattern, fps))
    return out


def _index_entry(rel_stem: str, index: dict[str, dict]) -> dict | None:
    """The index entry of a file: the key equal to its path, else the one key that ends the path or that
    the path ends (at a folder boundary: 'salsa/01' and 'cmu/acrnn/salsa/01' both find 'acrnn/salsa/01')."""
    if rel_stem in index:
        return index[rel_stem]
    matches = [entry for key, entry in index.items()
               if key.endswith("/" + rel_stem) or rel_stem.endswith("/" + key)]
    return matches[0] if len(matches) == 1 else None


def describe_clips(root: str | os.PathLike, files: Sequence[Path], index: dict[str, dict],
                   fps_overrides: Sequence[tuple[str, float]] = ()) -> list[MocapClip]:
    """Subject, action, motion and frame rate of every file (see the module docstring)."""
    root = Path(root)
    clips = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        stem = _stem(rel)
        entry = _index_entry(stem, index)
        if entry is None:
            match = _CMU_NAME.match(Path(stem).name)
            if match is None:
                raise MocapCorpusError(f"{path}: cannot tell the subject: name the file SUBJECT_TAKE.bvh "
                                       f"(CMU style, e.g. 12_03.bvh) or list it in a clip index (--clips)")
            entry = {"subject": match.group(1), "motion": Path(stem).name}
        fps = entry.get("fps")
        for pattern, value in fps_overrides:
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(stem, pattern):
                fps = value
        motion = str(entry.get("motion", Path(stem).name))
        clips.append(MocapClip(str(path), stem, str(entry["subject"]), str(entry.get("action", motion)),
                               motion, None if fps is None else float(fps)))
    return clips


def split_by_subject(clips: Sequence[MocapClip], test_subjects: Sequence[str],
                     val_subjects: Sequence[str] = (), train_subjects: Sequence[str] | None = None
                     ) -> dict[str, list[MocapClip]]:
    """``{"train", "test", "validation"}`` lists of clips, whole subjects in each.

    ``train_subjects`` ``None``: every subject not held out. A subject named in two lists, a named
    subject with no clip, or an empty train or test split is a :class:`MocapCorpusError`.
    """
    test, val = [str(s) for s in test_subjects], [str(s) for s in val_subjects]
    have = {c.subject for c in clips}
    named = {"test": test, "validation": val}
    if train_subjects is not None:
        named["train"] = [str(s) for s in train_subjects]
    lists = list(named.items())
    for i, (name_a, subj_a) in enumerate(lists):
        for name_b, subj_b in lists[i + 1:]:
            both = sorted(set(subj_a) & set(subj_b))
            if both:
                example = next((c.path for c in clips if c.subject == both[0]), "no file")
                raise MocapCorpusError(f"{example}: subject {both[0]} is in both the {name_a} and the "
                                       f"{name_b} subjects; a subject belongs to one split")
    for name, subjects in named.items():
        absent = sorted(set(subjects) - have)
        if absent:
            raise MocapCorpusError(f"{name} subject(s) {', '.join(absent)} have no clip in the corpus "
                                   f"(subjects found: {', '.join(sorted(have))})")
    held = set(test) | set(val)
    train_set = set(named["train"]) if train_subjects is not None else have - held
    out = {"train": [c for c in clips if c.subject in train_set],
           "test": [c for c in clips if c.subject in set(test)],
           "validation": [c for c in clips if c.subject in set(val)]}
    for split in ("train", "test"):
        if not out[split]:
            raise MocapCorpusError(f"the {split} split has no clip (subjects found: {', '.join(sorted(have))})")
    return out


def turn_about_vertical(joints: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a z-up sequence (T, J, 3) by ``angle`` radians about the vertical through the middle of
    its root path."""
    root = joints[:, 0, :2]
    mid = np.append((root.min(axis=0) + root.max(axis=0)) / 2, 0.0)
    return (joints - mid) @ axis_rotation(2, angle).T + mid


@dataclass
class CorpusConfig:
    """How the corpus becomes a pickle. ``body``: range of the body scale drawn per training clip,
    ``bone_spread``: std of the per-bone factors; ``place_radius`` mm: how far from the capture centre a
    clip's path is centred; ``synthetic_fraction``: share of training frames from the synthetic
    generator."""

    seed: int = 0
    noise: DetectorNoise = field(default_factory=DetectorNoise)
    body: tuple[float, float] = (0.9, 1.2)
    bone_spread: float = 0.05
    place_radius: float = 300.0
    synthetic_fraction: float = 0.0
    joint_map: str | None = None  # None: chosen per file from its joint names
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def _clip_world(clip: MocapClip, cfg: CorpusConfig) -> np.ndarray:
    joint_map = load_joint_map(cfg.joint_map) if cfg.joint_map else None
    return bvh_to_world(clip.path, joint_map, fps=clip.fps)


def clip_map_name(clip: MocapClip, cfg: CorpusConfig) -> str:
    """Name of the joint map used for a clip (the forced one or the one its joint names choose)."""
    if cfg.joint_map:
        return cfg.joint_map
    return select_joint_map(read_bvh(clip.path).names, clip.path)[0]


def _synthetic_videos(n_frames: int, cfg: CorpusConfig) -> list[Video]:
    """Synthetic training videos of about ``n_frames`` frames in all (whole videos, random order)."""
    if n_frames <= 0:
        return []
    actions = [a for a in H36M_ACTIONS if a not in set(cfg.augment.synthetic_exclude)]
    syn = SyntheticConfig(seed=cfg.seed, train_subjects=TRAIN_SUBJECTS, test_subjects=(), actions=actions)
    per_round = len(syn.train_subjects) * len(syn.actions)
    mean_len = sum(syn.frames) / 2
    syn.subactions = max(1, math.ceil(n_frames / mean_len / per_round))
    videos = synthesize_videos(syn, syn.train_subjects)
    order = np.random.default_rng([cfg.seed, 5151]).permutation(len(videos))
    chosen, total = [], 0
    for i in order:
        if total >= n_frames:
            break
        v = videos[i]
        chosen.append(Video(v.joints_world, v.subject, v.action, v.subaction,
                            source=f"synthetic/{v.subject}_{v.action}_{v.subaction:02d}"))
        total += len(v.joints_world)
    return chosen


def _augment_seed(cfg: CorpusConfig, split: str, k: int, what: int) -> np.random.Generator:
    """The generator of one augmentation (``what``) of clip ``k``: apart from the clip's own draws, so a
    switched-off augmentation leaves every other draw (and the shipped recipe's data) unchanged."""
    return np.random.default_rng([cfg.seed, ("train", "test", "validation").index(split), k, what])


def build_mocap_dataset(splits: dict[str, list[MocapClip]], cfg: CorpusConfig, progress=None
                        ) -> tuple[dict, dict | None, list[dict]]:
    """Render the clips of :func:`split_by_subject` into pickle dicts.

    Returns ``(data, validation_data, clip_table)``: ``data`` has the train split and the test split,
    ``validation_data`` (``None`` without validation clips) the same train split and the validation clips
    as its test split; both carry ``"subjects"`` (subjects per split). ``clip_table``: one dict per
    clip (file, split, subject, action, fps, frames, body scale, augmentation). ``progress``:
    ``update(n)`` per clip. ``cfg.augment`` (:class:`AugmentConfig`) switches the augmentations and the
    unlike-the-corpus held-out sets on.
    """
    if not 0 <= cfg.synthetic_fraction < 1:
        raise MocapCorpusError(f"synthetic fraction must be in [0, 1), got {cfg.synthetic_fraction}")
    aug = cfg.augment
    try:
        aug.check()
    except ValueError as exc:
        raise MocapCorpusError(str(exc)) from None
    cameras = load_h36m_cameras()
    table: list[dict] = []
    videos: dict[str, list[Video]] = {}
    worlds = {split: [_clip_world(clip, cfg) for clip in clips] for split, clips in splits.items()}
    for split, clips in splits.items():
        videos[split] = []
        for k, clip in enumerate(clips):
            rng = np.random.default_rng([cfg.seed, ("train", "test", "validation").index(split), k])
            world = worlds[split][k]
            scale, note = 1.0, ""
            if split == "train":
                if aug.recombine > 0 and len(clips) > 1:
                    r = _augment_seed(cfg, split, k, 1)
                    if r.random() < aug.recombine:
                        donor = int((k + 1 + r.integers(len(clips) - 1)) % len(clips))
                        part = ("upper", "arms")[int(r.integers(2))]
                        world = recombine(world, worlds[split][donor], part, r)
                        note = f"{part} of {clips[donor].rel}"
                factors = bone_scale_factors(rng, cfg.body, cfg.bone_spread)
                scale = float(np.median(factors[1:]))
                if aug.proportions > 0:
                    factors = factors * proportion_factors(_augment_seed(cfg, split, k, 2), aug.proportions)
                world = rescale_bones(world, factors)
                camera_subject = TRAIN_SUBJECTS[int(rng.integers(len(TRAIN_SUBJECTS)))]
            else:
                camera_subject = TEST_SUBJECTS[k % len(TEST_SUBJECTS)]
                if aug.heldout_synthetic:
                    r = _augment_seed(cfg, split, k, 4)
                    action = aug.heldout_synthetic[k % len(aug.heldout_synthetic)]
                    world = synthetic_on_body(bone_lengths(world), action, int(r.integers(330, 421)), r)
                    note = f"synthetic {action} on this body"
                    clip = MocapClip(clip.path, f"synthetic/{action}/{clip.rel}", clip.subject, action,
                                     f"synthetic {action}", clip.fps)
            world = turn_about_vertical(world, rng.uniform(0, 2 * np.pi))
            angle, radius = rng.uniform(0, 2 * np.pi), cfg.place_radius * np.sqrt(rng.uniform())
            center = np.asarray(CAPTURE_CENTER) + radius * np.array([np.cos(angle), np.sin(angle)])
            world = place_in_capture_area(world, center=center)
            wild = (aug.heldout_cameras == "wild") if split != "train" else (
                aug.camera_variety > 0 and _augment_seed(cfg, split, k, 3).random() < aug.camera_variety)
            if wild:
                camera_subject = f"wild/{split}/{k}"
                ranges = TRAIN_CAMERA_RANGES if split == "train" else TEST_CAMERA_RANGES
                cameras[camera_subject] = wild_cameras(world, _augment_seed(cfg, split, k, 5), ranges)
            videos[split].append(Video(world, camera_subject, clip.action, k + 1, source=clip.rel))
            row = {"file": clip.rel, "split": split, "subject": clip.subject, "action": clip.action,
                   "motion": clip.motion, "fps": clip.fps, "frames_50fps": len(world),
                   "cameras": "wild" if wild else camera_subject, "body_scale": round(scale, 3)}
            if note:
                row["augmentation"] = note
            table.append(row)
            if progress is not None:
                progress.update(1)
    real = sum(len(v.joints_world) for v in videos["train"])
    f = cfg.synthetic_fraction
    n_real = len(videos["train"])
    videos["train"] += _synthetic_videos(int(round(real * f / (1 - f))), cfg)
    for k in range(n_real, len(videos["train"]) if aug.camera_variety > 0 else 0):
        if _augment_seed(cfg, "train", k, 3).random() < aug.camera_variety:
            v = videos["train"][k]
            v.subject = f"wild/train/{k}"
            cameras[v.subject] = wild_cameras(v.joints_world, _augment_seed(cfg, "train", k, 5),
                                              TRAIN_CAMERA_RANGES)

    def rng_for(split: str):
        code = ("train", "test", "validation").index(split)
        return lambda vi, ci: np.random.default_rng([cfg.seed, 100 + code, vi, ci])

    rendered = {split: build_split(v, cameras, rng_for(split), cfg.noise, test=(split != "train"))
                for split, v in videos.items()}
    subjects = {split: sorted({c.subject for c in clips}) for split, clips in splits.items()}
    data = {"train": rendered["train"], "test": rendered["test"],
            "subjects": {"train": subjects["train"], "test": subjects["test"]}}
    val = None
    if splits.get("validation"):
        val = {"train": rendered["train"], "test": rendered["validation"],
               "subjects": {"train": subjects["train"], "test": subjects["validation"]}}
    return data, val, table
