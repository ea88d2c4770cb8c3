"""Converters from the keypoint layouts of common 2D detectors to the 17 Human3.6M joints SCT lifts.

* :func:`coco_to_h36m`: COCO-17 (what most 2D detectors output: HRNet, ViTPose, AlphaPose, RTMPose, YOLO-pose);
* :func:`blazepose_to_h36m`: MediaPipe BlazePose's 33 landmarks (and :func:`blazepose_to_coco`).

Image coordinates, y pointing down; the person's left/right (``L``/``R``).

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
BlazePose's 33 landmarks -> Human3.6M-17 (:func:`blazepose_to_h36m`; ``L``/``R`` = the person's left/right):

* limbs copy over: hips 24/23 (R/L), knees 26/25, ankles 28/27, shoulders 12/11, elbows 14/13, wrists 16/15;
* ``pelvis = (L_hip + R_hip) / 2``;  ``thorax = (L_shoulder + R_shoulder) / 2``;
  ``spine = (pelvis + thorax) / 2``;
* ``nose`` (Human3.6M's neck/nose point) ``= nose_0 + (thorax - nose_0) / 4`` (the COCO convention above);
* ``head`` (top of the head) ``= eyes + (eyes - mouth)`` with ``eyes = (L_eye_2 + R_eye_5) / 2`` and
  ``mouth = (mouth_9 + mouth_10) / 2``: as far above the eyes as the mouth is below them.

Confidence = the landmark's ``visibility``; a derived joint gets the mean visibility of the landmarks in
its formula. :func:`blazepose_to_coco` picks the 17 COCO points (:data:`COCO_FROM_BLAZEPOSE`).
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


BLAZEPOSE_JOINTS = 33
# COCO-17 index -> BlazePose index
COCO_FROM_BLAZEPOSE: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
# Human3.6M index -> BlazePose index, for the joints that copy over
H36M_FROM_BLAZEPOSE: dict[int, int] = {1: 24, 2: 26, 3: 28, 4: 23, 5: 25, 6: 27,
                                       11: 11, 12: 13, 13: 15, 14: 12, 15: 14, 16: 16}
# Human3.6M index -> BlazePose landmarks whose visibilities are averaged for a derived joint
DERIVED_SOURCES: dict[int, tuple[int, ...]] = {0: (23, 24), 7: (11, 12, 23, 24), 8: (11, 12), 9: (0, 11, 12),
                                               10: (2, 5, 9, 10)}


def blazepose_to_h36m(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose landmarks ``(..., 33, 3)`` (x, y, visibility) -> Human3.6M joints ``(..., 17, 2)`` and
    confidences ``(..., 17)``; formulas in the module docstring."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[-2:] != (BLAZEPOSE_JOINTS, 3):
        raise ValueError(f"expected BlazePose landmarks of shape (..., 33, 3), got {lm.shape}")
    xy, vis = lm[..., :2], lm[..., 2]
    out = np.zeros(lm.shape[:-2] + (17, 2))
    for h, b in H36M_FROM_BLAZEPOSE.items():
        out[..., h, :] = xy[..., b, :]
    pelvis = (xy[..., 23, :] + xy[..., 24, :]) / 2
    thorax = (xy[..., 11, :] + xy[..., 12, :]) / 2
    eyes = (xy[..., 2, :] + xy[..., 5, :]) / 2
    mouth = (xy[..., 9, :] + xy[..., 10, :]) / 2
    out[..., 0, :] = pelvis
    out[..., 7, :] = (pelvis + thorax) / 2
    out[..., 8, :] = thorax
    out[..., 9, :] = xy[..., 0, :] + (thorax - xy[..., 0, :]) / 4
    out[..., 10, :] = eyes + (eyes - mouth)
    conf = np.zeros(lm.shape[:-2] + (17,))
    for h, b in H36M_FROM_BLAZEPOSE.items():
        conf[..., h] = vis[..., b]
    for h, src in DERIVED_SOURCES.items():
        conf[..., h] = vis[..., list(src)].mean(axis=-1)
    return out.astype(np.float32), conf.astype(np.float32)


def blazepose_to_coco(landmarks: np.ndarray) -> np.ndarray:
    """The 17 COCO keypoints ``(..., 17, 3)`` (x, y, visibility) among BlazePose's 33."""
    return np.asarray(landmarks, dtype=np.float32)[..., list(COCO_FROM_BLAZEPOSE), :]
