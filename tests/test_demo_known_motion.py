"""The demo end to end on motion whose 3D is known: real motion capture (CMU 06_01, a held-out subject of the
shipped lifter) seen by a Human3.6M camera with detector-like 2D noise, given to ``demo/vis.py`` as a
keypoints file, lifted by the shipped SCT and placed in the scene; the errors are bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from demo.vis import main
from lib.data.sources.h36m_cameras import load_h36m_cameras
from lib.data.sources.h36m_render import DetectorNoise, place_in_capture_area, render_camera
from lib.data.sources.mocap import bvh_to_world
from lib.utils.metrics import p_mpjpe
from sct import skeleton_height

DATA = Path(__file__).parent / "data" / "cmu_mocap"
FRAMES = 300


@pytest.mark.slow
def test_demo_recovers_known_motion_and_its_place(tmp_path, capsys):
    world = place_in_capture_area(bvh_to_world(DATA / "06_01.bvh.gz", fps=50.0)[:FRAMES])
    camera = load_h36m_cameras()["S9"][0]
    view = render_camera(world, camera, np.random.default_rng(0), DetectorNoise())
    truth = camera.world_to_camera(world)  # (T, 17, 3) mm, camera frame
    height = float(np.median(skeleton_height(world)))
    np.savez(tmp_path / "keypoints_2d.npz", h36m=np.concatenate([view["joint_2d"], view["confidence"]], -1)[None],
             width=camera.res_w, height=camera.res_h, fps=50.0)
    out = tmp_path / "out"
    assert main(["--quiet", "--device", "cpu", "--keypoints", str(tmp_path / "keypoints_2d.npz"), "--out-dir",
                 str(out), "--focal", str(float(camera.focal_length.mean())), "--height", str(height),
                 "--bvh"]) == 0
    assert "lifter: " in capsys.readouterr().out
    k3 = np.load(out / "keypoints_3d.npz")

    # the pose: root-relative millimetres against the truth
    pose_mm = k3["poses_mm"][0].astype(np.float64)
    rel = truth - truth[:, :1]
    p1 = np.linalg.norm(pose_mm - rel, axis=-1).mean()
    p2 = p_mpjpe(pose_mm, rel).mean()
    assert p1 < 65 and p2 < 48, (p1, p2)  # 56.4 and 41.0 when written (2026-12-07)

    # the place: the root along the camera ray, against the truth
    root = k3["poses_camera_mm"][0, :, 0].astype(np.float64)
    distance = np.linalg.norm(truth[:, 0], axis=-1)
    depth_error = np.abs(root[:, 2] - truth[:, 0, 2]) / distance
    assert np.median(depth_error) < 0.035, np.median(depth_error)  # 2.2 % of the distance when written

    # the world frame: up is the true up, the floor under the feet
    true_up = camera.R_c2w.T @ np.array([0.0, 0.0, 1.0])  # Human3.6M world: z up
    up = k3["camera_to_world_rotation"][1]
    assert np.degrees(np.arccos(np.clip(up @ true_up, -1, 1))) < 5
    # the camera's height above the floor (Human3.6M world: z up, floor at z = 0)
    assert abs(float(k3["camera_height_mm"]) - camera.translation[2]) < 200  # 107 mm off when written
    assert (out / "person_0.bvh").is_file()
