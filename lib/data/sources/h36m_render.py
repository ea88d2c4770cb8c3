"""Turn world-space 3D joint sequences into Human3.6M pickle arrays (MotionBERT's layout).

Shared by the synthetic generator (:mod:`lib.data.sources.synthetic_h36m`) and the motion-capture converter
(:mod:`lib.data.sources.mocap`): placing a subject inside the capture area, seeing it through the real Human3.6M
cameras (pinhole projection), the 2.5D depth scale, and detector-like 2D noise with a matching confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d

from .h36m_cameras import H36MCamera

FPS = 50
# The 15 Human3.6M actions: name -> the action number used in the video names (act_02 .. act_16).
H36M_ACTIONS: dict[str, int] = {
    "Directions": 2, "Discussion": 3, "Eating": 4, "Greeting": 5, "Phoning": 6, "Posing": 7,
    "Purchases": 8, "Sitting": 9, "SittingDown": 10, "Smoking": 11, "Photo": 12, "Waiting": 13,
    "Walking": 14, "WalkDog": 15, "WalkTogether": 16,
}
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")

# Where the root may go (world mm): a disc seen whole, with a body's margin, by all four cameras of
# every subject's calibration.
CAPTURE_CENTER: tuple[float, float] = (0.0, 400.0)
CAPTURE_RADIUS: float = 800.0
ANKLE_HEIGHT: float = 80.0  # mm above the floor of the lower ankle joint

# detector noise is larger at the extremities (pixels multiplier per joint, Human3.6M order)
_JOINT_NOISE = np.array([1.0, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 0.9, 0.9, 0.8, 0.9,
                         1.0, 1.3, 1.6, 1.0, 1.3, 1.6])


@dataclass(frozen=True)
class DetectorNoise:
    """Detector-like 2D noise: white Gaussian (``std_px``, scaled per joint) plus a slowly drifting part
    (``drift_px``), rare outliers of ``outlier_px`` (rate ``outlier_rate`` per joint and frame), the total
    error's length clipped to ``max_px``. The confidence falls with the error."""

    std_px: float = 3.0
    drift_px: float = 1.5
    outlier_rate: float = 0.005
    outlier_px: float = 20.0
    max_px: float = 30.0

    @classmethod
    def with_std(cls, std_px: float) -> DetectorNoise:
        """The default noise scaled so its white part has ``std_px`` pixels; 0 turns every part off."""
        if std_px < 0:
            raise ValueError(f"noise std must be >= 0 px, got {std_px}")
        if std_px == 0:
            return cls(std_px=0.0, drift_px=0.0, outlier_rate=0.0, max_px=0.0)
        scale = std_px / cls.std_px
        return cls(std_px=std_px, drift_px=cls.drift_px * scale, outlier_px=cls.outlier_px * scale,
                   max_px=cls.max_px * scale)


def source_name(subject: str, action: str, subaction: int, camera_index: int) -> str:
    """Video name in the pickle's convention, e.g. ``s_01_act_02_subact_01_ca_01``."""
    subj = int(str(subject).lstrip("Ss"))
    act = H36M_ACTIONS.get(action, 1)
    return f"s_{subj:02d}_act_{act:02d}_subact_{subaction:02d}_ca_{camera_index + 1:02d}"


def place_in_capture_area(joints: np.ndarray, feet: Sequence[int] = (3, 6),
                          center: Sequence[float] = CAPTURE_CENTER) -> np.ndarray:
    """Move a world-space sequence (T, J, 3) mm (z up) so its root path is centred on the capture area
    (the middle of the root's horizontal bounding box goes to ``center``) and the lower ankle over the
    whole sequence is at :data:`ANKLE_HEIGHT`. Returns a new float64 array."""
    out = np.array(joints, dtype=np.float64, copy=True)
    root = out[:, 0, :2]
    mid = (root.min(axis=0) + root.max(axis=0)) / 2
    out[..., :2] += np.asarray(center, dtype=np.float64) - mid
    out[..., 2] += ANKLE_HEIGHT - out[:, list(feet), 2].min()
    return out


