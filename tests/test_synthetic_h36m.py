"""Cameras, synthetic Human3.6M generator, BVH reader and motion-capture converter."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from lib.data.datareader_h36m import DataReaderH36M, validate_h36m_dict
from lib.data.h36m_resolution import H36M_RESOLUTION
from lib.data.sources.bvh import BVHError, parse_bvh, read_bvh
from lib.data.sources.h36m_cameras import load_h36m_cameras, quaternion_to_matrix
from lib.data.sources.h36m_render import (
    CAPTURE_CENTER,
    CAPTURE_RADIUS,
    H36M_ACTIONS,
    DetectorNoise,
    Video,
    build_split,
)
from lib.data.sources.mocap import MocapMapError, bvh_to_world, convert_mocap, load_joint_map
from lib.data.sources.synthetic_h36m import SyntheticConfig, make_synthetic_h36m, synthesize_videos
from lib.utils.safe_pickle import load_pickle
from lib.utils.skeleton import H36M_PARENTS
from tools import convert_mocap as mocap_cli
from tools import make_synthetic_h36m as synth_cli

CMU_CLIP = Path(__file__).parent / "data" / "cmu_mocap" / "131_01.bvh"
LIMBS = [(1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16)]
SMALL = dict(train_subjects=["S1", "S5"], test_subjects=["S9"], actions=["Walking", "SittingDown", "Phoning"],
             frames=(60, 90))


def bone_lengths(joints: np.ndarray, pairs=None) -> np.ndarray:
    pairs = pairs or [(p, j) for j, p in enumerate(H36M_PARENTS) if p >= 0]
    return np.stack([np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in pairs], axis=1)


def left_of_walk(joints: np.ndarray) -> float:
    """cos of the angle between r_hip->l_hip and the walker's left (up x walking direction)."""
    walk = joints[-1, 0] - joints[0, 0]
    walk[2] = 0
    left = np.cross([0.0, 0.0, 1.0], walk)
    hips = (joints[:, 4] - joints[:, 1]).mean(0)
    hips[2] = 0
    return float(left @ hips / np.linalg.norm(left) / np.linalg.norm(hips))


def test_cameras_are_calibrations():
    cams = load_h36m_cameras()
    assert sorted(cams) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    for subject_cams in cams.values():
        assert [c.id for c in subject_cams] == list(H36M_RESOLUTION)
        for cam in subject_cams:
            assert abs(np.linalg.norm(cam.orientation) - 1) < 1e-6  # unit quaternions: no typo
            r = cam.R_c2w
            np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
            assert np.linalg.det(r) == pytest.approx(1.0)
            assert (r @ [0, -1, 0])[2] > 0.9  # image "up" is world up
            assert 1300 < cam.translation[2] < 1700  # mounted at head height
            centre = cam.project(cam.world_to_camera(np.array([0.0, 400.0, 1000.0])))
            assert 0 < centre[0] < cam.res_w and 0 < centre[1] < cam.res_h  # sees the capture area
            p = np.array([[100.0, -200.0, 900.0]])
            np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(p)), p, atol=1e-9)
    np.testing.assert_allclose(quaternion_to_matrix([1, 0, 0, 0]), np.eye(3))
    np.testing.assert_allclose(quaternion_to_matrix([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]) @ [1, 0, 0],
                               [0, 1, 0], atol=1e-12)


@pytest.fixture(scope="module")
def small_data():
    return make_synthetic_h36m(SyntheticConfig(seed=3, **SMALL))


def test_synthetic_layout_and_protocol(small_data):
    validate_h36m_dict(small_data, "synthetic")
    train, test = small_data["train"], small_data["test"]
    assert {s[:4] for s in train["source"]} == {"s_01", "s_05"} and {s[:4] for s in test["source"]} == {"s_09"}
    assert set(test["action"]) == {"Walking", "SittingDown", "Phoning"}
    assert set(train["camera_name"]) == set(H36M_RESOLUTION)
    assert train["joint_2d"].shape[1:] == (17, 2) and train["confidence"].shape[1:] == (17, 1)
    assert "2.5d_factor" not in train and test["joints_2.5d_image"].shape[1:] == (17, 3)
    # the factor relation, and the factor is root depth / focal length (2 m square / its width in pixels)
    np.testing.assert_allclose(test["joints_2.5d_image"], test["joint3d_image"] * test["2.5d_factor"][:, None, None],
                               rtol=1e-5, atol=1e-3)
    assert np.all(np.abs(test["joint3d_image"][:, 0, 2]) < 1e-4)  # depth relative to the root
    rel = test["joints_2.5d_image"] - test["joints_2.5d_image"][:, :1]
    assert 1200 < np.linalg.norm(rel[:, 10] - rel[:, 3], axis=-1).mean() < 2200  # head above ankle, mm
    # everything inside the images
    uv = np.concatenate([train["joint3d_image"][..., :2], test["joint3d_image"][..., :2]])
    assert uv.min() > 0 and uv.max() < 1000
    # detections within the noise of the projection; confidence falls with the error
    noise = DetectorNoise()
    err = np.linalg.norm(train["joint_2d"] - train["joint3d_image"][..., :2], axis=-1)
    assert err.max() <= noise.max_px + 1e-3 and 1.0 < np.median(err) < 3 * noise.std_px
    conf = train["confidence"][..., 0]
    assert 0 < conf.min() and conf.max() <= 1
    assert conf[err > 12].mean() < conf[err < 3].mean() - 0.3


