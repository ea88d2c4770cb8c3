"""Place root-relative 3D poses in the camera frame: where each person is, in millimetres.

A lifter gives every pose relative to its pelvis. With the pose in millimetres (scaled from a body height)
and the 2D keypoints it was lifted from, the root's position ``t`` in the camera frame is the translation
whose pinhole projection of ``pose + t`` best fits the keypoints:

    minimise  sum_j  w_j * || pi(P_j + t) - u_j ||^2,   pi(X) = f * (X_x, X_y) / X_z + c

(``w_j``: the keypoint confidences). A linear least-squares solution (the projection equations multiplied
by the depth, linear in ``t``) starts a few Gauss-Newton steps on the pixel error; the translations are then
smoothed over time. The camera frame: x right, y down, z forward along the optical axis, millimetres.

The depth comes from the size of the person in the image, so it is only as right as the body height and
the focal length: a 10 % wrong height or focal length gives about 10 % wrong distance. Without a known focal
length, :func:`default_focal` assumes the diagonal field of view of ``2 atan(1/2) = 53.1`` degrees
(``f = sqrt(width^2 + height^2)``, CLIFF's convention for images of unknown cameras).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ._checks import joint_array
from .body_height import skeleton_height

NUM_JOINTS = 17
# bones whose lengths add up to a skeleton's height: each leg (ankle-knee-hip, averaged over left and right)
# and the trunk and head (pelvis-spine-thorax-nose-head); the sideways pelvis-hip offsets are left out
MIN_JOINTS = 3  # joints with a keypoint needed to place a person in a frame
GAUSS_NEWTON_STEPS = 5


def default_focal(image_size: Sequence[float]) -> float:
    """The focal length in pixels assumed when none is given: the image diagonal, ``sqrt(w^2 + h^2)``
    (a diagonal field of view of 53.1 degrees, about a 43 mm lens on a full-frame camera)."""
    width, height = _image_size(image_size)
    return float(math.hypot(width, height))


def _image_size(image_size: Sequence[float]) -> tuple[float, float]:
    try:
        width, height = (float(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height) in pixels, got {image_size!r}") from None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise ValueError(f"image_size must be two positive numbers of pixels (width, height), got {image_size!r}")
    return width, height


def _check_focal(focal: float | None, image_size: Sequence[float]) -> float:
    if focal is None:
        return default_focal(image_size)
    try:
        value = float(focal)
    except (TypeError, ValueError):
        raise ValueError(f"focal length must be a number of pixels, got {focal!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"focal length must be a positive number of pixels, got {focal!r} "
                         "(leave it out to assume the default field of view)")
    return value


def _check_inputs(poses_mm: np.ndarray, keypoints_2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    poses = joint_array(poses_mm, "poses", 4)
    kpts = np.asarray(keypoints_2d, dtype=np.float64)
    if kpts.ndim != 4 or kpts.shape[2] != NUM_JOINTS or kpts.shape[3] not in (2, 3):
        raise ValueError(f"keypoints must have shape (P, T, 17, 2) or (P, T, 17, 3) (x, y pixels[, confidence]), "
                         f"got {kpts.shape}")
    if kpts.shape[:2] != poses.shape[:2]:
        raise ValueError(f"keypoints cover {kpts.shape[0]} people x {kpts.shape[1]} frames but the poses "
                         f"{poses.shape[0]} x {poses.shape[1]}; give both for the same people and frames")
    if np.isinf(kpts).any():
        raise ValueError("keypoints hold infinite values; mark frames where a person is not seen with NaN")
    return poses, kpts


def _weights(kpts: np.ndarray, poses: np.ndarray, min_confidence: float) -> np.ndarray:
    """Per-joint weights ``(P, T, 17)``: the confidence (1 without one), 0 where it is below
    ``min_confidence`` or anything is NaN, and 0 for the whole frame when fewer than MIN_JOINTS remain."""
    w = kpts[..., 2].copy() if kpts.shape[-1] == 3 else np.ones(kpts.shape[:3])
    bad = np.isnan(kpts[..., :2]).any(-1) | np.isnan(poses).any(-1) | ~(w >= min_confidence)
    w[bad] = 0.0
    w[(w > 0).sum(-1) < MIN_JOINTS] = 0.0
    return w


def _linear_translation(pose: np.ndarray, uv: np.ndarray, w: np.ndarray, focal: float) -> np.ndarray:
    """Least-squares ``t`` (N, 3) of ``f (X + t)_xy = uv (X + t)_z`` (uv centred pixels (N, 17, 2), pose
    (N, 17, 3), weights (N, 17)): each joint's two equations are linear in ``t``."""
    n = len(pose)
    a = np.zeros((n, NUM_JOINTS, 2, 3))
    a[..., 0, 0] = focal
    a[..., 1, 1] = focal
    a[..., :, 2] = -uv
    b = uv * pose[..., 2:3] - focal * pose[..., :2]  # (N, 17, 2)
    a = a.reshape(n, -1, 3)
    b = b.reshape(n, -1)
    ww = np.repeat(w, 2, axis=-1)
    ata = np.einsum("nki,nk,nkj->nij", a, ww, a)
    atb = np.einsum("nki,nk,nk->ni", a, ww, b)
    return np.linalg.solve(ata, atb[..., None])[..., 0]


