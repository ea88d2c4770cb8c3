"""Synthetic MPI-INF-3DHP: the project's synthetic human motion (:mod:`lib.data.sources.synthetic_h36m`)
seen through 3DHP-like cameras and written in the de-facto npz layout (:mod:`lib.data.mpi_inf_3dhp`).

* Cameras: pinhole, looking at the capture area from a ring around it; studio cameras 2048 x 2048 with
  f ~ 1499 px (training sequences, TS1-TS4), outdoor cameras 1920 x 1080 with f ~ 1684 px (TS5, TS6),
  the focal lengths of MPI-INF-3DHP's test sequences.
* Training: ``"S<k> Seq<m>"`` sequences, each seen by the eight cameras ``'0', '1', '2', '4' ... '8'``;
  half the sequences are kept at 25 fps (every other frame), the others at 50 fps, as in the real file.
* Test: ``TS1`` ... ``TS6``, one camera each, with stretches of invalid frames (``valid`` 0).

The 2D is the exact projection (the annotated 2D of the real files); the 3D is in the camera frame (mm).
Everything is a function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...utils.skeleton import h36m_to_mpi_inf_3dhp
from ..mpi_inf_3dhp import (
    OUTDOOR_IMAGE_SIZE,
    OUTDOOR_SEQUENCES,
    STUDIO_IMAGE_SIZE,
    TEST_SEQUENCES,
    TRAIN_CAMERAS,
)
from .h36m_render import CAPTURE_CENTER, H36M_ACTIONS
from .synthetic_h36m import ACTION_STYLES, subject_bones, synthesize_motion

STUDIO_FOCAL_PX = 1499.0
OUTDOOR_FOCAL_PX = 1684.0
STUDIO_DISTANCE_MM = 4200.0
OUTDOOR_DISTANCE_MM = 6500.0
_LOOK_AT_HEIGHT_MM = 1000.0


@dataclass(frozen=True)
class PinholeCamera:
    """World (z up, mm) -> camera frame (x right, y down, z forward) -> pixels."""

    rotation: np.ndarray  # (3, 3) world -> camera
    position: np.ndarray  # (3,) camera centre, world mm
    focal: float
    center: tuple[float, float]
    image_size: tuple[int, int]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation.T

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        return points_cam[..., :2] / points_cam[..., 2:3] * self.focal + np.asarray(self.center)


def look_at_camera(azimuth: float, height: float, distance: float, focal: float,
                   image_size: tuple[int, int]) -> PinholeCamera:
    """A camera on a ring of radius ``distance`` around the capture centre at ``height`` mm, looking at
    the centre at 1 m height; the principal point is the image centre."""
    target = np.array([CAPTURE_CENTER[0], CAPTURE_CENTER[1], _LOOK_AT_HEIGHT_MM])
    position = target + np.array([distance * np.cos(azimuth), distance * np.sin(azimuth),
                                  height - _LOOK_AT_HEIGHT_MM])
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    w, h = image_size
    return PinholeCamera(np.stack([right, down, forward]), position, focal, (w / 2, h / 2), image_size)


def render(world_h36m: np.ndarray, camera: PinholeCamera) -> tuple[np.ndarray, np.ndarray]:
    """World joints ``(T, 17, 3)`` in Human3.6M order -> ``data_2d (T, 17, 2)``, ``data_3d (T, 17, 3)``
    float32 in MPI-INF-3DHP order."""
    cam = camera.to_camera(h36m_to_mpi_inf_3dhp(world_h36m))
    if (cam[..., 2] <= 0).any():
        raise ValueError("a joint is behind the camera; move the camera further away")
    return camera.project(cam).astype(np.float32), cam.astype(np.float32)


def invalid_stretches(n_frames: int, rng: np.random.Generator, count: int = 2,
                      fraction: tuple[float, float] = (0.04, 0.12)) -> np.ndarray:
    """``valid`` ``(n_frames,)`` uint8: ones with ``count`` stretches of zeros, each ``fraction`` of the
    sequence long, one of them at a sequence end (so the edge padding meets invalid frames too)."""
    valid = np.ones(n_frames, dtype=np.uint8)
    for k in range(count):
        length = max(1, int(rng.uniform(*fraction) * n_frames))
        start = 0 if k == 0 else int(rng.integers(0, max(n_frames - length, 1)))
        valid[start:start + length] = 0
    return valid


@dataclass
class Synthetic3DHPConfig:
    """What to generate. ``frames``: (shortest, longest) sequence in frames at 50 fps (before the 25 fps
    sequences drop every other frame)."""

    seed: int = 0
    train_subjects: int = 8
    sequences_per_subject: int = 2
    frames: tuple[int, int] = (300, 400)
    test_frames: tuple[int, int] = (300, 400)
    actions: tuple[str, ...] = field(default_factory=lambda: tuple(ACTION_STYLES))


def _motion(cfg: Synthetic3DHPConfig, subject: int, index: int, frames: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng([cfg.seed, subject, index, 3])
    action = cfg.actions[(subject * 7 + index) % len(cfg.actions)]
    n = int(rng.integers(frames[0], frames[1] + 1))
    # subjects S1..S8 draw bodies from subject numbers outside Human3.6M's synthetic ones
    return synthesize_motion(subject_bones(f"S{100 + subject}", cfg.seed), ACTION_STYLES[action], n, rng)


def make_synthetic_3dhp(cfg: Synthetic3DHPConfig) -> tuple[dict, dict]:
    """``(train_data, test_data)``: the ``data`` dicts of ``data_train_3dhp.npz`` and ``data_test_3dhp.npz``."""
    if cfg.frames[0] < 2 or cfg.frames[1] < cfg.frames[0] or cfg.test_frames[0] < 2 \
            or cfg.test_frames[1] < cfg.test_frames[0]:
        raise ValueError(f"frames must be (min, max) with 2 <= min <= max, got {cfg.frames}, {cfg.test_frames}")
    if cfg.train_subjects < 1 or cfg.sequences_per_subject < 1:
        raise ValueError("need at least one training subject and one sequence per subject")
    unknown = [a for a in cfg.actions if a not in H36M_ACTIONS]
    if unknown:
        raise ValueError(f"unknown action(s) {unknown}; choose from {list(H36M_ACTIONS)}")
    train: dict = {}
    for subject in range(1, cfg.train_subjects + 1):
        for seq in range(1, cfg.sequences_per_subject + 1):
            world = _motion(cfg, subject, seq, cfg.frames)
            fps = 25 if (subject + seq) % 2 else 50
            if fps == 25:
                world = world[::2]
            rng = np.random.default_rng([cfg.seed, subject, seq, 5])
            cameras = {}
            for k, cam_name in enumerate(TRAIN_CAMERAS):
                azimuth = 2 * np.pi * k / len(TRAIN_CAMERAS) + rng.uniform(-0.2, 0.2)
                camera = look_at_camera(azimuth, rng.uniform(800, 2500), STUDIO_DISTANCE_MM * rng.uniform(0.95, 1.1),
                                        STUDIO_FOCAL_PX * rng.uniform(0.99, 1.01), STUDIO_IMAGE_SIZE)
                data_2d, data_3d = render(world, camera)
                cameras[cam_name] = {"data_2d": data_2d, "data_3d": data_3d}
            train[f"S{subject} Seq{seq}"] = [cameras, fps]
    test: dict = {}
    for i, name in enumerate(TEST_SEQUENCES):
        world = _motion(cfg, 50 + i, 1, cfg.test_frames)
        rng = np.random.default_rng([cfg.seed, 50 + i, 7])
        outdoor = name in OUTDOOR_SEQUENCES
        camera = look_at_camera(rng.uniform(0, 2 * np.pi), rng.uniform(900, 1400),
                                OUTDOOR_DISTANCE_MM if outdoor else STUDIO_DISTANCE_MM,
                                OUTDOOR_FOCAL_PX if outdoor else STUDIO_FOCAL_PX,
                                OUTDOOR_IMAGE_SIZE if outdoor else STUDIO_IMAGE_SIZE)
        data_2d, data_3d = render(world, camera)
        test[name] = {"data_2d": data_2d, "data_3d": data_3d, "valid": invalid_stretches(len(world), rng)}
    return train, test
