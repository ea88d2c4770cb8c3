"""Lifting a whole video in windows: every plan covers every frame once in the blend, the echo model gets
each frame back, flip averaging, and the display rotation of the demo."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lib.engine.lifting import lift_video
from lib.utils.sliding_windows import (
    Blender,
    centred_plan,
    consecutive_plan,
    lookahead_plan,
    overlapping_plan,
    triangular_weights,
)
from sct.lifter import normalize_keypoints

PLANS = {
    "overlapping": lambda n, L: overlapping_plan(n, L),
    "overlapping stride 5": lambda n, L: overlapping_plan(n, L, stride=5),
    "consecutive": consecutive_plan,
    "lookahead 0": lambda n, L: lookahead_plan(n, L, 0),
    "lookahead 10": lambda n, L: lookahead_plan(n, L, 10),
    "centred": centred_plan,
}


def test_screen_normalisation():
    pts = np.array([[0.0, 0.0, 0.7], [640.0, 240.0, 0.5], [320.0, 480.0, 1.0]])
    out = normalize_keypoints(pts[None], 640, 480)[0]
    np.testing.assert_allclose(out, [[-1, -0.75, 0.7], [1, 0, 0.5], [0, 0.75, 1.0]])


class EchoLifter(nn.Module):
    """Returns (x, y, confidence) as the 3D pose and records the clip lengths it was given."""

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.calls: list[tuple[int, ...]] = []
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.maxlen:
            raise ValueError(f"expected {self.maxlen} frames, got {x.shape[1]}")
        self.calls.append(tuple(x.shape))
        return x.clone()


@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("num_frames", [1, 7, 27, 28, 100])
def test_blending_frame_numbers_gives_each_frame_its_number(plan_name, num_frames):
    plan = PLANS[plan_name](num_frames, 27)
    frames = plan.frames()
    assert frames.shape == (len(plan.starts), 27) and frames.min() >= 0 and frames.max() < num_frames
    # each window "predicts" the frame number at each position (padding positions say a wrong number)
    outputs = (plan.starts[:, None] + np.arange(27)[None, :]).astype(np.float64)[..., None]
    np.testing.assert_allclose(plan.blend(outputs)[:, 0], np.arange(num_frames))


def test_overlapping_windows_start_every_half_window_and_end_at_the_last_frame():
    plan = overlapping_plan(100, 27)
    np.testing.assert_array_equal(plan.starts, [0, 13, 26, 39, 52, 65, 73])
    assert overlapping_plan(10, 27).starts.tolist() == [0]  # shorter than a window: one, edge-padded
    np.testing.assert_array_equal(overlapping_plan(10, 27).frames()[0, 9:], 9)
    np.testing.assert_array_equal(triangular_weights(5), [1, 2, 3, 2, 1])
    with pytest.raises(ValueError, match="stride must be between 1 and the window length 27"):
        overlapping_plan(100, 27, stride=28)


def test_lookahead_window_ends_k_frames_after_its_frame():
    plan = lookahead_plan(50, 9, 3)
    frames = plan.frames()
    t = 20
    np.testing.assert_array_equal(frames[t], np.arange(t + 3 - 8, t + 4))
    assert plan.weights.tolist() == [0] * 5 + [1] + [0] * 3  # read out at position 9 - 1 - 3
    np.testing.assert_array_equal(frames[0], [0] * 6 + [1, 2, 3])  # the first frame fills the start
    np.testing.assert_array_equal(frames[49], [44, 45, 46, 47, 48, 49, 49, 49, 49])  # the last fills the end
    with pytest.raises(ValueError, match="lookahead must be between 0 and 8 frames, got 9"):
        lookahead_plan(50, 9, 9)


def test_blender_adds_batches_like_one_blend():
    plan = overlapping_plan(60, 16, stride=4)
    rng = np.random.default_rng(0)
    outputs = rng.normal(size=(len(plan.starts), 16, 2))
    blender = Blender(plan, (2,))
    for first in range(0, len(outputs), 3):
        blender.add(first, outputs[first:first + 3])
    np.testing.assert_allclose(blender.result(), plan.blend(outputs))
    with pytest.raises(ValueError, match="do not fit windows"):
        blender.add(len(outputs) - 1, outputs[:2])
    partial = Blender(centred_plan(5, 3, centres=[0, 1, 2]), ())  # frames 3 and 4 have no window
    partial.add(0, np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"the plan leaves 2 frame\(s\) without a window"):
        partial.result()


@pytest.mark.parametrize("num_frames", [1, 7, 27, 28, 100, 4000])
@pytest.mark.parametrize("flip", [False, True])
def test_every_frame_gets_its_own_pose_back(num_frames, flip):
    rng = np.random.default_rng(num_frames)
    inputs = rng.normal(size=(num_frames, 17, 3)).astype(np.float32)
    model = EchoLifter(maxlen=27)
    done = []
    plan = overlapping_plan(num_frames, 27)
    out = lift_video(model, inputs, plan, device="cpu", batch_size=4, flip=flip, progress=done.append)
    assert out.shape == (num_frames, 17, 3)
    # the echo model is flip-equivariant, so each frame must come back as its own (root-relative) input
    np.testing.assert_allclose(out, inputs - inputs[:, :1], atol=1e-5)
    assert sum(done) == len(plan.starts)
    assert sum(c[0] for c in model.calls) == len(plan.starts) * (2 if flip else 1)


def test_scene_panel_keeps_everyone_in_sight_near_people_larger():
    from demo.sct_demo.render import ScenePanel

    # two people standing on the floor (world Y up, mm), 2 m and 6 m in front of a camera 1.5 m high
    stand = np.zeros((17, 3))
    stand[:, 1] = np.linspace(0, 1700, 17)
    stand[[3, 6], 1], stand[10, 1] = 80, 1700  # ankles low, head on top
    people = np.stack([stand + [-500, 0, -2000], stand + [800, 0, -6000]])[:, None].repeat(10, axis=1)
    panel = ScenePanel(people, camera_height_mm=1500, size_wh=(320, 240))
    for p in range(2):
        uv = panel.project(people[p, 0])
        assert np.isfinite(uv).all() and (uv[:, 0] > 0).all() and (uv[:, 0] < 320).all()
        assert (uv[:, 1] > 0).all() and (uv[:, 1] < 240).all()
        assert uv[10, 1] < uv[3, 1]  # head above the ankles in the picture
    size = [np.ptp(panel.project(people[p, 0])[:, 1]) for p in range(2)]
    assert size[0] > size[1]  # the nearer person looks taller
    image = panel.render(people[:, 0])
    assert image.shape == (240, 320, 3) and image.dtype == np.uint8
    assert (image < 250).any(axis=-1).mean() > 0.01  # grid and skeletons drawn


def test_people_are_drawn_only_between_their_first_and_last_frame_seen():
    from demo.sct_demo.writers import seen_span

    present = np.array([[False, True, False, True, False], [False] * 5, [True] * 5])
    np.testing.assert_array_equal(seen_span(present), [[False, True, True, True, False], [False] * 5, [True] * 5])