def _gauss_newton(t: np.ndarray, pose: np.ndarray, uv: np.ndarray, w: np.ndarray, focal: float,
                  steps: int = GAUSS_NEWTON_STEPS) -> np.ndarray:
    """Refine ``t`` (N, 3) on the weighted pixel error of the projection (pixels, centred)."""
    min_depth = 1.0 - pose[..., 2].min(-1)  # keep every joint at least 1 mm in front of the camera
    t = t.copy()
    t[:, 2] = np.maximum(t[:, 2], min_depth + 1.0)
    sw = np.sqrt(w)[..., None]  # (N, 17, 1)
    for _ in range(steps):
        x = pose + t[:, None, :]
        z = x[..., 2:3]
        res = (focal * x[..., :2] / z - uv) * sw  # (N, 17, 2)
        jac = np.zeros(res.shape + (3,))
        jac[..., 0, 0] = focal / z[..., 0]
        jac[..., 1, 1] = focal / z[..., 0]
        jac[..., :, 2] = -focal * x[..., :2] / z ** 2
        jac *= sw[..., None]
        jac = jac.reshape(len(t), -1, 3)
        res = res.reshape(len(t), -1)
        jtj = np.einsum("nki,nkj->nij", jac, jac) + 1e-9 * np.eye(3)
        step = np.linalg.solve(jtj, np.einsum("nki,nk->ni", jac, res)[..., None])[..., 0]
        t = t - step
        t[:, 2] = np.maximum(t[:, 2], min_depth + 1.0)
    return t


def scale_each_frame(poses: np.ndarray, height_mm: float, smooth_sigma: float = 2.0) -> np.ndarray:
    """Root-relative poses ``(P, T, 17, 3)`` in any units -> millimetres, every frame scaled so that its
    :func:`skeleton_height` is ``height_mm`` (the scale smoothed over time in log space with a Gaussian of
    ``smooth_sigma`` frames; NaN frames stay NaN).

    A lifter trained on 2.5D targets (MotionBERT's layout) outputs poses whose size follows the person's
    size in the image, so a person walking away shrinks; one scale for the whole video would place every
    frame at the same distance. Scaled per frame, the pose has its metric size in every frame."""
    poses = np.asarray(poses, dtype=np.float64)
    if not (isinstance(height_mm, (int, float, np.number)) and math.isfinite(height_mm) and height_mm > 0):
        raise ValueError(f"the body height must be a positive number of millimetres, got {height_mm!r}")
    heights = skeleton_height(poses)  # (P, T)
    valid = np.isfinite(heights) & (heights > 1e-9)
    log_scale = np.where(valid, np.log(height_mm / np.where(valid, heights, 1.0)), 0.0)
    scale = np.stack([np.exp(smooth_over_time(log_scale[i], valid[i], smooth_sigma)) for i in range(len(poses))]) \
        if len(poses) else np.ones(heights.shape)
    return poses * scale[..., None, None]


