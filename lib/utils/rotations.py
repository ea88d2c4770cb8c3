"""Rotation matrices: about a coordinate axis (BVH channels, synthetic joint angles) and from quaternions
(Human3.6M camera orientations)."""

from __future__ import annotations

import numpy as np


def axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """Right-handed rotations about coordinate axis ``axis`` (0 = x, 1 = y, 2 = z) by ``angle`` radians:
    ``(..., 3, 3)`` for angles of shape ``(...)``."""
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros(np.shape(angle) + (3, 3))
    i, k = [(1, 2), (2, 0), (0, 1)][axis]
    r[..., axis, axis] = 1.0
    r[..., i, i] = c
    r[..., k, k] = c
    r[..., i, k] = -s
    r[..., k, i] = s
    return r


def quaternion_to_matrix(q) -> np.ndarray:
    """Rotation matrix (3, 3) of a quaternion ``(w, x, y, z)`` (normalised first)."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])