def test_synthetic_world_motion(small_data):
    videos = synthesize_videos(SyntheticConfig(seed=3, **SMALL), ["S1", "S9"])
    lengths = {}
    for v in videos:
        bl = bone_lengths(v.joints_world)
        np.testing.assert_allclose(bl, np.broadcast_to(bl[0], bl.shape), atol=1e-6)  # rigid bones
        lengths.setdefault(v.subject, bl[0])
        np.testing.assert_allclose(bl[0], lengths[v.subject], atol=1e-6)  # one skeleton per subject
        root = v.joints_world[:, 0, :2] - np.asarray(CAPTURE_CENTER)
        assert np.linalg.norm(root, axis=-1).max() <= CAPTURE_RADIUS + 1e-6
        assert v.joints_world[..., 2].min() > 0  # nothing under the floor
        step = np.linalg.norm(np.diff(v.joints_world, axis=0), axis=-1).max()
        assert step < 160  # no jumps at 50 fps: < 8 m/s for every joint (a swinging foot is fastest)
    assert not np.allclose(lengths["S1"], lengths["S9"])
    walk = [v for v in videos if v.action == "Walking"]
    assert all(left_of_walk(v.joints_world) > 0.5 for v in walk)  # subject's left is on the left
    sit = [v for v in videos if v.action == "SittingDown"][0].joints_world
    assert np.ptp(sit[:, 0, 2]) > 250  # the pelvis goes down and up


def test_synthetic_gt_through_reader_matches_evaluation(small_data, tmp_path):
    """Denormalised test labels x 2.5d_factor, root-relative == joints_2.5d_image (the evaluation)."""
    with open(tmp_path / "syn.pkl", "wb") as fh:
        pickle.dump(small_data, fh)
    reader = DataReaderH36M(27, 1, 9, 27, dt_root=str(tmp_path), dt_file="syn.pkl")
    _, _, _, test_labels = reader.get_sliced_data()
    _, split_test = reader.get_split_id()
    ids = np.stack([np.asarray(s) for s in split_test])
    pred = reader.denormalize(test_labels) * reader.test_array("2.5d_factor")[ids][..., None, None]
    gt = reader.test_array("joints_2.5d_image")[ids]
    err = np.linalg.norm((pred - pred[:, :, :1]) - (gt - gt[:, :, :1]), axis=-1)
    assert err.max() < 0.05  # mm


def test_synthetic_seed_determinism(tmp_path):
    args = ["--train-subjects", "S1", "--test-subjects", "S11", "--actions", "Greeting", "--frames", "40", "50"]
    assert synth_cli.main(args + ["--out", str(tmp_path / "a.pkl"), "--plot", str(tmp_path / "a.png")]) == 0
    assert synth_cli.main(args + ["--out", str(tmp_path / "b.pkl")]) == 0
    assert synth_cli.main(args + ["--out", str(tmp_path / "c.pkl"), "--seed", "1"]) == 0
    a, b, c = ((tmp_path / f"{k}.pkl").read_bytes() for k in "abc")
    assert a == b and a != c
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pkl", "a.png", "b.pkl", "c.pkl"]  # no temp files


def test_synthetic_cli_errors(tmp_path, capsys):
    assert synth_cli.main(["--actions", "Dancing", "--out", str(tmp_path / "x.pkl")]) == 2
    assert "Dancing" in capsys.readouterr().err
    assert synth_cli.main(["--train-subjects", "S2", "--out", str(tmp_path / "x.pkl")]) == 2
    assert "S2" in capsys.readouterr().err
    assert synth_cli.main(["--frames", "50", "10", "--out", str(tmp_path / "x.pkl")]) == 2
    assert not (tmp_path / "x.pkl").exists()


def test_noise_free_detections_equal_projection(tmp_path):
    out = tmp_path / "n.pkl"
    assert synth_cli.main(["--train-subjects", "S6", "--test-subjects", "S9", "--actions", "Posing",
                           "--frames", "30", "30", "--noise-px", "0", "--out", str(out)]) == 0
    data = load_pickle(out)
    np.testing.assert_allclose(data["train"]["joint_2d"], data["train"]["joint3d_image"][..., :2], atol=1e-3)


