"""Pose-error metrics of the Human3.6M protocols (numpy, per frame).

All functions take poses of shape ``(F, J, 3)`` (F frames, J joints) in the same unit (millimetres in the
evaluation) and return one error per frame, shape ``(F,)``. Callers average over frames as the protocol
says (see :mod:`lib.engine.evaluate`).

- :func:`mpjpe`   Protocol #1: mean Euclidean joint distance.
- :func:`p_mpjpe` Protocol #2: MPJPE after the similarity transform (rotation, uniform scale,
  translation) that best aligns the prediction to the target (orthogonal Procrustes with the reflection
  fix, so the rotation is proper, det = +1).
- :func:`n_mpjpe` MPJPE after the least-squares uniform scale alone.
- :func:`mpjve`   mean per-joint velocity error (first difference along frames), shape ``(F-1,)``.
- :func:`pck`     3D PCK: the percentage of joints whose error is below a threshold (MPI-INF-3DHP).
- :func:`auc`     the mean of :func:`pck` over the thresholds 0, 5, ..., 150 mm.
"""

from __future__ import annotations

import numpy as np


def _check(predicted: np.ndarray, target: np.ndarray) -> None:
    if predicted.shape != target.shape:
        raise ValueError(f"predicted {predicted.shape} and target {target.shape} must have the same shape")
    if predicted.ndim != 3:
        raise ValueError(f"expected poses of shape (F, J, C), got {predicted.shape}")


def mpjpe(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean per-joint position error per frame: ``(F, J, C), (F, J, C) -> (F,)``."""
    _check(predicted, target)
    return np.linalg.norm(predicted - target, axis=-1).mean(axis=1)


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Align each predicted frame to its target by rotation, uniform scale and translation.

    ``(F, J, 3), (F, J, 3) -> (F, J, 3)``. The rotation minimises the squared distance (Kabsch/Umeyama);
    when the best orthogonal map would be a reflection (det = -1) the last singular direction is flipped,
    so the result is always a proper rotation, and the scale is reduced accordingly.
    """
    _check(predicted, target)
    pred = predicted.astype(np.float64)
    gt = target.astype(np.float64)
    mu_gt = gt.mean(axis=1, keepdims=True)
    mu_pred = pred.mean(axis=1, keepdims=True)
    gt0 = gt - mu_gt
    pred0 = pred - mu_pred
    norm_gt = np.sqrt((gt0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_pred = np.sqrt((pred0 ** 2).sum(axis=(1, 2), keepdims=True))
    # guard against degenerate (all joints equal) poses: no scaling then
    norm_gt = np.where(norm_gt > 0, norm_gt, 1.0)
    norm_pred = np.where(norm_pred > 0, norm_pred, 1.0)
    gt0 = gt0 / norm_gt
    pred0 = pred0 / norm_pred

    cov = np.matmul(gt0.transpose(0, 2, 1), pred0)  # (F, 3, 3)
    u, s, vt = np.linalg.svd(cov)
    v = vt.transpose(0, 2, 1)
    rot = np.matmul(v, u.transpose(0, 2, 1))
    # reflection fix: make det(R) = +1 by flipping the weakest singular direction
    sign = np.sign(np.linalg.det(rot))
    sign = np.where(sign == 0, 1.0, sign)
    v[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    rot = np.matmul(v, u.transpose(0, 2, 1))
    scale = s.sum(axis=1)[:, None, None] * norm_gt / norm_pred
    trans = mu_gt - scale * np.matmul(mu_pred, rot)
    return scale * np.matmul(pred, rot) + trans


def p_mpjpe(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Procrustes-aligned MPJPE (Protocol #2) per frame: ``(F, J, 3), (F, J, 3) -> (F,)``."""
    aligned = procrustes_align(predicted, target)
    return np.linalg.norm(aligned - target.astype(np.float64), axis=-1).mean(axis=1)


def n_mpjpe(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Scale-normalised MPJPE per frame: the prediction is scaled by the least-squares factor
    ``s = <pred, target> / <pred, pred>`` (over joints and coordinates) first. ``(F, J, C) -> (F,)``."""
    _check(predicted, target)
    pred = predicted.astype(np.float64)
    num = (pred * target).sum(axis=(1, 2), keepdims=True)
    den = (pred * pred).sum(axis=(1, 2), keepdims=True)
    scale = num / np.where(den > 0, den, 1.0)
    return mpjpe(scale * pred, target.astype(np.float64))


def mpjve(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean per-joint velocity error: MPJPE of the first differences along frames.

    ``(F, J, C), (F, J, C) -> (F-1,)``; entry ``t`` is the error of the motion from frame ``t`` to
    ``t+1`` (empty when F < 2).
    """
    _check(predicted, target)
    return mpjpe(np.diff(predicted, axis=0), np.diff(target, axis=0))


PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))  # 31 thresholds


def pck(predicted: np.ndarray, target: np.ndarray, threshold: float = PCK_THRESHOLD_MM) -> np.ndarray:
    """Percentage (0-100) of joints per frame whose error is strictly below ``threshold``.

    ``(F, J, C), (F, J, C) -> (F,)``. Pass only the joints to score (and root-relative poses when the
    protocol says so); the mean over frames is the PCK of all of them together.
    """
    _check(predicted, target)
    errors = np.linalg.norm(predicted - target, axis=-1)
    return (errors < threshold).mean(axis=1) * 100.0


def auc(predicted: np.ndarray, target: np.ndarray,
        thresholds: tuple[float, ...] = AUC_THRESHOLDS_MM) -> np.ndarray:
    """Area under the PCK curve per frame: the mean of :func:`pck` over ``thresholds`` (percent).

    ``(F, J, C), (F, J, C) -> (F,)``.
    """
    _check(predicted, target)
    errors = np.linalg.norm(predicted - target, axis=-1)[..., None]  # (F, J, 1)
    below = errors < np.asarray(thresholds, dtype=np.float64)  # (F, J, K)
    return below.mean(axis=(1, 2)) * 100.0
