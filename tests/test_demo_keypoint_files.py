"""Keypoint files (--keypoints): AlphaPose JSON, OpenPose BODY_25 folders, the demo's npz; mapping, tracks,
missing frames and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from demo.sct_demo.keypoint_files import (
    COCO_FROM_BODY25,
    KeypointFileError,
    load_keypoints,
)
from sct.keypoint_formats import coco_to_h36m


def coco_person(x0: float, y0: float, scale: float = 1.0, score: float = 0.9) -> np.ndarray:
    """A standing COCO-17 person ``(17, 3)``: nose at (x0, y0), feet about 160 * scale px below."""
    pts = np.array([[0, 0], [3, -3], [-3, -3], [6, -1], [-6, -1], [15, 20], [-15, 20], [18, 50], [-18, 50],
                    [20, 75], [-20, 75], [9, 85], [-9, 85], [9, 125], [-9, 125], [9, 160], [-9, 160]], float)
    # COCO's left side is the person's left: for a person facing the camera it is on the image's right (+x)
    out = np.concatenate([pts * scale + [x0, y0], np.full((17, 1), score)], axis=1)
    return out


def alphapose_entry(frame: int, kp: np.ndarray, idx: int | None) -> dict:
    entry = {"image_id": f"{frame}.jpg", "category_id": 1, "keypoints": kp.reshape(-1).tolist(), "score": 2.5}
    if idx is not None:
        entry["idx"] = idx
    return entry


def test_alphapose_tracks_by_idx_mapping_and_missing_frames(tmp_path):
    a = [coco_person(100 + 2 * t, 50) for t in range(5)]
    b = [coco_person(300, 60, scale=0.8) for t in range(5)]
    # person 2 (b) is absent from frame 2; frame 4 lists b first; idx decides, not the order
    entries = [alphapose_entry(t, a[t], 1) for t in range(4)] + [alphapose_entry(4, b[4], 2),
                                                                  alphapose_entry(4, a[4], 1)]
    entries += [alphapose_entry(t, b[t], 2) for t in (0, 1, 3)]
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    kp = load_keypoints(path)
    assert kp.h36m.shape == (2, 5, 17, 3) and kp.coco.shape == (2, 5, 17, 3)
    assert not kp.frames_known  # AlphaPose omits frames with nobody
    np.testing.assert_array_equal(kp.present, [[True] * 5, [True, True, False, True, True]])
    expected, scores = coco_to_h36m(np.stack(a)[..., :2], np.stack(a)[..., 2])
    np.testing.assert_allclose(kp.h36m[0, :, :, :2], expected, atol=1e-4)
    np.testing.assert_allclose(kp.h36m[0, :, :, 2], scores, atol=1e-6)
    # the missing frame of b is interpolated between frames 1 and 3 (b does not move: equal to them)
    np.testing.assert_allclose(kp.coco[1, 2], kp.coco[1, 1], atol=1e-5)
    assert np.isnan(kp.boxes[1, 2]).all() and np.isfinite(kp.boxes[1, [0, 1, 3, 4]]).all()
    np.testing.assert_allclose(kp.boxes[0, 0, :4], [100 - 20, 50 - 3, 100 + 20, 50 + 160])


def test_alphapose_without_idx_is_tracked_by_iou(tmp_path):
    entries = []
    for t in range(4):
        people = [coco_person(100 + 3 * t, 40), coco_person(400 - 3 * t, 40)]
        if t % 2:
            people.reverse()  # the listing order changes; the tracker must not swap them
        entries += [alphapose_entry(t, p, None) for p in people]
    path = tmp_path / "res.json"
    path.write_text(json.dumps(entries))
    kp = load_keypoints(path)
    assert kp.h36m.shape[:2] == (2, 4) and kp.present.all()
    nose_x = kp.coco[:, :, 0, 0]
    np.testing.assert_allclose(nose_x[0], [100, 103, 106, 109])
    np.testing.assert_allclose(nose_x[1], [400, 397, 394, 391])


def openpose_frame(people: list[np.ndarray]) -> dict:
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p.reshape(-1).tolist()}
                                       for p in people]}


def body25_from_coco(coco: np.ndarray) -> np.ndarray:
    body = np.zeros((25, 3))
    body[list(COCO_FROM_BODY25)] = coco
    body[1] = (coco[5] + coco[6]) / 2  # neck and mid-hip exist in BODY_25 but are not used
    body[8] = (coco[11] + coco[12]) / 2
    return body


def test_openpose_folder_mapping_tracks_and_joints_not_found(tmp_path):
    folder = tmp_path / "json"
    folder.mkdir()
    a = [coco_person(100 + 2 * t, 50) for t in range(4)]
    for t in range(4):
        people = [body25_from_coco(a[t])]
        if t == 1:
            people[0][list(COCO_FROM_BODY25)[9]] = 0.0  # l_wrist not found in frame 1
        if t != 2:  # frame 2: nobody
            people.append(body25_from_coco(coco_person(400, 50)))
        else:
            people = []
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(openpose_frame(people)))
    kp = load_keypoints(folder)
    assert kp.frames_known and kp.h36m.shape == (2, 4, 17, 3)
    np.testing.assert_array_equal(kp.present, [[True, True, False, True], [True, True, False, True]])
    # BODY_25 -> COCO picks the right points: frame 0 equals the COCO person it was built from
    np.testing.assert_allclose(kp.coco[0, 0], a[0], atol=1e-5)
    # the wrist not found in frame 1 takes its place from frames 0 and 3 (interpolated), keeps score 0
    np.testing.assert_allclose(kp.coco[0, 1, 9, :2], a[0][9, :2] + (a[3][9, :2] - a[0][9, :2]) / 3, atol=1e-4)
    assert kp.coco[0, 1, 9, 2] == 0
    # nobody in frame 2: interpolated between frames 1 and 3
    np.testing.assert_allclose(kp.coco[0, 2, 0, :2], (a[1][0, :2] + a[3][0, :2]) / 2, atol=1e-4)


def test_demo_npz_round_trip(tmp_path):
    h36m = np.random.default_rng(0).uniform(0, 100, size=(2, 3, 17, 3)).astype(np.float32)
    missing = np.array([[False, True, False], [False, False, False]])
    path = tmp_path / "keypoints_2d.npz"
    np.savez(path, h36m=h36m, missing=missing, width=np.int64(640), height=np.int64(480), fps=np.float64(30))
    kp = load_keypoints(path)
    np.testing.assert_array_equal(kp.h36m, h36m)
    np.testing.assert_array_equal(kp.present, ~missing)
    assert kp.size == (640, 480) and kp.fps == 30 and kp.coco is None


@pytest.mark.parametrize("name, content, message", [
    ("k.txt", "hello", "unknown keypoints format"),
    ("k.json", "{not json", "cannot read"),
    ("k.json", json.dumps({"people": []}), "is not AlphaPose results JSON"),
    ("k.json", json.dumps([{"image_id": "0.jpg", "keypoints": [1.0] * 54}]), "expected 17 joints"),
    ("k.json", json.dumps([{"image_id": "0.jpg", "keypoints": [float("nan")] * 51}]), "NaN"),
    ("k.json", json.dumps([]), "no person"),
])
def test_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(KeypointFileError, match=message):
        load_keypoints(path)


def test_bad_openpose_and_npz(tmp_path):
    folder = tmp_path / "coco18"
    folder.mkdir()
    (folder / "a_000000000000_keypoints.json").write_text(json.dumps(openpose_frame([np.ones((18, 3))])))
    with pytest.raises(KeypointFileError, match=r"expected 25 joints .* got 54.*BODY_25"):
        load_keypoints(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeypointFileError, match="holds no .json files"):
        load_keypoints(tmp_path / "empty")
    with pytest.raises(KeypointFileError, match="keypoints file not found"):
        load_keypoints(tmp_path / "nowhere.json")
    bad = tmp_path / "bad.npz"
    np.savez(bad, h36m=np.zeros((1, 2, 16, 3)))
    with pytest.raises(KeypointFileError, match=r"\(people, frames, 17, 3\)"):
        load_keypoints(bad)
    nan = tmp_path / "nan.npz"
    np.savez(nan, h36m=np.full((1, 2, 17, 3), np.nan))
    with pytest.raises(KeypointFileError, match="NaN"):
        load_keypoints(nan)
