"""The image size of each Human3.6M camera: what the readers need to normalise its 2D keypoints.

The cameras' full calibration (intrinsics, extrinsics per subject) is for making data and lives with the
data makers (:mod:`lib.data.sources.h36m_cameras`); the readers of real data need only this table.
"""

from __future__ import annotations

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
# camera id -> (width, height) in pixels
H36M_RESOLUTION: dict[str, tuple[int, int]] = {
    "54138969": (1000, 1002),
    "55011271": (1000, 1000),
    "58860488": (1000, 1000),
    "60457274": (1000, 1002),
}


def camera_resolution(camera_id: str) -> tuple[int, int]:
    """``(width, height)`` in pixels of a Human3.6M camera id; ``KeyError`` for an unknown id."""
    return H36M_RESOLUTION[str(camera_id)]
