"""COCO-17 keypoints -> Human3.6M-17 joints, and filling frames where a person was not detected.

Human3.6M joints (``lib.utils.skeleton.H36M_JOINT_NAMES``) from COCO keypoints (``COCO_KEYPOINT_NAMES``);
image coordinates, y pointing down. The limbs copy over: hips, knees, ankles, shoulders, elbows, wrists.
The other five follow the convention of the published video demos of this model family (GAST-Net,
MHFormer, ...), so that a lifter trained on Human3.6M sees torso and head points where it expects them:

* ``pelvis`` = mid-hips ``(l_hip + r_hip) / 2``;
* ``thorax``: ``t0 = mid_shoulders + (nose - mid_shoulders) / 3`` (a third of the way up to the nose),
  then its y moves down by two thirds of the eye-to-nose height:
  ``thorax.y = t0.y - 2/3 * (mean(l_eye.y, r_eye.y) - nose.y)``;
* ``spine``: ``s0 = mean(l_shoulder, r_shoulder, l_hip, r_hip)``, then its x moves away from the
  pelvis-thorax midline by twice its offset: ``spine.x = s0.x + 2 * (s0.x - (pelvis.x + thorax.x) / 2)``;
* ``nose`` (Human3.6M's neck/nose point) = COCO nose moved a quarter of the way toward mid-shoulders:
  ``nose - (nose - mid_shoulders) / 4``;
* ``head``: x = mean of the eyes and ears; y = ``l_eye.y + r_eye.y - nose.y`` (as far above the eyes as
  the nose is below them).

Confidences: copied joints keep theirs; a derived joint gets the mean of the COCO points it is anchored
to: pelvis <- hips, thorax <- shoulders, spine <- shoulders and hips, nose <- nose, head <- eyes and ears.
"""

from __future__ import annotations

import numpy as np

# H36M index <- COCO index for the joints that copy over
H36M_FROM_COCO: dict[int, int] = {
    1: 12, 2: 14, 3: 16,  # right hip, knee, ankle
    4: 11, 5: 13, 6: 15,  # left hip, knee, ankle
    11: 5, 12: 7, 13: 9,  # left shoulder, elbow, wrist
    14: 6, 15: 8, 16: 10,  # right shoulder, elbow, wrist
}
# H36M index -> COCO indices whose confidences are averaged for a derived joint
DERIVED_SCORE_SOURCES: dict[int, tuple[int, ...]] = {
    0: (11, 12), 7: (5, 6, 11, 12), 8: (5, 6), 9: (0,), 10: (1, 2, 3, 4),
}


def coco_to_h36m(kpts: np.ndarray, scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Convert COCO keypoints ``(..., 17, 2)`` (and scores ``(..., 17)``) to Human3.6M ``(..., 17, 2)``.

    See the module docstring for each formula. Returns ``(h36m_kpts, h36m_scores)`` as float32; scores
    default to ones.
    """
    k = np.asarray(kpts, dtype=np.float64)
    if k.shape[-2:] != (17, 2):
        raise ValueError(f"expected COCO keypoints of shape (..., 17, 2), got {k.shape}")
    s = np.ones(k.shape[:-1]) if scores is None else np.asarray(scores, dtype=np.float64)
    out = np.zeros_like(k)
    for h, c in H36M_FROM_COCO.items():
        out[..., h, :] = k[..., c, :]
    nose, l_eye, r_eye = k[..., 0, :], k[..., 1, :], k[..., 2, :]
    mid_sh = (k[..., 5, :] + k[..., 6, :]) / 2
    pelvis = (k[..., 11, :] + k[..., 12, :]) / 2
    eyes_y = (l_eye[..., 1] + r_eye[..., 1]) / 2

    thorax = mid_sh + (nose - mid_sh) / 3
    thorax[..., 1] -= (eyes_y - nose[..., 1]) * 2 / 3
    spine = k[..., [5, 6, 11, 12], :].mean(axis=-2)
    spine[..., 0] += 2 * (spine[..., 0] - (pelvis[..., 0] + thorax[..., 0]) / 2)
    head = np.stack([k[..., 1:5, 0].mean(axis=-1), l_eye[..., 1] + r_eye[..., 1] - nose[..., 1]], axis=-1)

    out[..., 0, :] = pelvis
    out[..., 7, :] = spine
    out[..., 8, :] = thorax
    out[..., 9, :] = nose - (nose - mid_sh) / 4
    out[..., 10, :] = head

    out_s = np.zeros_like(s)
    for h, c in H36M_FROM_COCO.items():
        out_s[..., h] = s[..., c]
    for h, src in DERIVED_SCORE_SOURCES.items():
        out_s[..., h] = s[..., list(src)].mean(axis=-1)
    return out.astype(np.float32), out_s.astype(np.float32)


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