def smooth_over_time(values: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 of ``values`` (T, ...) over the ``valid`` (T,) frames only
    (normalised convolution: unseen frames neither contribute nor receive values; they stay NaN)."""
    out = np.full(values.shape, np.nan)
    if not valid.any():
        return out
    if sigma <= 0:
        out[valid] = values[valid]
        return out
    filled = np.where(valid.reshape((-1,) + (1,) * (values.ndim - 1)), values, 0.0)
    weight = gaussian_filter1d(valid.astype(np.float64), sigma, axis=0, mode="nearest")
    smooth = gaussian_filter1d(filled, sigma, axis=0, mode="nearest")
    out[valid] = smooth[valid] / weight[valid].reshape((-1,) + (1,) * (values.ndim - 1))
    return out


def root_translation(poses_mm: np.ndarray, keypoints_2d: np.ndarray, image_size: Sequence[float],
                     focal: float | None = None, *, principal_point: Sequence[float] | None = None,
                     smooth_sigma: float = 2.0, min_confidence: float = 0.1) -> np.ndarray:
    """The root's (pelvis') position in the camera frame ``(P, T, 3)`` mm for every person and frame.

    ``poses_mm``: root-relative poses ``(P, T, 17, 3)`` in millimetres with the camera's axes (x right, y
    down, z forward; what the lifter outputs, scaled to a body height). ``keypoints_2d``: ``(P, T, 17, 2)``
    pixels or ``(P, T, 17, 3)`` with a confidence (the weight of each joint; joints below
    ``min_confidence`` are ignored). NaN in either marks what was not seen; a frame needs 3 joints seen, else
    its translation is NaN. ``image_size``: ``(width, height)`` pixels. ``focal``: pixels; ``None``:
    :func:`default_focal`. ``principal_point``: pixels, default the image centre. ``smooth_sigma``: the
    standard deviation in frames of the Gaussian smoothing over time (0: none).

    ``ValueError`` with one line for a focal length <= 0, wrong shapes or infinite values.
    """
    f = _check_focal(focal, image_size)
    width, height = _image_size(image_size)
    poses, kpts = _check_inputs(poses_mm, keypoints_2d)
    if principal_point is None:
        center = np.array([width / 2, height / 2])
    else:
        center = np.asarray(principal_point, dtype=np.float64)
        if center.shape != (2,) or not np.isfinite(center).all():
            raise ValueError(f"principal_point must be (x, y) in pixels, got {principal_point!r}")
    if not smooth_sigma >= 0:
        raise ValueError(f"smooth_sigma must be >= 0 frames, got {smooth_sigma}")
    num_person, num_frames = poses.shape[:2]
    w = _weights(kpts, poses, min_confidence).reshape(-1, NUM_JOINTS)
    seen = (w > 0).any(-1)
    flat_pose = np.nan_to_num(poses.reshape(-1, NUM_JOINTS, 3))
    flat_uv = np.nan_to_num(kpts[..., :2].reshape(-1, NUM_JOINTS, 2)) - center
    t = np.full((num_person * num_frames, 3), np.nan)
    if seen.any():
        p, uv, ww = flat_pose[seen], flat_uv[seen], w[seen]
        t0 = _linear_translation(p, uv, ww, f)
        t[seen] = _gauss_newton(t0, p, uv, ww, f)
    t = t.reshape(num_person, num_frames, 3)
    seen = seen.reshape(num_person, num_frames)
    return np.stack([smooth_over_time(t[i], seen[i], smooth_sigma) for i in range(num_person)]) \
        if num_person else t


def place_in_camera(poses: np.ndarray, keypoints_2d: np.ndarray, image_size: Sequence[float],
                    focal: float | None = None, *, height_mm: float | None = None,
                    principal_point: Sequence[float] | None = None, smooth_sigma: float = 2.0,
                    min_confidence: float = 0.1) -> np.ndarray:
    """Root-relative poses ``(P, T, 17, 3)`` -> the same poses in the camera frame ``(P, T, 17, 3)`` mm
    (x right, y down, z forward), each moved by its :func:`root_translation` (same arguments). Frames in
    which a person is not seen are NaN.

    ``height_mm``: ``None`` when ``poses`` are in millimetres already; a body height (the skeleton height
    of :func:`skeleton_height`, e.g. 1700) to scale a lifter's output frame by frame first
    (:func:`scale_each_frame`, smoothed with ``smooth_sigma``)."""
    poses = np.asarray(poses, dtype=np.float64)
    _check_inputs(poses, keypoints_2d)
    if height_mm is not None:
        poses = scale_each_frame(poses, height_mm, smooth_sigma)
    t = root_translation(poses, keypoints_2d, image_size, focal, principal_point=principal_point,
                         smooth_sigma=smooth_sigma, min_confidence=min_confidence)
    return poses - poses[..., :1, :] + t[..., None, :]
