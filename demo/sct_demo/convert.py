"""Filling the frames where a person was not detected (keypoint converters: :mod:`sct.keypoint_formats`)."""

from __future__ import annotations

import numpy as np


def fill_missing(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Fill frames where ``present`` is False by linear interpolation in time from the nearest present frames.

    ``values`` ``(T, ...)``; ``present`` ``(T,)`` bool with at least one True. Frames before the first
    (after the last) present frame copy the first (last) one. Returns a new float array.
    """
    present = np.asarray(present, dtype=bool)
    if not present.any():
        raise ValueError("cannot fill a track with no present frame")
    t = np.arange(len(present))
    flat = np.asarray(values, dtype=np.float64).reshape(len(present), -1)
    out = np.empty_like(flat)
    for col in range(flat.shape[1]):
        out[:, col] = np.interp(t, t[present], flat[present, col])
    return out.reshape(np.shape(values))
