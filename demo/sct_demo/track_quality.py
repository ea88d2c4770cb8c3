"""Does a followed track still look like a person? Per-frame quality signals and the rule that ends a ghost.

A *ghost* is a track that holds one of the offline backend's few slots although nobody stands there: a
false detection of the people detector on which BlazePose, in tracking mode, keeps drawing a skeleton, a
second skeleton on part of a person already followed, or a track that slid off its person onto the
background or onto somebody else. Signals measured on every frame (:func:`frame_quality`):

* ``visibility``: the mean BlazePose visibility of the 12 limb landmarks (shoulders, elbows, wrists, hips,
  knees, ankles): how sure the landmark model is that these points are in view and not hidden;
* ``bones``: the fraction of the 8 limb bones (upper arms, forearms, thighs, shins) whose length lies
  within ``bone_range`` times the torso length (mid-shoulders to mid-hips); a torso shorter than
  ``min_torso_px`` pixels makes every bone implausible;
* ``detector``: on frames where the people detector ran, whether one of its boxes agrees with the track (holds
  at least ``agree_inside`` of the track's box and is of its size: height ratio within ``agree_height``);
  ``None`` on other frames;
* recorded, not judged: ``jump`` and ``scale``, how far the box around all 33 landmarks moved since the
  track's previous pose (box centre shift per frame, in box heights) and how much its height changed.
  BlazePose's box on a person changes too much (up to 8 times its height between two frames on the test
  videos) to tell a track that slid onto somebody else from one that did not.

A frame is *bad* when visibility is below ``min_visibility``, fewer than ``min_bones`` of the bones are
plausible, no pose was found while the track has never had a good frame (a detection on which BlazePose
finds nobody), or, from the ``detector_misses``-th detector run in a row that did not agree with the track,
until one agrees again. :class:`TrackHealth` ends a track once ``max_bad`` of its last ``window`` frames
were bad (a ghost from its first frame ends on its ``max_bad``-th frame); its frames from the first of
those bad frames on are then dropped from the track (they are not the person).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

# BlazePose landmark indices: shoulders, elbows, wrists, hips, knees, ankles (left, right)
LIMB_LANDMARKS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
LIMB_BONES = ((11, 13), (13, 15), (12, 14), (14, 16), (23, 25), (25, 27), (24, 26), (26, 28))


@dataclass(frozen=True)
class QualityRule:
    """Thresholds of the ghost rule (module docstring); the defaults are the measured ones of docs/DEMO.md."""

    min_visibility: float = 0.35
    min_bones: float = 0.75
    bone_range: tuple[float, float] = (0.15, 1.5)
    min_torso_px: float = 8.0
    agree_inside: float = 0.6
    agree_height: tuple[float, float] = (0.4, 1.2)
    detector_misses: int = 2
    window: int = 10
    max_bad: int = 6

    def __post_init__(self) -> None:
        if not 1 <= self.max_bad <= self.window:
            raise ValueError(f"need 1 <= max_bad <= window, got max_bad={self.max_bad}, window={self.window}")


@dataclass(frozen=True)
class FrameQuality:
    """The signals of one track on one frame; ``pose`` False when BlazePose found nobody in the crop."""

    frame: int
    pose: bool
    visibility: float = float("nan")
    bones: float = float("nan")
    detector: bool | None = None
    jump: float = float("nan")
    scale: float = float("nan")
    bad: bool = False
    full_box: tuple[float, float, float, float] | None = None


def limb_visibility(landmarks: np.ndarray) -> float:
    """Mean visibility (third column) of the 12 limb landmarks of ``(33, 3+)`` landmarks."""
    return float(np.mean(np.asarray(landmarks)[list(LIMB_LANDMARKS), 2]))


def plausible_bones(landmarks: np.ndarray, rule: QualityRule) -> float:
    """Fraction of the 8 limb bones whose length / torso length lies in ``rule.bone_range``."""
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    torso = float(np.linalg.norm((xy[11] + xy[12]) / 2 - (xy[23] + xy[24]) / 2))
    if not np.isfinite(torso) or torso < rule.min_torso_px:
        return 0.0
    lengths = np.array([np.linalg.norm(xy[a] - xy[b]) for a, b in LIMB_BONES]) / torso
    lo, hi = rule.bone_range
    return float(np.mean((lengths >= lo) & (lengths <= hi)))


def detector_agrees(box: np.ndarray, detections: np.ndarray, rule: QualityRule) -> bool:
    """Whether a detection ``(K, 4+)`` holds at least ``rule.agree_inside`` of ``box``'s area and is of its
    size (box height / detection height within ``rule.agree_height``)."""
    if len(detections) == 0:
        return False
    b = np.asarray(box, dtype=np.float64)[:4]
    d = np.asarray(detections, dtype=np.float64)[:, :4]
    iw = np.clip(np.minimum(b[2], d[:, 2]) - np.maximum(b[0], d[:, 0]), 0, None)
    ih = np.clip(np.minimum(b[3], d[:, 3]) - np.maximum(b[1], d[:, 1]), 0, None)
    inside = iw * ih / max((b[2] - b[0]) * (b[3] - b[1]), 1e-9)
    ratio = (b[3] - b[1]) / np.maximum(d[:, 3] - d[:, 1], 1e-9)
    lo, hi = rule.agree_height
    return bool(((inside >= rule.agree_inside) & (ratio >= lo) & (ratio <= hi)).any())


def frame_quality(frame: int, landmarks: np.ndarray | None, box: np.ndarray | None, detections: np.ndarray | None,
                  rule: QualityRule, confirmed: bool, previous: FrameQuality | None = None) -> FrameQuality:
    """The quality of one track on one frame.

    ``landmarks`` ``(33, 3+)`` in pixels (None: no pose found), ``box`` the track's box from them,
    ``detections`` the people detector's boxes when it ran on this frame (else None), ``confirmed`` whether
    the track has had a good frame before (a lost pose is bad only for an unconfirmed track), ``previous``
    the track's last frame with a pose (for the jump of the box around all 33 landmarks).
    """
    if landmarks is None:
        return FrameQuality(frame=frame, pose=False, bad=not confirmed)
    lm = np.asarray(landmarks, dtype=np.float64)
    full = (*lm[:, :2].min(axis=0).tolist(), *lm[:, :2].max(axis=0).tolist())
    vis = limb_visibility(lm)
    bones = plausible_bones(lm, rule)
    agree = None if detections is None or box is None else detector_agrees(box, detections, rule)
    jump = scale = float("nan")
    if previous is not None and previous.full_box is not None:
        p = np.asarray(previous.full_box)
        height = max(p[3] - p[1], 1e-9)
        shift = np.linalg.norm((np.add(full[:2], full[2:]) - (p[:2] + p[2:])) / 2)
        jump = float(shift / height / max(frame - previous.frame, 1))
        scale = float((full[3] - full[1]) / height)
    bad = vis < rule.min_visibility or bones < rule.min_bones
    return FrameQuality(frame=frame, pose=True, visibility=vis, bones=bones, detector=agree, jump=jump, scale=scale,
                        bad=bad, full_box=full)


@dataclass
class TrackHealth:
    """The quality history of one track and the verdict of the rule: :meth:`add` returns True when it ends."""

    rule: QualityRule = field(default_factory=QualityRule)
    history: list[FrameQuality] = field(default_factory=list)
    confirmed: bool = False
    detector_misses: int = 0  # detector runs in a row that did not agree with the track
    _recent: deque = field(default_factory=deque)

    def add(self, quality: FrameQuality) -> bool:
        """Record one frame; True when ``max_bad`` of the last ``window`` frames were bad (the track ends).

        From the ``detector_misses``-th detector run in a row that did not agree with the track on, every
        frame is bad until the detector agrees again."""
        if quality.detector is not None:
            self.detector_misses = 0 if quality.detector else self.detector_misses + 1
        if quality.pose and self.detector_misses >= self.rule.detector_misses:
            quality = replace(quality, bad=True)
        self.history.append(quality)
        if quality.pose and not quality.bad:
            self.confirmed = True
        self._recent.append(quality.bad)
        if len(self._recent) > self.rule.window:
            self._recent.popleft()
        return sum(self._recent) >= self.rule.max_bad

    @property
    def last_pose(self) -> FrameQuality | None:
        """The last frame with a pose, or None."""
        return next((q for q in reversed(self.history) if q.pose), None)

    def final_frames(self) -> list[int]:
        """The frames to drop from a track ended by the rule: from its first bad frame among the last
        ``window`` frames to its end (the run in which it stopped looking like a person)."""
        recent = self.history[-self.rule.window:]
        first = next((i for i, q in enumerate(recent) if q.bad), len(recent))
        return [q.frame for q in recent[first:]]

    @property
    def ghost(self) -> bool:
        """Whether the track never had a good frame."""
        return not self.confirmed
