"""Metric scale for lifted poses: a lifter gives poses in screen units, a body height turns them into
millimetres (the demo's ``--height`` rule)."""

from __future__ import annotations

import numpy as np

DEFAULT_HEIGHT_MM = 1700.0  # an adult's height; the demo's --height default

# bones whose lengths add up to a skeleton's height: each leg (ankle-knee-hip, averaged over left and right)
# and the trunk and head (pelvis-spine-thorax-nose-head); the sideways pelvis-hip offsets are left out
LEG_BONES = (((3, 2), (2, 1)), ((6, 5), (5, 4)))
TRUNK_BONES = ((0, 7), (7, 8), (8, 9), (9, 10))


def skeleton_height(poses: np.ndarray) -> np.ndarray:
    """Height ``(...)`` of Human3.6M poses ``(..., 17, 3)``: mean leg length (ankle-knee-hip) plus the
    pelvis-spine-thorax-nose-head chain, in the poses' units."""
    p = np.asarray(poses, dtype=np.float64)

    def length(bones) -> np.ndarray:
        return sum(np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1) for a, b in bones)

    return (length(LEG_BONES[0]) + length(LEG_BONES[1])) / 2 + length(TRUNK_BONES)


def scale_to_height(poses: np.ndarray, height_mm: float = DEFAULT_HEIGHT_MM) -> tuple[np.ndarray, np.ndarray]:
    """Lifted poses ``(T, 17, 3)`` of one person or ``(P, T, 17, 3)`` of several -> millimetres: each person
    scaled so that the median over frames of :func:`skeleton_height` is ``height_mm``. Returns the scaled
    poses (float64, same shape) and the factor per person (millimetres per lifter unit; a scalar array for
    one person, ``(P,)`` for several; 0 for a person whose skeleton has no extent)."""
    if not (np.isfinite(height_mm) and height_mm > 0):
        raise ValueError(f"height_mm must be a positive number of millimetres, got {height_mm}")
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim not in (3, 4) or p.shape[-2:] != (17, 3):
        raise ValueError(f"expected poses of shape (T, 17, 3) or (P, T, 17, 3), got {p.shape}")
    heights = np.median(skeleton_height(p), axis=-1)
    factor = np.where(heights > 1e-9, height_mm / np.maximum(heights, 1e-9), 0.0)
    return p * factor[..., None, None, None], factor
