"""The demo without downloads: lifting a keypoints file end to end, the default lifter, poses in millimetres,
and the one-line errors (exit code 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

import demo.sct_demo.options as options
from demo.vis import main
from lib.model import build_model
from sct import scale_to_height, skeleton_height
from tests.test_demo_keypoint_files import alphapose_entry, coco_person
from tests.tiny_models import tiny_config

REPO = Path(__file__).resolve().parent.parent
SMALL_SCT = tiny_config(dim_rep=32, maxlen=4)
NUM_FRAMES = 6


def write_lifter(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    (folder / "sct.yaml").write_text(yaml.safe_dump(SMALL_SCT))
    state = {f"module.{k}": v for k, v in build_model(SMALL_SCT).state_dict().items()}
    torch.save({"model_pos": state}, folder / "best_epoch.bin")
    return folder / "best_epoch.bin", folder / "sct.yaml"


def write_video(path: Path, num_frames: int, size=(96, 72)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for t in range(num_frames):
        writer.write(np.full((size[1], size[0], 3), 100 + 10 * t, np.uint8))
    writer.release()


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("offline")
    write_lifter(d / "lifter")
    entries = [alphapose_entry(t, coco_person(30 + t, 5, scale=0.35), 1) for t in range(NUM_FRAMES)]
    entries += [alphapose_entry(t, coco_person(70, 8, scale=0.3), 7) for t in range(0, NUM_FRAMES, 2)]
    (d / "alphapose.json").write_text(json.dumps(entries))
    write_video(d / "clip.mp4", NUM_FRAMES)
    write_video(d / "short.mp4", NUM_FRAMES - 2)
    return d


def cli(assets: Path, *args: str, lifter: bool = True) -> list[str]:
    base = ["--quiet", "--device", "cpu"]
    if lifter:
        lift = assets / "lifter"
        base += ["--checkpoint", str(lift / "best_epoch.bin"), "--config", str(lift / "sct.yaml")]
    return [*base, *args]


@pytest.mark.slow
def test_alphapose_file_with_size_writes_only_npz(assets, capsys):
    out = assets / "out" / "size"
    code = main(cli(assets, "--keypoints", str(assets / "alphapose.json"), "--size", "96", "72", "--num-person", "2",
                    "--out-dir", str(out)))
    printed = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["keypoints_2d.npz", "keypoints_3d.npz"]
    lines = printed.splitlines()
    assert any(line.startswith("lifter: ") and "best_epoch.bin" in line for line in lines)
    assert any(line.startswith("2D keypoints: read from ") for line in lines)
    (timing,) = [line for line in lines if line.startswith("time: ")]
    for stage in ("detection", "2D", "lifting", "rendering", "video frames/s without rendering"):
        assert stage in timing
    k2, k3 = np.load(out / "keypoints_2d.npz"), np.load(out / "keypoints_3d.npz")
    assert k2["h36m"].shape == (2, NUM_FRAMES, 17, 3) and int(k2["width"]) == 96
    np.testing.assert_array_equal(k2["missing"][1], [False, True, False, True, False, True])
    poses, poses_mm = k3["poses"], k3["poses_mm"]
    assert poses.shape == poses_mm.shape == (2, NUM_FRAMES, 17, 3) and np.isfinite(poses_mm).all()
    # millimetres: each person's median skeleton height is --height (default 1700), same shape as the poses
    np.testing.assert_allclose(np.median(skeleton_height(poses_mm), axis=1), [1700, 1700], rtol=1e-4)
    np.testing.assert_allclose(poses_mm, poses * k3["mm_per_unit"][:, None, None, None], rtol=1e-4, atol=1e-3)
    assert float(k3["height_mm"]) == 1700


@pytest.mark.slow
def test_relift_own_npz_with_video_renders(assets):
    first = assets / "out" / "relift_source"  # this test's own first pass: AlphaPose JSON -> keypoints_2d.npz
    assert main(cli(assets, "--keypoints", str(assets / "alphapose.json"), "--size", "96", "72", "--num-person",
                    "2", "--out-dir", str(first))) == 0
    out = assets / "out" / "relift"
    assert main(cli(assets, "--keypoints", str(first / "keypoints_2d.npz"), "--video", str(assets / "clip.mp4"),
                    "--num-person", "2", "--height", "1800", "--out-dir", str(out))) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "keypoints_2d.npz", "keypoints_3d.npz"]
    before, after = np.load(first / "keypoints_2d.npz"), np.load(out / "keypoints_2d.npz")
    np.testing.assert_allclose(after["h36m"], before["h36m"])
    poses_mm = np.load(out / "keypoints_3d.npz")["poses_mm"]
    np.testing.assert_allclose(np.median(skeleton_height(poses_mm), axis=1), [1800, 1800], rtol=1e-4)


def test_scale_to_height_by_hand():
    pose = np.zeros((17, 3))
    # a straight vertical skeleton: legs 0.4 + 0.4, trunk 0.2 + 0.2 + 0.1 + 0.1 -> height 1.4
    for j, y in {1: 0.0, 2: 0.4, 3: 0.8, 4: 0.0, 5: 0.4, 6: 0.8, 7: -0.2, 8: -0.4, 9: -0.5, 10: -0.6}.items():
        pose[j, 1] = y
    pose[[1, 2, 3], 0], pose[[4, 5, 6], 0] = -0.1, 0.1  # legs 0.1 to each side: the hip offset does not count
    assert skeleton_height(pose) == pytest.approx(1.4)
    poses = np.stack([np.stack([pose, pose * 2, pose * 3])])  # median height 2.8
    scaled, factor = scale_to_height(poses, 1400.0)
    assert factor == pytest.approx([500.0])
    assert skeleton_height(scaled[0, 1]) == pytest.approx(1400.0)


@pytest.mark.slow
def test_default_lifter_is_the_shipped_one_when_no_released_checkpoint(tmp_path, monkeypatch, capsys):
    root = tmp_path / "repo"
    ckpt, cfg = write_lifter(root / "checkpoint" / "mocap" / "sct")
    (root / "configs" / "mocap").mkdir(parents=True)
    cfg.rename(root / "configs" / "mocap" / "sct.yaml")
    monkeypatch.setattr(options, "REPO_ROOT", root)
    monkeypatch.chdir(tmp_path)
    entries = [alphapose_entry(t, coco_person(30, 5, scale=0.35), 1) for t in range(3)]
    (tmp_path / "k.json").write_text(json.dumps(entries))
    assert main(["--quiet", "--device", "cpu", "--keypoints", "k.json", "--size", "96", "72",
                 "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"lifter: the shipped real-motion SCT ({ckpt}, config {root / 'configs/mocap/sct.yaml'})" in out
    # without it: one clear line
    ckpt.unlink()
    assert main(["--quiet", "--device", "cpu", "--keypoints", "k.json", "--size", "96", "72",
                 "--out-dir", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no SCT checkpoint: neither checkpoint/best_epoch.bin") and "\n" not in err
    assert "checkpoint/mocap/sct/best_epoch.bin" in err and "--checkpoint" in err
    assert not (tmp_path / "out2").exists()


@pytest.mark.slow
@pytest.mark.skipif(not (REPO / "checkpoint/mocap/sct/best_epoch.bin").is_file(),
                    reason="the shipped real-motion SCT (checkpoint/mocap/sct/best_epoch.bin) is not in this checkout")
def test_end_to_end_with_the_shipped_lifter(assets, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(options, "RELEASED_LIFTER", ("no/such/released.bin", options.RELEASED_LIFTER[1]))
    out = tmp_path / "shipped"
    assert main(["--quiet", "--device", "cpu", "--keypoints", str(assets / "alphapose.json"), "--video",
                 str(assets / "clip.mp4"), "--no-render", "--out-dir", str(out)]) == 0
    assert "lifter: the shipped real-motion SCT" in capsys.readouterr().out
    k3 = np.load(out / "keypoints_3d.npz")
    assert k3["poses"].shape == (1, NUM_FRAMES, 17, 3) and np.isfinite(k3["poses_mm"]).all()
    # a standing person: the head is above the pelvis and the ankles below it in the camera frame (y down)
    pose = k3["poses"][0].mean(axis=0)
    assert pose[10, 1] < pose[0, 1] < min(pose[3, 1], pose[6, 1])


def test_bad_input_is_one_line_exit_2_nothing_written(assets, tmp_path, capsys, monkeypatch):
    out = tmp_path / "never"

    def run(*args: str, lifter: bool = True) -> str:
        code = main(cli(assets, *args, "--out-dir", str(out), lifter=lifter))
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and err.startswith("error: "), err
        assert not out.exists()
        return err

    (tmp_path / "k.csv").write_text("1,2,3")
    assert "unknown keypoints format" in run("--keypoints", str(tmp_path / "k.csv"), "--size", "96", "72")
    (tmp_path / "other.json").write_text(json.dumps([{"image_id": "0.jpg", "keypoints": [1.0] * 26 * 3}]))
    assert "expected 17 joints" in run("--keypoints", str(tmp_path / "other.json"), "--size", "96", "72")
    (tmp_path / "nan.json").write_text(json.dumps([{"image_id": "0.jpg", "keypoints": [float("nan")] * 51}]))
    assert "NaN" in run("--keypoints", str(tmp_path / "nan.json"), "--size", "96", "72")
    err = run("--keypoints", str(assets / "alphapose.json"), "--video", str(assets / "short.mp4"))
    assert f"has {NUM_FRAMES} frames but the video" in err and "has 4" in err
    assert "--size" in run("--keypoints", str(assets / "alphapose.json"))
    assert "give --video, or --keypoints" in run()
    monkeypatch.setattr(options, "mediapipe_available", lambda: False)
    err = run("--video", str(assets / "clip.mp4"), "--pose2d", "mediapipe")
    assert "mediapipe is not installed" in err and "make demo-offline" in err
    assert "pip install mediapipe==0.10.21" in err
    err = run("--video", str(assets / "clip.mp4"), "--detector-weights", str(tmp_path / "none.weights"))
    assert err.startswith("error: no 2D backend") and "make demo-offline" in err and "--keypoints" in err


@pytest.mark.slow
@pytest.mark.skipif(not options.mediapipe_available(), reason="mediapipe is not installed (make demo-offline)")
def test_mediapipe_video_without_a_person(assets, capsys):
    out = assets / "out" / "nobody"
    assert main(cli(assets, "--video", str(assets / "clip.mp4"), "--pose2d", "mediapipe", "--out-dir", str(out))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no person found in") and "\n" not in err
    assert not out.exists()
