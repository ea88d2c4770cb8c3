"""2D keypoint steps of the demo: crops, sub-pixel heatmap decoding, flip test, COCO->H36M, tracking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from demo.sct_demo.convert import fill_missing
from demo.sct_demo.keypoints import (
    box_to_center_size,
    crop_transform,
    decode_heatmaps,
    flip_back_heatmaps,
    heatmap_to_image,
)
from demo.sct_demo.tracker import IoUTracker, box_iou, select_tracks
from sct.keypoint_formats import coco_to_h36m


def gaussian_heatmap(w: int, h: int, cx: float, cy: float, sigma: float = 2.0) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    return np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))


@pytest.mark.parametrize("cx, cy", [(20.3, 15.2), (20.0, 15.0), (7.8, 30.6), (40.45, 3.55), (1.2, 1.9)])
def test_decoder_recovers_a_known_peak_to_sub_pixel_accuracy(cx, cy):
    hm = gaussian_heatmap(72, 96, cx, cy)[None, None]
    coords, conf = decode_heatmaps(hm)
    # argmax + a quarter pixel toward the higher neighbour: never more than 0.25 px off
    assert abs(coords[0, 0, 0] - cx) <= 0.25 + 1e-9 and abs(coords[0, 0, 1] - cy) <= 0.25 + 1e-9
    expect_x = round(cx) + 0.25 * np.sign(cx - round(cx))
    expect_y = round(cy) + 0.25 * np.sign(cy - round(cy))
    np.testing.assert_allclose(coords[0, 0], [expect_x, expect_y])
    assert conf[0, 0] == pytest.approx(hm.max())


def test_decoder_does_not_shift_at_the_border_and_handles_batches():
    hm = np.zeros((2, 3, 10, 8))
    hm[0, 0, 0, 4] = 1.0  # top row: no y shift possible
    hm[0, 0, 0, 5] = 0.5  # right neighbour higher than left -> +0.25 in x
    hm[1, 2, 9, 7] = 2.0  # bottom-right corner: no shift
    coords, conf = decode_heatmaps(hm)
    np.testing.assert_allclose(coords[0, 0], [4.25, 0.0])
    np.testing.assert_allclose(coords[1, 2], [7.0, 9.0])
    assert conf[1, 2] == 2.0 and conf.shape == (2, 3)


def test_box_padding_and_crop_round_trip():
    center, size = box_to_center_size(np.array([100, 50, 200, 150, 0.9]), aspect_ratio=0.75)
    np.testing.assert_allclose(center, [150, 100])
    np.testing.assert_allclose(size, [100 * 1.25, 100 / 0.75 * 1.25])  # made taller to w/h = 0.75, x 1.25
    wide_center, wide_size = box_to_center_size(np.array([0, 0, 300, 100]), aspect_ratio=0.75)
    np.testing.assert_allclose(wide_size, [375, 500])
    # an image point -> crop pixel -> heatmap pixel (1/4) -> back to the image: the same point
    m = crop_transform(center, size, (288, 384))
    point = np.array([130.0, 120.0])
    crop_xy = m[:, :2] @ point + m[:, 2]
    np.testing.assert_allclose(crop_xy, [144 + (130 - 150) * 288 / 125, 192 + 20 * 288 / 125])
    back = heatmap_to_image(crop_xy / 4, center, size, (72, 96))
    np.testing.assert_allclose(back, point)


def test_flip_back_swaps_left_right_and_shifts_one_pixel():
    flipped = torch.zeros(1, 17, 4, 8)
    flipped[0, 2, 1, 8 - 1 - 2] = 1.0  # the mirrored crop's "right eye" is the left eye at x=2
    back = flip_back_heatmaps(flipped)
    assert back[0, 1].argmax().item() == 1 * 8 + 3  # left eye, x = 2 + 1 (alignment shift)
    assert back[0, 2].max() == 0
    assert flip_back_heatmaps(flipped, shift=False)[0, 1].argmax().item() == 1 * 8 + 2


def coco_pose() -> np.ndarray:
    return np.array([
        [50, 20], [54, 16], [46, 16], [58, 18], [42, 18],  # nose, eyes, ears
        [69, 40], [35, 40], [70, 60], [30, 60], [72, 80], [28, 80],  # shoulders, elbows, wrists (l, r)
        [64, 90], [40, 90], [61, 120], [39, 120], [62, 150], [38, 150],  # hips, knees, ankles (l, r)
    ], dtype=np.float64)


def test_coco_to_h36m_against_hand_computed_joints():
    k = coco_pose()
    scores = 0.1 + 0.05 * np.arange(17)
    h36m, s = coco_to_h36m(k[None], scores[None])
    h, s = h36m[0], s[0]
    # mid-shoulders (52, 40); mid-hips (52, 90); eyes at y = 16, nose at (50, 20)
    expected = {
        0: (52, 90),  # pelvis = mid-hips
        1: (40, 90), 2: (39, 120), 3: (38, 150),  # right leg
        4: (64, 90), 5: (61, 120), 6: (62, 150),  # left leg
        7: (52 + 2 * (52 - (52 + 154 / 3) / 2), 65),  # spine: mean of shoulders+hips, x pushed 2x off
        8: (52 + (50 - 52) / 3, 40 - 20 / 3 + 8 / 3),  # thorax: 1/3 toward the nose, then 2/3 eye height down
        9: (50.5, 25),  # nose moved 1/4 toward mid-shoulders
        10: (50, 12),  # head: x = mean(eyes, ears), y = 2 * eye_y - nose_y
        11: (69, 40), 12: (70, 60), 13: (72, 80),  # left arm
        14: (35, 40), 15: (30, 60), 16: (28, 80),  # right arm
    }
    for j, xy in expected.items():
        np.testing.assert_allclose(h[j], xy, atol=1e-4, err_msg=f"joint {j}")
    np.testing.assert_allclose(h[8], [154 / 3, 36], atol=1e-4)
    np.testing.assert_allclose(h[7], [52 + 2 / 3, 65], atol=1e-4)
    expected_s = {0: (0.65 + 0.7) / 2, 7: (0.35 + 0.4 + 0.65 + 0.7) / 4, 8: (0.35 + 0.4) / 2, 9: 0.1,
                  10: (0.15 + 0.2 + 0.25 + 0.3) / 4, 1: 0.7, 4: 0.65, 11: 0.35, 14: 0.4, 16: 0.6}
    for j, v in expected_s.items():
        assert s[j] == pytest.approx(v, abs=1e-6), j
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 2\)"):
        coco_to_h36m(np.zeros((5, 16, 2)))


def test_fill_missing_interpolates_and_copies_at_the_ends():
    values = np.array([[0.0], [0.0], [2.0], [0.0], [0.0], [8.0], [0.0]])
    present = np.array([False, False, True, False, False, True, False])
    filled = fill_missing(values, present)
    np.testing.assert_allclose(filled[:, 0], [2, 2, 2, 4, 6, 8, 8])
    with pytest.raises(ValueError):
        fill_missing(values, np.zeros(7, dtype=bool))


def test_iou_tracker_keeps_identities_and_selects_the_largest_tracks():
    assert box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10]]))[0, 0] == pytest.approx(50 / 150)
    tracker = IoUTracker(iou_thresh=0.3, max_age=2)
    big = lambda t: [100 + 3 * t, 10, 160 + 3 * t, 130, 0.9]  # noqa: E731
    small = lambda t: [10 + 2 * t, 50, 30 + 2 * t, 90, 0.8]  # noqa: E731
    ids = []
    for t in range(6):
        dets = [small(t), big(t)] if t % 2 else [big(t), small(t)]  # detection order changes
        if t == 3:
            dets = [big(t)]  # the small person is missed once
        ids.append(tracker.update(np.array(dets, dtype=np.float32)))
    assert ids[0] == [0, 1] and ids[1] == [1, 0] and ids[3] == [0] and ids[5] == [1, 0]
    assert sorted(tracker.tracks[1].boxes) == [0, 1, 2, 4, 5]
    chosen = select_tracks(tracker.tracks, 1)
    assert [tr.track_id for tr in chosen] == [0]
    assert len(select_tracks(tracker.tracks, 5)) == 2
    # a track unseen for longer than max_age ends: the same place later is a new person
    for _ in range(3):
        tracker.update(np.zeros((0, 5), dtype=np.float32))
    assert tracker.update(np.array([big(9)], dtype=np.float32)) == [2]


def test_iou_tracker_matches_hundreds_of_people_one_to_one():
    rng = np.random.default_rng(0)
    xs = np.arange(500) * 30.0  # 500 side-by-side people, 20 px wide, each moving 2 px per frame
    first = np.stack([xs, np.zeros(500), xs + 20, np.full(500, 60), rng.uniform(0.5, 1, 500)], axis=1)
    tracker = IoUTracker()
    ids0 = tracker.update(first.astype(np.float32))
    perm = rng.permutation(500)
    moved = first[perm] + np.array([2, 0, 2, 0, 0])
    ids1 = tracker.update(moved.astype(np.float32))
    assert ids0 == list(range(500))
    assert ids1 == perm.tolist()