def detector_noise(uv: np.ndarray, rng: np.random.Generator, noise: DetectorNoise) -> tuple[np.ndarray, np.ndarray]:
    """Noisy detections of projected joints ``uv`` (T, J, 2) pixels.

    Returns ``(joint_2d (T, J, 2), confidence (T, J, 1))`` float32; ``|joint_2d - uv| <= noise.max_px``.
    """
    t, j = uv.shape[:2]
    scale = _JOINT_NOISE[:j] if j == len(_JOINT_NOISE) else np.ones(j)
    std = noise.std_px * scale[None, :, None]
    err = rng.normal(size=(t, j, 2)) * std
    if noise.drift_px > 0 and t > 1:
        # a smooth drift: white noise low-passed over about half a second, rescaled to drift_px
        walk = rng.normal(size=(t, j, 2))
        kernel = np.hanning(min(25, t) + 2)[1:-1]
        kernel /= np.sqrt((kernel ** 2).sum())
        drift = convolve1d(walk, kernel, axis=0, mode="nearest")
        err += drift * noise.drift_px * scale[None, :, None]
    if noise.outlier_rate > 0:
        hit = rng.random((t, j)) < noise.outlier_rate
        angle = rng.uniform(0, 2 * np.pi, size=(t, j))
        length = rng.uniform(0.5, 1.0, size=(t, j)) * noise.outlier_px
        err += (hit * length)[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    norm = np.linalg.norm(err, axis=-1, keepdims=True)
    err *= np.minimum(1.0, noise.max_px / np.maximum(norm, 1e-9))
    dist = np.linalg.norm(err, axis=-1)
    ref = 2.5 * max(noise.std_px, 1e-3) * scale[None, :]
    conf = 0.97 * np.exp(-0.5 * (dist / ref) ** 2) + rng.uniform(-0.02, 0.02, size=(t, j))
    conf = np.clip(conf, 0.02, 1.0)
    return (uv + err).astype(np.float32), conf[..., None].astype(np.float32)


def render_camera(joints_world: np.ndarray, camera: H36MCamera, rng: np.random.Generator,
                  noise: DetectorNoise) -> dict[str, np.ndarray]:
    """One camera's view of a world sequence (T, 17, 3) mm.

    Returns per-frame arrays: ``joint_2d`` (T,17,2), ``confidence`` (T,17,1), ``joint3d_image`` (T,17,3)
    (pixel x, y; depth relative to the root times the scale), ``2.5d_factor`` (T,) = 1 / scale and
    ``joints_2.5d_image`` (T,17,3) = ``joint3d_image * 2.5d_factor`` (mm). The scale is the projected width
    of a 2 m square facing the camera at the root's depth divided by 2000 mm (= f_x / root depth).
    """
    cam = camera.world_to_camera(joints_world)
    if (cam[..., 2] <= 0).any():
        raise ValueError(f"camera {camera.id}: some joints are behind the camera")
    uv = camera.project(cam)
    root_depth = cam[:, 0, 2]
    square_width_px = camera.focal_length[0] * 2000.0 / root_depth
    scale = square_width_px / 2000.0
    depth = (cam[..., 2] - cam[:, :1, 2]) * scale[:, None]
    joint3d_image = np.concatenate([uv, depth[..., None]], axis=-1)
    factor = 1.0 / scale
    joint_2d, confidence = detector_noise(uv, rng, noise)
    return {
        "joint_2d": joint_2d,
        "confidence": confidence,
        "joint3d_image": joint3d_image.astype(np.float32),
        "2.5d_factor": factor.astype(np.float32),
        "joints_2.5d_image": (joint3d_image * factor[:, None, None]).astype(np.float32),
    }


@dataclass
class Video:
    """One recorded motion: world joints (T, 17, 3) mm at 50 fps, who and what.

    ``subject`` also chooses the camera calibration. ``source``: the video's name in the pickle (camera
    suffix ``_ca_0N`` added); ``None``: the Human3.6M name from subject, action and subaction.
    """

    joints_world: np.ndarray
    subject: str
    action: str
    subaction: int = 1
    source: str | None = None


def build_split(videos: Sequence[Video], cameras: dict[str, list[H36MCamera]], rng_for,
                noise: DetectorNoise, test: bool, progress=None) -> dict[str, np.ndarray]:
    """Concatenate every video seen by its subject's four cameras into one split of the pickle.

    ``rng_for(video_index, camera_index)`` returns the generator for that view's noise (determinism per
    view). Train splits get ``joint_2d``, ``confidence``, ``joint3d_image``, ``camera_name``, ``source``;
    test splits also ``action``, ``2.5d_factor``, ``joints_2.5d_image``. Videos are ordered as given,
    cameras ca_01..ca_04 within a video.
    """
    parts: dict[str, list] = {k: [] for k in ("joint_2d", "confidence", "joint3d_image", "camera_name",
                                              "source", "action", "2.5d_factor", "joints_2.5d_image")}
    for vi, video in enumerate(videos):
        if video.subject not in cameras:
            raise ValueError(f"no camera calibration for subject '{video.subject}' "
                             f"(have {sorted(cameras)})")
        n = len(video.joints_world)
        for ci, camera in enumerate(cameras[video.subject]):
            view = render_camera(video.joints_world, camera, rng_for(vi, ci), noise)
            for key, value in view.items():
                parts[key].append(value)
            # strings as object arrays of one shared str per video: pickled once (small files)
            parts["camera_name"].append(np.full(n, camera.id, dtype=object))
            if video.source is None:
                name = source_name(video.subject, video.action, video.subaction, ci)
            else:
                name = f"{video.source}_ca_{ci + 1:02d}"
            parts["source"].append(np.full(n, name, dtype=object))
            parts["action"].append(np.full(n, video.action, dtype=object))
        if progress is not None:
            progress.update(1)
    empty = {"joint_2d": (0, 17, 2), "confidence": (0, 17, 1), "joint3d_image": (0, 17, 3),
             "2.5d_factor": (0,), "joints_2.5d_image": (0, 17, 3)}
    out: dict[str, np.ndarray] = {}
    keys = ["joint_2d", "confidence", "joint3d_image", "camera_name", "source"]
    if test:
        keys += ["action", "2.5d_factor", "joints_2.5d_image"]
    for key in keys:
        if parts[key]:
            out[key] = np.concatenate(parts[key])
        elif key in empty:
            out[key] = np.zeros(empty[key], dtype=np.float32)
        else:
            out[key] = np.zeros(0, dtype=object)
    return out
