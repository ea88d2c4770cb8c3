"""Lifting a whole video in windows of ``maxlen`` frames: coverage, resampling, mapping back, flip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from demo.sct_demo.lifting import lift_sequence, normalize_screen, resample_indices, window_plan


@pytest.mark.parametrize("num_frames", [1, 5, 242, 243, 244, 486, 1000, 5003])
def test_windows_cover_each_frame_exactly_once(num_frames):
    windows = window_plan(num_frames, 243)
    np.testing.assert_array_equal(np.concatenate(windows), np.arange(num_frames))
    assert all(len(w) == 243 for w in windows[:-1]) and 1 <= len(windows[-1]) <= 243


@pytest.mark.parametrize("n", [1, 2, 100, 242, 243])
def test_resampling_keeps_order_and_every_frame(n):
    idx = resample_indices(n, 243)
    assert idx.shape == (243,) and np.all(np.diff(idx) >= 0)
    np.testing.assert_array_equal(np.unique(idx), np.arange(n))
    with pytest.raises(ValueError):
        resample_indices(244, 243)


def test_screen_normalisation():
    pts = np.array([[0.0, 0.0, 0.7], [640.0, 240.0, 0.5], [320.0, 480.0, 1.0]])
    out = normalize_screen(pts, width=640, height=480)
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


@pytest.mark.parametrize("num_frames", [1, 7, 27, 28, 100, 4000])
@pytest.mark.parametrize("flip", [False, True])
def test_every_frame_gets_its_own_pose_back(num_frames, flip):
    rng = np.random.default_rng(num_frames)
    inputs = rng.normal(size=(num_frames, 17, 3)).astype(np.float32)
    model = EchoLifter(maxlen=27)
    done = []
    out = lift_sequence(model, inputs, maxlen=27, device=torch.device("cpu"), batch_size=4, flip=flip,
                        progress=done.append)
    assert out.shape == (num_frames, 17, 3)
    # the echo model is flip-equivariant, so each frame must come back as its own (root-relative) input
    np.testing.assert_allclose(out, inputs - inputs[:, :1], atol=1e-5)
    num_windows = -(-num_frames // 27)
    assert sum(done) == num_windows
    batches = sum(c[0] for c in model.calls)
    assert batches == num_windows * (2 if flip else 1)


def test_display_rotation_stands_a_camera_frame_pose_upright():
    from demo.sct_demo.render import display_quaternion, to_display_frame

    # camera frame: y points down, so the head (joint 10) has the smallest y and the ankles the largest
    pose = np.zeros((17, 3))
    pose[:, 1] = np.linspace(-0.2, 0.2, 17)
    pose[10, 1], pose[3, 1], pose[6, 1] = -0.8, 0.8, 0.8
    shown = to_display_frame(pose[None], display_quaternion())[0]
    assert shown[:, 2].min() == pytest.approx(0.0)  # the lowest joint on the floor
    assert shown[10, 2] == pytest.approx(1.6, abs=0.05)  # head at the top, the body's height above the feet
    assert shown[3, 2] < 0.05 and shown[6, 2] < 0.05
