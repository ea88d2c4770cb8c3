"""Input checks shared by the public functions: one-line ``ValueError`` messages that say how to fix it."""

from __future__ import annotations

import numpy as np

_SHAPES = {3: "(T, 17, 3) (frames, joints, xyz mm)", 4: "(P, T, 17, 3) (people, frames, joints, xyz mm)"}


def joint_array(values, name: str, ndim: int) -> np.ndarray:
    """``values`` as a float64 array of 3D joints, ``(T, 17, 3)`` (``ndim`` 3) or ``(P, T, 17, 3)`` (4); NaN
    (not seen) allowed, a wrong shape or an infinite value is a ``ValueError`` naming ``name``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != ndim or arr.shape[-2:] != (17, 3):
        raise ValueError(f"{name} must have shape {_SHAPES[ndim]}, got {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError(f"{name} hold infinite values; mark frames where a person is not seen with NaN")
    return arr