# -- BVH and motion capture ----------------------------------------------------------------------------
def test_bvh_reader_on_cmu_clip():
    motion = read_bvh(CMU_CLIP)
    assert len(motion.motion) == 994 and motion.fps == pytest.approx(120, rel=1e-4)
    assert motion.names[0] == "Hips" and "Head_end" in motion.names
    assert motion.parents[motion.index("LeftKnee")] == motion.index("LeftHip")
    pos = motion.positions()
    first = motion.motion[0]
    np.testing.assert_allclose(pos[0, 0], first[:3])  # root = offset (0) + position channels
    thigh = np.linalg.norm(pos[:, motion.index("LeftKnee")] - pos[:, motion.index("LeftHip")], axis=-1)
    np.testing.assert_allclose(thigh, np.linalg.norm(motion.offsets[motion.index("LeftKnee")]), rtol=1e-9)


def test_bvh_forward_kinematics_by_hand():
    text = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 2 0 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
0 0 0 0 0 0 0 0 0
10 0 0 90 0 0 0 90 0
"""
    motion = parse_bvh(text)
    pos = motion.positions()
    assert motion.names == ["Hips", "Arm", "Arm_end"] and motion.fps == 2
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [1, 0, 0], [3, 0, 0]], atol=1e-12)
    # root turned 90 deg about z: x -> y; then the arm turned 90 deg about its y: x -> -z
    np.testing.assert_allclose(pos[1], [[10, 0, 0], [10, 1, 0], [10, 1, -2]], atol=1e-12)


@pytest.mark.parametrize("text, message", [
    ("ROOT A\n{\n}\n", "HIERARCHY"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 2 Xposition\n}\nMOTION\nFrames: 1\nFrame Time: 1\n0\n",
     "CHANNELS"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n}\nMOTION\nFrames: 2\nFrame Time: 1\n0\n",
     "only 1 frame lines"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n}\nMOTION\nFrames: 1\nFrame Time: 1\n0 1\n",
     "holds 2 values"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\n", "no MOTION"),
])
def test_bvh_errors(text, message):
    with pytest.raises(BVHError, match=message) as err:
        parse_bvh(text, "clip.bvh")
    assert "clip.bvh: line" in str(err.value)


def test_mocap_conversion(tmp_path):
    joint_map = load_joint_map("cmu")
    world = bvh_to_world(CMU_CLIP, joint_map)
    assert len(world) == 414  # 993 intervals at 120 fps = 8.275 s -> 414 frames at 50 fps
    limbs = bone_lengths(world, LIMBS)
    assert np.ptp(limbs, axis=0).max() < 2.0  # rigid limbs up to interpolation, mm
    assert 300 < limbs[:, 0].mean() < 500  # a thigh in millimetres
    height = world[:, 10, 2] - world[:, [3, 6], 2].min(axis=1)
    assert 1250 < np.median(height) < 2000
    assert left_of_walk(world) > 0.5  # left stays left (no mirroring in the axis change)
    mid = (world[:, 0, :2].min(0) + world[:, 0, :2].max(0)) / 2
    np.testing.assert_allclose(mid, CAPTURE_CENTER, atol=1e-6)

    data = convert_mocap([], [str(CMU_CLIP)], joint_map, test_subject="S11", action="Walking", seed=1)
    validate_h36m_dict(data, "mocap")
    assert len(data["train"]["source"]) == 0 and len(data["test"]["source"]) == 4 * 414
    assert data["test"]["source"][0] == "s_11_act_14_subact_01_ca_01"
    # same projection code as the synthetic generator
    same = build_split([Video(world, "S11", "Walking", 1)], load_h36m_cameras(),
                       lambda vi, ci: np.random.default_rng([1, 1, vi, ci]), DetectorNoise(), test=True)
    for key in same:
        np.testing.assert_array_equal(np.asarray(same[key]), np.asarray(data["test"][key]))


def test_mocap_cli_and_errors(tmp_path, capsys):
    out = tmp_path / "m.pkl"
    assert mocap_cli.main(["--train", str(CMU_CLIP), "--out", str(out)]) == 0
    assert mocap_cli.main(["--out", str(out)]) == 2
    assert mocap_cli.main(["--test", str(tmp_path / "none.bvh"), "--out", str(out)]) == 2
    assert mocap_cli.main(["--test", str(CMU_CLIP), "--map", "vicon", "--out", str(tmp_path / "v.pkl")]) == 2
    assert "vicon" in capsys.readouterr().err.splitlines()[-1]
    bad_map = tmp_path / "bad.json"
    bad_map.write_text('{"units_to_mm": 1, "up_axis": "y", "joints": {"pelvis": "Hips"}}')
    with pytest.raises(MocapMapError, match="bad.json.*r_hip"):
        load_joint_map(str(bad_map))
    wrong = tmp_path / "wrong.json"
    spec = load_joint_map("cmu")
    spec["joints"]["head"] = "Skull"
    wrong.write_text(__import__("json").dumps(spec))
    assert mocap_cli.main(["--test", str(CMU_CLIP), "--map", str(wrong), "--out", str(tmp_path / "w.pkl")]) == 2
    assert "no joint 'Skull'" in capsys.readouterr().err
    assert not (tmp_path / "w.pkl").exists()
    data = load_pickle(out)
    validate_h36m_dict(data, str(out))
    assert set(data["train"]["camera_name"]) == set(H36M_RESOLUTION) and H36M_ACTIONS["Walking"] == 14
