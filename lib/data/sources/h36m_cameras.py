"""The Human3.6M cameras: intrinsics, per-subject extrinsics, and the transforms between frames.

The numbers live in ``h36m_cameras.json`` beside this file (public calibration of the dataset). Frames:

* world: millimetres, z up, the floor near z = 0 (the frame of Human3.6M's 3D joint positions);
* camera: millimetres, x right, y down, z forward (along the optical axis);
* image: pixels, origin at the top-left corner.

``orientation`` is a unit quaternion ``(w, x, y, z)`` that rotates camera-frame vectors into the world
frame, and ``translation`` is the camera centre in world coordinates, so
``X_world = R_c2w @ X_cam + translation`` and ``X_cam = R_c2w.T @ (X_world - translation)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...utils.rotations import quaternion_to_matrix

CAMERAS_JSON = Path(__file__).with_name("h36m_cameras.json")



@dataclass(frozen=True)
class H36MCamera:
    """One Human3.6M camera as calibrated for one subject.

    Attributes: ``id`` (e.g. ``"54138969"``), ``subject`` (``"S1"``...), ``index`` (0-3, ``ca_01``..),
    ``res_w``/``res_h`` (pixels), ``focal_length`` (2,) and ``center`` (2,) in pixels,
    ``radial_distortion`` (3,), ``tangential_distortion`` (2,), ``orientation`` (4,) quaternion
    (w, x, y, z) camera-to-world, ``translation`` (3,) camera centre in world millimetres.
    """

    id: str
    subject: str
    index: int
    res_w: int
    res_h: int
    focal_length: np.ndarray
    center: np.ndarray
    radial_distortion: np.ndarray
    tangential_distortion: np.ndarray
    orientation: np.ndarray
    translation: np.ndarray

    @property
    def R_c2w(self) -> np.ndarray:  # noqa: N802 (the field's name for it)
        """Camera-to-world rotation matrix (3, 3)."""
        return quaternion_to_matrix(self.orientation)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` mm -> camera-frame points ``(..., 3)`` mm."""
        points = np.asarray(points, dtype=np.float64)
        return (points - self.translation) @ self.R_c2w  # == R^T (X - t) on row vectors

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` mm -> world points ``(..., 3)`` mm."""
        points = np.asarray(points, dtype=np.float64)
        return points @ self.R_c2w.T + self.translation

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Pinhole projection (no lens distortion) of camera-frame points ``(..., 3)`` -> pixels ``(..., 2)``."""
        points_cam = np.asarray(points_cam, dtype=np.float64)
        uv = points_cam[..., :2] / points_cam[..., 2:3]
        return uv * self.focal_length + self.center


@lru_cache(maxsize=4)
def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_h36m_cameras(path: str | Path | None = None) -> dict[str, list[H36MCamera]]:
    """Load the Human3.6M cameras.

    Returns ``{subject: [camera ca_01, ca_02, ca_03, ca_04]}`` for the subjects with a calibration
    (S1, S5, S6, S7, S8, S9, S11). Arrays are float64 numpy arrays; each call returns fresh objects.
    """
    raw = _read_json(str(path or CAMERAS_JSON))
    intr = raw["intrinsics"]
    cameras: dict[str, list[H36MCamera]] = {}
    for subject, extr in raw["extrinsics"].items():
        cams = []
        for index, (cin, cex) in enumerate(zip(intr, extr, strict=True)):
            cams.append(H36MCamera(
                id=cin["id"], subject=subject, index=index,
                res_w=int(cin["res_w"]), res_h=int(cin["res_h"]),
                focal_length=np.array(cin["focal_length"], dtype=np.float64),
                center=np.array(cin["center"], dtype=np.float64),
                radial_distortion=np.array(cin["radial_distortion"], dtype=np.float64),
                tangential_distortion=np.array(cin["tangential_distortion"], dtype=np.float64),
                orientation=np.array(cex["orientation"], dtype=np.float64),
                translation=np.array(cex["translation"], dtype=np.float64),
            ))
        cameras[subject] = cams
    return cameras
