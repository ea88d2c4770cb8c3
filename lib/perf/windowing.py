"""How the way a video is cut into windows changes accuracy and smoothness, on whole test videos.

For every test video of a Human3.6M-layout pickle (``test`` split: ``joint_2d`` pixels, ``confidence``,
``joints_2.5d_image`` millimetres, ``camera_name``, ``source``) the 2D keypoints are lifted by an
``sct.Lifter`` with each window plan, scaled to millimetres like the evaluation protocol (``w / 2`` times
the frame's ``2.5d_factor``) and compared with the ground truth, root-relative:

* P1: mean per-joint position error over all frames;
* acceleration error: ``|a_pred - a_gt|`` (second differences, mean over joints) in mm/frame², separately at
  window borders (the four frames around each place where a consecutive window starts: ``t`` with
  ``t mod L`` in ``{L-2, L-1, 0, 1}``, video ends excluded) and elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.h36m_resolution import camera_resolution


@dataclass
class TestVideo:
    """One test video: keypoints ``(T, 17, 3)`` px + confidence, ground truth ``(T, 17, 3)`` mm root-relative,
    the 2.5d factor per frame ``(T,)`` and the image size."""

    name: str
    keypoints: np.ndarray
    gt_mm: np.ndarray
    factor: np.ndarray
    width: int
    height: int


def test_videos(data: dict, cameras: Sequence[str] | None = None) -> list[TestVideo]:
    """The test videos of a loaded pickle (optionally only those seen by ``cameras``)."""
    test = data["test"]
    sources = np.asarray(test["source"])
    cams = np.asarray(test["camera_name"])
    videos = []
    for source in dict.fromkeys(sources.tolist()):
        idx = np.flatnonzero(sources == source)
        cam = str(cams[idx[0]])
        if cameras is not None and cam not in cameras:
            continue
        width, height = camera_resolution(cam)
        kp = np.concatenate([np.asarray(test["joint_2d"])[idx][..., :2],
                             np.asarray(test["confidence"])[idx].reshape(len(idx), 17, 1)], axis=-1)
        gt = np.asarray(test["joints_2.5d_image"])[idx].astype(np.float64)
        videos.append(TestVideo(str(source), kp.astype(np.float32), gt - gt[:, :1],
                                np.asarray(test["2.5d_factor"])[idx].astype(np.float64), width, height))
    return videos


def acceleration_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``(T - 2,)``: mean over joints of ``|Δ²pred - Δ²gt|`` for frames ``1 .. T-2``."""
    acc = (pred[2:] - 2 * pred[1:-1] + pred[:-2]) - (gt[2:] - 2 * gt[1:-1] + gt[:-2])
    return np.linalg.norm(acc, axis=-1).mean(axis=-1)


def border_mask(num_frames: int, window: int) -> np.ndarray:
    """``(T - 2,)`` bool for frames ``1 .. T-2``: within two frames of where a consecutive window starts."""
    t = np.arange(1, num_frames - 1)
    return np.isin(t % window, [window - 2, window - 1, 0, 1]) & (t >= window - 2)


@dataclass
class PlanScore:
    """P1 (mm) and acceleration errors (mm/frame²) of one way of lifting over all test videos."""

    name: str
    p1: float
    accel_border: float
    accel_elsewhere: float
    frames: int


def score_plan(name: str, lift: Callable[[TestVideo], np.ndarray], videos: Sequence[TestVideo],
               window: int) -> PlanScore:
    """Lift every video with ``lift`` (returning lifter units ``(T, 17, 3)``) and score it."""
    errors, acc_border, acc_else = [], [], []
    for v in videos:
        pred = lift(v).astype(np.float64) * (v.width / 2) * v.factor[:, None, None]
        pred -= pred[:, :1]
        errors.append(np.linalg.norm(pred - v.gt_mm, axis=-1).mean(axis=-1))
        if len(pred) > 2:
            acc = acceleration_error(pred, v.gt_mm)
            mask = border_mask(len(pred), window)
            acc_border.append(acc[mask])
            acc_else.append(acc[~mask])
    e = np.concatenate(errors)
    border, elsewhere = np.concatenate(acc_border), np.concatenate(acc_else)
    return PlanScore(name, float(e.mean()), float(border.mean()) if border.size else float("nan"),
                     float(elsewhere.mean()), len(e))
