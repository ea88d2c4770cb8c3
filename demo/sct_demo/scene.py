"""Stage 4 of the demo: the lifted people placed in the scene (plain data for the writers).

Each person's root-relative lifted poses are scaled to ``height_mm`` frame by frame and placed along the
camera ray that best explains their 2D keypoints (:func:`sct.placement.place_in_camera`, pinhole camera of
focal length ``focal`` pixels, or the documented default field of view); the world frame (Y up, floor at
y = 0, camera at ``(0, camera_height_mm, 0)``) is estimated from everybody's trunks and ankles
(:func:`sct.world.estimate_world_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sct import scale_to_height
from sct.placement import default_focal, place_in_camera
from sct.world import estimate_world_frame, to_world


@dataclass(frozen=True)
class SceneMotion:
    """Everything the writers need of the 3D people, all ``(P, T, 17, 3)`` unless stated:

    ``poses`` root-relative camera-frame poses in the lifter's units; ``poses_mm`` the same scaled so that each
    person's median skeleton height is ``height_mm`` (``mm_per_unit`` ``(P,)``); ``poses_camera_mm`` placed in
    the camera frame (x right, y down, z forward); ``poses_world_mm`` in the world frame; ``camera_to_world``
    ``(3, 3)`` with ``X_world = camera_to_world @ X_camera + (0, camera_height_mm, 0)``; ``focal_px`` used."""

    poses: np.ndarray
    poses_mm: np.ndarray
    mm_per_unit: np.ndarray
    poses_camera_mm: np.ndarray
    poses_world_mm: np.ndarray
    camera_to_world: np.ndarray
    camera_height_mm: float
    focal_px: float
    height_mm: float


def place_people(poses: np.ndarray, keypoints_2d: np.ndarray, image_size: tuple[int, int], focal: float | None,
                 height_mm: float) -> SceneMotion:
    """Lifted poses ``(P, T, 17, 3)`` and their 2D keypoints ``(P, T, 17, 3)`` px of an image of ``image_size``
    ``(w, h)`` -> :class:`SceneMotion`. ``ValueError`` (one line) for a focal length <= 0."""
    focal_px = default_focal(image_size) if focal is None else float(focal)
    poses_mm, mm_per_unit = scale_to_height(poses, height_mm)
    camera = place_in_camera(poses, keypoints_2d, image_size, focal_px, height_mm=height_mm)
    frame = estimate_world_frame(camera)
    return SceneMotion(poses=poses, poses_mm=poses_mm.astype(np.float32), mm_per_unit=mm_per_unit,
                       poses_camera_mm=camera.astype(np.float32),
                       poses_world_mm=to_world(camera, frame).astype(np.float32),
                       camera_to_world=frame.rotation, camera_height_mm=float(frame.camera_height_mm),
                       focal_px=focal_px, height_mm=float(height_mm))
