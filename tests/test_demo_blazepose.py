"""The offline 2D backend: BlazePose's 33 landmarks -> Human3.6M-17, the crop geometry, and (when mediapipe is
installed) BlazePose on a real photograph."""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

from demo.sct_demo.blazepose import BlazePoseTracker, mediapipe_available, square_crop
from demo.sct_demo.keypoints import COCO_KEYPOINT_NAMES
from lib.utils.skeleton import H36M_JOINT_NAMES
from sct.keypoint_formats import COCO_FROM_BLAZEPOSE, blazepose_to_coco, blazepose_to_h36m

# BlazePose landmark names, index = position (MediaPipe's PoseLandmark enum)
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)


def known_landmarks() -> np.ndarray:
    """33 landmarks ``(33, 3)`` at distinct hand-picked points, visibility = 0.01 * (index + 1)."""
    rng = np.random.default_rng(3)
    lm = np.zeros((33, 3))
    lm[:, :2] = rng.uniform(0, 500, size=(33, 2)).round()
    lm[:, 2] = 0.01 * (np.arange(33) + 1)
    return lm


def test_33_to_h36m_on_known_landmarks():
    lm = known_landmarks()
    h36m, conf = blazepose_to_h36m(lm)
    j = {name: h36m[i] for i, name in enumerate(H36M_JOINT_NAMES)}
    c = {name: conf[i] for i, name in enumerate(H36M_JOINT_NAMES)}
    b = {name: lm[i] for i, name in enumerate(BLAZEPOSE_NAMES)}
    for side, word in (("l", "left"), ("r", "right")):
        for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            np.testing.assert_allclose(j[f"{side}_{part}"], b[f"{word}_{part}"][:2])
            assert c[f"{side}_{part}"] == pytest.approx(b[f"{word}_{part}"][2])
    pelvis = (b["left_hip"][:2] + b["right_hip"][:2]) / 2
    thorax = (b["left_shoulder"][:2] + b["right_shoulder"][:2]) / 2
    eyes = (b["left_eye"][:2] + b["right_eye"][:2]) / 2
    mouth = (b["mouth_left"][:2] + b["mouth_right"][:2]) / 2
    np.testing.assert_allclose(j["pelvis"], pelvis, rtol=1e-6)
    np.testing.assert_allclose(j["thorax"], thorax, rtol=1e-6)
    np.testing.assert_allclose(j["spine"], (pelvis + thorax) / 2, rtol=1e-6)
    np.testing.assert_allclose(j["nose"], b["nose"][:2] + (thorax - b["nose"][:2]) / 4, rtol=1e-6)
    np.testing.assert_allclose(j["head"], 2 * eyes - mouth, rtol=1e-6)
    assert c["pelvis"] == pytest.approx((b["left_hip"][2] + b["right_hip"][2]) / 2)
    assert c["thorax"] == pytest.approx((b["left_shoulder"][2] + b["right_shoulder"][2]) / 2)
    assert c["head"] == pytest.approx(np.mean([b[k][2] for k in ("left_eye", "right_eye", "mouth_left",
                                                                 "mouth_right")]))
    # batched input gives the same per item
    both, _ = blazepose_to_h36m(np.stack([lm, lm + [10, 0, 0]]))
    np.testing.assert_allclose(both[1] - both[0], np.tile([10, 0], (17, 1)), atol=1e-4)


def test_33_to_coco_names():
    lm = known_landmarks()
    coco = blazepose_to_coco(lm)
    for i, name in enumerate(COCO_KEYPOINT_NAMES):
        word = name.replace("l_", "left_").replace("r_", "right_")
        assert BLAZEPOSE_NAMES[COCO_FROM_BLAZEPOSE[i]] == word
        np.testing.assert_allclose(coco[i], lm[BLAZEPOSE_NAMES.index(word)], rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(\.\.\., 33, 3\)"):
        blazepose_to_h36m(np.zeros((17, 3)))


def test_square_crop_is_centred_and_enlarged():
    corner, side = square_crop(np.array([100.0, 50.0, 140.0, 150.0]), enlarge=1.5)
    assert side == pytest.approx(150.0)
    np.testing.assert_allclose(corner + side / 2, [120.0, 100.0])


class WholeImage:
    """A person detector that reports the whole frame as one person (the photograph is a portrait)."""

    def detect(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return np.array([[w * 0.1, h * 0.1, w * 0.9, h * 0.9, 1.0]], dtype=np.float32)


@pytest.mark.skipif(not mediapipe_available(), reason="mediapipe is not installed (make demo-offline)")
def test_blazepose_on_a_real_photograph():
    """Grace Hopper's portrait (public domain, shipped with matplotlib): a plausible upper body, facing us."""
    image = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    assert image is not None and image.shape == (600, 512, 3)
    tracker = BlazePoseTracker(det_every=1, max_people=1, detector=WholeImage())
    for _ in range(2):  # a still video of two frames: detection, then tracking
        tracker.update(image)
    tracker.close()
    (track,) = tracker.all_tracks
    assert sorted(track.landmarks) == [0, 1]
    h36m, conf = blazepose_to_h36m(track.landmarks[1])
    j = {name: h36m[i] for i, name in enumerate(H36M_JOINT_NAMES)}
    c = {name: conf[i] for i, name in enumerate(H36M_JOINT_NAMES)}
    # the face and shoulders are visible and confident
    assert min(c["head"], c["nose"], c["l_shoulder"], c["r_shoulder"]) > 0.8
    # top to bottom: head, nose (neck), thorax, spine, pelvis (y grows downward)
    ys = [j[k][1] for k in ("head", "nose", "thorax", "spine", "pelvis")]
    assert ys == sorted(ys)
    assert 0 < j["head"][1] < 200 and 350 < j["thorax"][1] < 500  # head in the top third, chest lower down
    # facing the camera: her left shoulder is on the image's right; shoulders about 2-4 head heights apart
    assert j["l_shoulder"][0] > j["thorax"][0] > j["r_shoulder"][0]
    shoulders = np.linalg.norm(j["l_shoulder"] - j["r_shoulder"])
    head = np.linalg.norm(j["head"] - j["nose"])
    assert 1.5 * head < shoulders < 5 * head
    # limbs of sensible proportions: upper arms between a third and the whole shoulder width
    for side in ("l", "r"):
        upper_arm = np.linalg.norm(j[f"{side}_elbow"] - j[f"{side}_shoulder"])
        assert shoulders / 3 < upper_arm < shoulders * 1.2
