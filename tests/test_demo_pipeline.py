"""The video demo end to end on a synthetic video with random weights, and its CLI errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from demo.sct_demo.darknet import PersonDetector, build_darknet, write_darknet_weights
from demo.sct_demo.hrnet import pose_hrnet_w48
from demo.sct_demo.options import DemoError, DemoOptions, resolve_lifter, resolve_video
from demo.sct_demo.pipeline import load_lifter, load_models, run_demo, run_webcam
from demo.vis import main
from lib.model import build_model
from lib.perf.cpu_inference import PrepackedLinear, onednn_linear_available
from lib.utils.checkpoint import load_model_weights
from tests.tiny_models import tiny_config

REPO = Path(__file__).resolve().parent.parent
SMALL_SCT = tiny_config(dim_rep=32, maxlen=4)


def write_walking_figure(path: Path, num_frames: int, size=(96, 72), fps: float = 10.0) -> None:
    """A stick figure walking to the right on a grey background."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for t in range(num_frames):
        img = np.full((h, w, 3), 200, np.uint8)
        cx = 25 + 3 * t
        cv2.circle(img, (cx, 12), 5, (30, 30, 30), -1)
        for a, b in [((cx, 17), (cx, 42)), ((cx, 42), (cx - 6 + t % 3, 66)), ((cx, 42), (cx + 6 - t % 3, 66)),
                     ((cx, 24), (cx - 9, 36)), ((cx, 24), (cx + 9, 36))]:
            cv2.line(img, a, b, (30, 30, 30), 2)
        writer.write(img)
    writer.release()


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Random weights for all three networks (the YOLO heads biased to always see a person) + videos."""
    d = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    yolo = build_darknet()
    for sec, module in zip(yolo.layer_defs, yolo.module_list, strict=True):
        if sec["type"] == "convolutional" and not hasattr(module, "bn"):  # the three detection heads
            bias = torch.full((3, 85), -6.0)
            bias[:, :4] = 0.0
            bias[:, 4] = 6.0  # objectness
            bias[:, 5] = 6.0  # person
            with torch.no_grad():
                module.conv.weight.zero_()
                module.conv.bias.copy_(bias.view(-1))
    write_darknet_weights(yolo, d / "yolov3.weights")
    torch.save(pose_hrnet_w48().state_dict(), d / "hrnet.pth")
    (d / "small.yaml").write_text(yaml.safe_dump(SMALL_SCT))
    torch.save({"model_pos": {f"module.{k}": v for k, v in build_model(SMALL_SCT).state_dict().items()}},
               d / "sct.bin")
    write_walking_figure(d / "walk.mp4", 6)  # longer than maxlen: windows of 4 + 2 frames
    write_walking_figure(d / "still.mp4", 1)
    (d / "broken.mp4").write_bytes(b"this is not a video")
    return d


def options(d: Path, video: str, **kw) -> DemoOptions:
    base = dict(video=str(d / video), checkpoint=str(d / "sct.bin"), config=str(d / "small.yaml"),
                detector_weights=str(d / "yolov3.weights"), pose_weights=str(d / "hrnet.pth"),
                out_dir=str(d / "out" / Path(video).stem), device="cpu", det_size=64, pose_input_wh=(32, 64),
                batch_size=8, progress=False)
    base.update(kw)
    return DemoOptions(**base)


@pytest.fixture(scope="module")
def models(assets):
    """The networks loaded once and shared by the runs below (as several videos in one process would)."""
    return load_models(options(assets, "walk.mp4"), torch.device("cpu"))


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.mark.slow
def test_end_to_end_on_a_synthetic_video(assets, models):
    written = run_demo(options(assets, "walk.mp4", fps=12.0), models)
    out = assets / "out" / "walk"
    assert written["out_dir"] == out
    assert sorted(p.name for p in out.iterdir()) == ["keypoints_2d.npz", "keypoints_3d.npz", "walk.mp4"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left

    k2 = np.load(out / "keypoints_2d.npz")
    assert k2["h36m"].shape == (1, 6, 17, 3) and k2["coco"].shape == (1, 6, 17, 3)
    assert k2["missing"].shape == (1, 6) and not k2["missing"].any()
    assert np.isfinite(k2["boxes"]).all() and int(k2["width"]) == 96 and int(k2["height"]) == 72
    assert list(k2["h36m_joint_names"][:3]) == ["pelvis", "r_hip", "r_knee"]
    # the H36M pelvis is the mid-hip point of the COCO keypoints, frame by frame
    np.testing.assert_allclose(k2["h36m"][0, :, 0, :2], k2["coco"][0, :, 11:13, :2].mean(axis=1), atol=1e-4)

    k3 = np.load(out / "keypoints_3d.npz")
    poses = k3["poses"]
    assert poses.shape == (1, 6, 17, 3) and np.isfinite(poses).all()
    np.testing.assert_allclose(poses[:, :, 0], 0.0, atol=1e-6)  # root-relative
    assert np.abs(poses).max() > 0
    # placed in the scene: the camera frame and the world frame agree through the written rotation
    rotation, camera_height = k3["camera_to_world_rotation"], float(k3["camera_height_mm"])
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    camera_mm, world_mm = k3["poses_camera_mm"], k3["poses_world_mm"]
    assert camera_mm.shape == world_mm.shape == (1, 6, 17, 3) and (camera_mm[..., 2] > 0).all()
    np.testing.assert_allclose(world_mm, camera_mm @ rotation.T + [0.0, camera_height, 0.0], atol=0.05)
    # each placed pose is the root-relative metric pose moved along the camera ray
    np.testing.assert_allclose(camera_mm - camera_mm[:, :, :1], k3["poses_mm"], rtol=0.2, atol=30)
    assert float(k3["focal_px"]) == pytest.approx(np.hypot(96, 72)) and float(k3["fps"]) == 12.0

    video = out / "walk.mp4"
    assert count_frames(video) == 6
    cap = cv2.VideoCapture(str(video))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0, abs=0.01)
    assert int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 72 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 96 + 96
    cap.release()


def test_single_frame_video_and_keypoints_only(assets, models):
    out = assets / "out" / "still"
    out.mkdir(parents=True)
    (out / "stale.txt").write_text("from an earlier run")
    written = run_demo(options(assets, "still.mp4", flip=False), models)
    # the folder is replaced as a whole
    assert sorted(p.name for p in out.iterdir()) == ["keypoints_2d.npz", "keypoints_3d.npz", "still.mp4"]
    assert count_frames(written["video"]) == 1
    poses = np.load(written["keypoints_3d"])["poses"]
    assert poses.shape == (1, 1, 17, 3) and np.isfinite(poses).all()
    written = run_demo(options(assets, "still.mp4", render=False, flip=False), models)
    assert "video" not in written
    assert sorted(p.name for p in out.iterdir()) == ["keypoints_2d.npz", "keypoints_3d.npz"]


def test_video_without_a_person(assets, models):
    # the random heads score every box 0.995: with a higher threshold nobody is found
    strict = dataclasses.replace(models, detector=PersonDetector(models.detector.model, torch.device("cpu"),
                                                                 input_size=64, conf_thresh=0.999))
    with pytest.raises(DemoError, match=r"^no person detected in .*still\.mp4; try a lower --det-conf"):
        run_demo(options(assets, "still.mp4", out_dir=str(assets / "out" / "nobody")), strict)
    assert not (assets / "out" / "nobody").exists()


def test_user_errors_are_one_line_with_exit_code_2(assets, capsys):
    def run_cli(*args: str) -> tuple[int, str]:
        code = main(["--quiet", "--device", "cpu", "--det-size", "64", "--pose2d", "hrnet",
                     "--checkpoint", str(assets / "sct.bin"), "--config", str(assets / "small.yaml"),
                     "--detector-weights", str(assets / "yolov3.weights"), "--pose-weights", str(assets / "hrnet.pth"),
                     "--out-dir", str(assets / "out" / "cli"), *args])
        err = capsys.readouterr().err.strip()
        return code, err

    code, err = run_cli("--video", str(assets / "broken.mp4"))
    assert code == 2 and err.startswith("error: cannot read video") and "broken.mp4" in err and "\n" not in err
    code, err = run_cli("--video", str(assets / "nowhere.mp4"))
    assert code == 2 and "video not found" in err and "demo/video" in err
    code, err = run_cli("--video", str(assets / "walk.mp4"), "--pose-weights", str(assets / "missing.pth"))
    assert code == 2 and "HRNet weights not found" in err and "missing.pth" in err and "README" in err
    code, err = run_cli("--video", str(assets / "walk.mp4"), "--detector-weights", str(assets / "hrnet.pth"))
    assert code == 2 and "does not fit the cfg" in err and "hrnet.pth" in err
    code, err = run_cli("--video", str(assets / "walk.mp4"), "--checkpoint", str(assets / "broken.mp4"))
    assert code == 2 and "broken.mp4" in err and "--checkpoint" in err and "\n" not in err
    code, err = run_cli("--video", str(assets / "walk.mp4"), "--num-person", "0")
    assert code == 2 and "--num-person must be at least 1" in err
    assert not (assets / "out" / "cli").exists()  # nothing half-written


@pytest.mark.slow
def test_cli_help_and_missing_weights_without_a_stack_trace(tmp_path):
    """`python demo/vis.py` from another folder, with the repository on PYTHONPATH (as when installed)."""
    script = str(REPO / "demo" / "vis.py")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    helped = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    assert helped.returncode == 0
    for flag in ("--video", "--checkpoint", "--config", "--device", "--num-person", "--fps", "--no-render"):
        assert flag in helped.stdout
    video = tmp_path / "clip.mp4"
    write_walking_figure(video, 2)
    res = subprocess.run([sys.executable, script, "--video", str(video), "--device", "cpu", "--pose2d", "hrnet",
                          "--detector-weights", str(tmp_path / "yolov3.weights")],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "Traceback" not in res.stderr and "yolov3.weights" in res.stderr and "README" in res.stderr
    # from a plain checkout (not installed, no PYTHONPATH) the script says how to run it instead of a traceback
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-S", script, "--help"], capture_output=True, text=True, cwd=tmp_path,
                         env=bare)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "python -m demo.vis" in res.stderr


def test_bare_video_name_is_looked_up_in_demo_video(tmp_path, monkeypatch):
    import demo.sct_demo.options as options

    (tmp_path / "sample_video.mp4").write_bytes(b"x")
    monkeypatch.setattr(options, "VIDEO_DIR", tmp_path)
    assert resolve_video("sample_video.mp4") == tmp_path / "sample_video.mp4"
    with pytest.raises(DemoError, match="video not found: other.mp4"):
        resolve_video("other.mp4")


def test_two_people_are_kept_and_drawn_in_one_scene(assets, models):
    written = run_demo(options(assets, "still.mp4", num_person=2, flip=False,
                               out_dir=str(assets / "out" / "two")), models)
    k2 = np.load(written["keypoints_2d"])
    assert k2["h36m"].shape == (2, 1, 17, 3) and np.load(written["keypoints_3d"])["poses"].shape == (2, 1, 17, 3)
    assert not np.allclose(k2["boxes"][0], k2["boxes"][1])  # two different tracks
    cap = cv2.VideoCapture(str(written["video"]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 96 + 96  # the input beside one scene of 4:3
    cap.release()


def test_mp4v_fallback_writer(tmp_path):
    from demo.sct_demo.render import VideoWriter

    writer = VideoWriter(tmp_path / "v.mp4", 10.0, (64, 48), prefer_h264=False)
    assert writer.codec == "mp4v"
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, dtype=np.uint8))
    writer.close()
    assert count_frames(tmp_path / "v.mp4") == 5
    writer = VideoWriter(tmp_path / "w.mp4", 10.0, (64, 48))
    with pytest.raises(ValueError, match="does not match the video size"):
        writer.write(np.zeros((10, 10, 3), dtype=np.uint8))
    writer.close()


@pytest.mark.skipif(not onednn_linear_available(), reason="this PyTorch build has no oneDNN linear kernels")
def test_lifter_uses_packed_linear_layers_and_matches_plain_model(assets):
    opts = options(assets, "walk.mp4")
    lifter = load_lifter(resolve_lifter(opts), opts)
    model, maxlen = lifter.model, lifter.window
    assert maxlen == SMALL_SCT["maxlen"]
    assert any(isinstance(m, PrepackedLinear) for m in model.modules())
    plain = build_model(SMALL_SCT).eval()
    load_model_weights(plain, str(assets / "sct.bin"))
    x = torch.randn(1, maxlen, 17, 3)
    with torch.inference_mode():
        torch.testing.assert_close(model.eval()(x), plain(x), atol=1e-5, rtol=1e-5)


def test_lookahead_streams_each_person_and_reports_the_latency(assets, models):
    logged = []
    written = run_demo(options(assets, "walk.mp4", render=False, lookahead=2,
                               out_dir=str(assets / "out" / "stream")), models, log=logged.append)
    poses = np.load(written["keypoints_3d"])["poses"]
    assert poses.shape == (1, 6, 17, 3) and np.isfinite(poses).all()
    k2 = np.load(written["keypoints_2d"])["h36m"]
    offline = models.lifter.lift(k2[0], 96, 72, lookahead=2)  # the stream gives the offline look-ahead poses
    np.testing.assert_allclose(poses[0], offline, atol=1e-5)
    line = next(m for m in logged if m.startswith("streaming latency"))
    assert line.startswith("streaming latency: 2 frames of look-ahead (200 ms at 10 fps) + ")


def test_webcam_path_on_a_video_file(assets, models, capsys):
    """--webcam runs the live loop: OpenCV capture -> HRNet per frame -> LiftingStream; here on a file."""
    logged = []
    out = assets / "out" / "live"
    opts = dataclasses.replace(options(assets, "walk.mp4", lookahead=1, out_dir=str(out)), video=None)
    written = run_webcam(opts, str(assets / "walk.mp4"), log=logged.append, max_frames=5)
    k3 = np.load(written["keypoints_3d"])
    assert k3["poses"].shape == (1, 5, 17, 3) and k3["poses_mm"].shape == (1, 5, 17, 3)
    assert int(k3["lookahead"]) == 1 and not k3["missing"].any()
    # the live poses are the offline look-ahead computation on the keypoints the loop saw
    offline = models.lifter.lift(k3["keypoints_2d"][0], 96, 72, lookahead=1)
    np.testing.assert_allclose(k3["poses"][0], offline, atol=1e-5)
    assert any(m.startswith("latency: 1 frames of look-ahead (100 ms at 10 fps) + ") for m in logged)
    with pytest.raises(DemoError, match=r"^cannot open video .*nowhere\.mp4; check the --webcam index"):
        run_webcam(opts, str(assets / "nowhere.mp4"))
    code = main(["--webcam", "0", "--video", "x.mp4"])
    assert code == 2 and capsys.readouterr().err.strip() == "error: give --webcam N or --video, not both"
