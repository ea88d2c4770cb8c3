"""sct.world: up direction and floor from the people in a video, camera-to-world rotation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lib.data.sources.mocap import bvh_to_world
from lib.utils.rotations import axis_rotation
from sct.world import estimate_world_frame, rotation_from_up, to_world

DATA = Path(__file__).parent / "data" / "cmu_mocap"
CAMERA_HEIGHT = 1600.0


def seen_by_tilted_camera(tilt_deg: float, roll_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two CMU clips (world y up, the lower ankle 80 mm above the floor y = 0) seen by a camera 1.6 m high
    and 4 m away, pitched down by ``tilt_deg`` and rolled by ``roll_deg``. Returns the world poses
    (2, T, 17, 3), the camera-frame poses and the true camera-to-world rotation."""
    people = []
    for name, shift in (("06_01.bvh.gz", -700.0), ("131_01.bvh", 700.0)):
        w = bvh_to_world(DATA / name)  # z up
        w = np.stack([w[..., 0], w[..., 2], -w[..., 1]], axis=-1)[:62]
        w[..., 0] += shift - w[:, 0, 0].mean()
        w[..., 2] -= w[:, 0, 2].mean()
        people.append(w)
    world = np.stack(people)
    level = np.diag([1.0, -1.0, -1.0])  # camera x right, y down, z forward = world -z
    r_c2w = level @ axis_rotation(0, np.radians(-tilt_deg)) @ axis_rotation(2, np.radians(roll_deg))
    center = np.array([0.0, CAMERA_HEIGHT, 4000.0])
    camera = (world - center) @ r_c2w  # R^T (X - C) on row vectors
    return world, camera, r_c2w


@pytest.mark.parametrize("tilt, roll", [(0.0, 0.0), (20.0, 0.0), (12.0, -8.0)])
@pytest.mark.parametrize("use_floor, max_deg, max_height_mm", [(False, 2.5, 150.0), (True, 1.0, 50.0)])
def test_recovers_a_known_tilt_and_camera_height(tilt, roll, use_floor, max_deg, max_height_mm):
    """Exact camera-frame poses: the trunks lean (up 2.2 degrees off, camera 113 mm too high), the floor
    contacts correct it (0.7 degrees, 36 mm)."""
    world, camera, r_c2w = seen_by_tilted_camera(tilt, roll)
    frame = estimate_world_frame(camera, use_floor=use_floor)
    true_up = r_c2w.T @ np.array([0.0, 1.0, 0.0])
    error_deg = np.degrees(np.arccos(np.clip(frame.up_camera @ true_up, -1, 1)))
    assert error_deg < max_deg
    assert frame.tilt_deg == pytest.approx(tilt, abs=max_deg)
    assert frame.camera_height_mm == pytest.approx(CAMERA_HEIGHT, abs=max_height_mm)
    back = to_world(camera, frame)
    # the lower ankle is 80 mm above the floor in the median frame, as asked
    assert np.median(back[..., [3, 6], 1].min(-1)) == pytest.approx(80.0)
    assert np.median(np.abs(back[..., 1] - world[..., 1])) < max_height_mm


def test_rotation_is_proper_and_level_camera_is_a_half_turn():
    np.testing.assert_allclose(rotation_from_up([0.0, -1.0, 0.0]), np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    r = rotation_from_up([0.1, -0.9, -0.3])
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_nobody_seen_and_bad_shapes():
    with pytest.raises(ValueError, match="^no person is seen in any frame: cannot estimate the up direction"):
        estimate_world_frame(np.full((2, 5, 17, 3), np.nan))
    with pytest.raises(ValueError, match=r"^poses must have shape \(P, T, 17, 3\)"):
        estimate_world_frame(np.zeros((5, 17, 3)))
