"""Pose-level augmentation of the motion-capture corpus and the unlike-the-corpus held-out sets:
recombination keeps the recipient's body and carries the donor's part, proportions, cameras that see the
whole clip, synthetic motion on a real body, and the converter's switches."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lib.data.datareader_h36m import validate_h36m_dict
from lib.data.sources.mocap import bvh_to_world
from lib.data.sources.mocap_augment import (
    PROPORTION_GROUPS,
    TEST_CAMERA_RANGES,
    AugmentConfig,
    bone_lengths,
    look_at_camera,
    proportion_factors,
    recombine,
    synthetic_on_body,
    wild_cameras,
)
from lib.data.sources.mocap_corpus import place_in_capture_area
from lib.utils.skeleton import H36M_PARENTS
from tests.test_mocap_corpus import DATA, make_corpus
from tools import convert_mocap as mocap_cli


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return place_in_capture_area(bvh_to_world(DATA / "06_01.bvh.gz"))


@pytest.fixture(scope="module")
def salsa() -> np.ndarray:
    return place_in_capture_area(bvh_to_world(DATA / "60_01.bvh.gz", fps=60.0))


def _in_frame(joints, moved, anchor, left, right, up_from, up_to):
    x = joints[:, left] - joints[:, right]
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    z = joints[:, up_to] - joints[:, up_from]
    z -= (z * x).sum(-1, keepdims=True) * x
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    frame = np.stack([x, np.cross(z, x), z], axis=-1)
    return np.einsum("tji,tkj->tki", frame, joints[:, moved] - joints[:, anchor:anchor + 1])


def test_recombine_with_itself_is_the_clip(walk):
    for part in ("upper", "arms"):
        np.testing.assert_allclose(recombine(walk, walk, part, np.random.default_rng(0)), walk, atol=1e-6)


def test_recombined_arms_move_like_the_donors_on_the_recipients_body(walk, salsa):
    out = recombine(walk, salsa, "arms", np.random.default_rng(1))
    assert out.shape == walk.shape
    np.testing.assert_allclose(out[:, :11], walk[:, :11])  # legs, trunk and head are the recipient's
    np.testing.assert_allclose(bone_lengths(out), bone_lengths(walk), rtol=1e-6)  # its body, too
    def spread(j):  # how much a bone's length moves over the clip (resampling to 50 fps moves it a little)
        return np.ptp(np.linalg.norm(j[:, 1:] - j[:, [p for p in H36M_PARENTS[1:]]], axis=-1), axis=0)
    assert np.all(spread(out) <= np.maximum(spread(walk), spread(salsa) * 1.3) + 1e-6)
    donor_dirs = _in_frame(salsa, [11, 12, 13, 14, 15, 16], 8, 11, 14, 8, 9)
    out_dirs = _in_frame(out, [11, 12, 13, 14, 15, 16], 8, 11, 14, 8, 9)
    # some window of the donor matches the result's arm directions (wrist relative to the elbow)
    d_fore = donor_dirs[:, 2] - donor_dirs[:, 1]
    o_fore = out_dirs[:, 2] - out_dirs[:, 1]
    d_fore /= np.linalg.norm(d_fore, axis=-1, keepdims=True)
    o_fore /= np.linalg.norm(o_fore, axis=-1, keepdims=True)
    t = len(walk)
    miss = [np.abs(d_fore[(s + np.arange(t)) % len(salsa)] - o_fore).max() for s in range(len(salsa))]
    # one window matches (up to the shoulders brought to the recipient's lengths), the others do not
    assert min(miss) < 0.01 and np.median(miss) > 0.3


def test_recombine_unknown_part(walk):
    with pytest.raises(ValueError, match="unknown recombination part 'legs'"):
        recombine(walk, walk, "legs", np.random.default_rng(0))


def test_proportion_factors():
    assert np.array_equal(proportion_factors(np.random.default_rng(0), 0.0), np.ones(17))
    f = proportion_factors(np.random.default_rng(3), 0.1)
    assert f[0] == 1.0 and np.all((f >= 0.75) & (f <= 1.25))
    for group in PROPORTION_GROUPS.values():
        assert len(set(f[list(group)])) == 1  # left and right alike
    assert len({f[g[0]] for g in PROPORTION_GROUPS.values()}) == len(PROPORTION_GROUPS)


def test_look_at_camera_axes():
    cam = look_at_camera(np.array([5000.0, 0.0, 1500.0]), np.array([0.0, 0.0, 1000.0]), 1000.0, 1)
    assert cam.id == "55011271" and cam.res_w == 1000
    np.testing.assert_allclose(cam.project(cam.world_to_camera(np.array([0.0, 0.0, 1000.0]))), [500, 500])
    np.testing.assert_allclose(cam.world_to_camera(np.array([5000.0, 0.0, 1500.0])), 0, atol=1e-9)
    above = cam.project(cam.world_to_camera(np.array([0.0, 0.0, 1500.0])))
    right = cam.project(cam.world_to_camera(np.array([0.0, 500.0, 1000.0])))  # looking along -x: +y is right
    assert above[1] < 500 - 50 and abs(above[0] - 500) < 1e-6
    assert right[0] > 500 + 50


def test_wild_cameras_see_the_whole_clip_from_the_given_ranges(walk):
    rng = np.random.default_rng(0)
    mid = (walk[:, 0, :2].min(0) + walk[:, 0, :2].max(0)) / 2
    for _ in range(3):
        cams = wild_cameras(walk, rng, TEST_CAMERA_RANGES)
        assert [c.id for c in cams] == ["54138969", "55011271", "58860488", "60457274"]
        for cam in cams:
            pts = cam.world_to_camera(walk)
            uv = cam.project(pts)
            assert pts[..., 2].min() > 300
            assert uv.min() >= 0 and uv[..., 0].max() <= cam.res_w and uv[..., 1].max() <= cam.res_h
            assert 700 <= cam.focal_length[0] <= 1600
            assert 600 <= cam.translation[2] <= 2200
            assert 2500 <= np.linalg.norm(cam.translation[:2] - mid) <= 8000


def test_synthetic_on_a_real_body(walk):
    lengths = bone_lengths(walk)
    out = synthetic_on_body(lengths, "SittingDown", 200, np.random.default_rng(0))
    assert out.shape == (200, 17, 3)
    np.testing.assert_allclose(bone_lengths(out), lengths, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown action 'Jumping'"):
        synthetic_on_body(lengths, "Jumping", 10, np.random.default_rng(0))


def test_augment_config_check():
    AugmentConfig(recombine=1.0, proportions=0.1, camera_variety=0.5).check()
    with pytest.raises(ValueError, match="--camera-variety must be a share in"):
        AugmentConfig(camera_variety=1.5).check()
    with pytest.raises(ValueError, match="unknown action 'Lying'"):
        AugmentConfig(heldout_synthetic=("Lying",)).check()


def _convert(tmp_path, name, *flags):
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        make_corpus(corpus)
    out = tmp_path / f"{name}.pkl"
    args = ["--root", str(corpus), "--test-subjects", "06", "--train-subjects", "60", "--fps", "daz/*=60",
            "--out", str(out), *flags]
    assert mocap_cli.main(args) == 0
    data = pickle.loads(out.read_bytes())
    validate_h36m_dict(data, str(out))
    return data


def test_converter_switches(tmp_path, capsys):
    plain = _convert(tmp_path, "plain")
    wild = _convert(tmp_path, "wild", "--heldout-cameras", "wild")
    # the held-out cameras change the test split only, and only its views
    np.testing.assert_array_equal(wild["train"]["joint_2d"], plain["train"]["joint_2d"])
    assert not np.allclose(wild["test"]["joint_2d"], plain["test"]["joint_2d"], atol=50)
    assert list(wild["test"]["camera_name"][:1]) == list(plain["test"]["camera_name"][:1])
    aug = _convert(tmp_path, "aug", "--recombine", "1", "--proportions", "0.1", "--camera-variety", "1")
    assert len(aug["train"]["source"]) == len(plain["train"]["source"])
    assert not np.allclose(aug["train"]["joint3d_image"], plain["train"]["joint3d_image"], atol=5)
    np.testing.assert_array_equal(aug["test"]["joint_2d"], plain["test"]["joint_2d"])  # test split untouched
    rows = {r["file"]: r for r in aug["clips"]}
    assert rows["daz/60_01"]["augmentation"] == "upper of daz/60_02" or \
        rows["daz/60_01"]["augmentation"] == "arms of daz/60_02"
    assert rows["daz/60_01"]["cameras"] == "wild"
    unlike = _convert(tmp_path, "unlike", "--heldout-synthetic", "Sitting", "--synthetic-exclude", "Sitting")
    assert set(unlike["test"]["action"]) == {"Sitting"}
    assert set(unlike["test"]["source"]) == {f"synthetic/Sitting/06_01_ca_0{i}" for i in range(1, 5)}
    capsys.readouterr()
    assert mocap_cli.main(["--root", str(tmp_path / "corpus"), "--test-subjects", "06", "--recombine", "2",
                           "--out", str(tmp_path / "bad.pkl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --recombine must be a share in [0, 1], got 2.0"]
    assert not (tmp_path / "bad.pkl").exists()
