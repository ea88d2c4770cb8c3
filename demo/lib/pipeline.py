"""The video demo, stage by stage: detect + track -> 2D keypoints -> COCO->H36M -> 3D lifting -> outputs.

:func:`run_demo` is what ``demo/vis.py`` calls. Frames are streamed from the video three times (detection,
keypoints, rendering) instead of being held in memory, so videos of many thousands of frames work.
Every problem a user can fix (a missing/corrupt weight file, an unreadable video, no person) is raised as
:class:`DemoError` with a one-line message; the CLI prints it and exits with code 2.

Outputs, in ``<out_dir>`` (default ``demo/output/<video name>/``), written to a temporary folder first and
moved into place at the end:

* ``keypoints_2d.npz``: ``h36m`` ``(P, T, 17, 3)`` and ``coco`` ``(P, T, 17, 3)`` (x, y pixels, score),
  ``boxes`` ``(P, T, 5)`` (x1, y1, x2, y2, score; NaN where not detected), ``missing`` ``(P, T)`` bool
  (frames filled by interpolation), ``width``, ``height``, ``fps``, joint names;
* ``keypoints_3d.npz``: ``poses`` ``(P, T, 17, 3)`` root-relative, in the camera frame (x right, y down,
  z forward; the lifter's units), ``camera_to_world_quaternion`` ``(4,)`` (w, x, y, z) and
  ``camera_to_world_rotation`` ``(3, 3)`` used for the display, ``missing``, joint names;
* ``<video name>.mp4`` (unless ``render=False``): input + 2D skeleton beside the 3D skeleton.

``P`` is the number of people kept (``num_person``), ``T`` the number of frames.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from lib.data.sources.h36m_cameras import demo_camera_rotation
from lib.engine.distributed import resolve_device as resolve_torch_device
from lib.model import build_model
from lib.perf.inference import prepare_for_inference
from lib.utils.atomic_io import atomic_directory
from lib.utils.checkpoint import CheckpointError, load_model_weights
from lib.utils.config import ConfigError, load_config
from lib.utils.rotations import quaternion_to_matrix
from lib.utils.skeleton import H36M_JOINT_NAMES

from .convert import coco_to_h36m, fill_missing
from .darknet import YOLOV3_CFG, DarknetError, PersonDetector, build_darknet, load_darknet_weights
from .hrnet import pose_hrnet_w48
from .keypoints import COCO_KEYPOINT_NAMES, KeypointEstimator, PoseWeightsError, load_hrnet_weights
from .lifting import lift_sequence, normalize_screen
from .render import (
    SkeletonPanel3D,
    VideoWriter,
    draw_skeleton_2d,
    panel_layout,
    to_display_frame,
)
from .tracker import IoUTracker, select_tracks

DEMO_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = DEMO_DIR.parent
CHECKPOINT_DIR = DEMO_DIR / "lib" / "checkpoint"
VIDEO_DIR = DEMO_DIR / "video"
OUTPUT_DIR = DEMO_DIR / "output"
WEIGHTS_README = "demo/lib/checkpoint/README.md"

class DemoError(Exception):
    """A problem the user can fix; ``str(error)`` is one line saying what and how."""


@dataclass
class DemoOptions:
    """Everything :func:`run_demo` needs; defaults are the official settings."""

    video: str
    checkpoint: str = "checkpoint/best_epoch.bin"
    config: str = "configs/MB_train_h36m.yaml"
    detector_cfg: str = str(YOLOV3_CFG)
    detector_weights: str = str(CHECKPOINT_DIR / "yolov3.weights")
    pose_weights: str = str(CHECKPOINT_DIR / "pose_hrnet_w48_384x288.pth")
    out_dir: str | None = None
    device: str = "auto"
    num_person: int = 1
    fps: float | None = None
    render: bool = True
    det_size: int = 416
    det_conf: float = 0.5
    det_nms: float = 0.4
    pose_input_wh: tuple[int, int] = (288, 384)
    batch_size: int = 8
    flip: bool = True
    render_height: int = 720
    progress: bool = True
    overrides: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------------------
def resolve_video(video: str) -> Path:
    """The video file: ``video`` itself, or a bare file name looked up in ``demo/video/``."""
    path = Path(video)
    if path.is_file():
        return path
    if path.name == video and (VIDEO_DIR / video).is_file():
        return VIDEO_DIR / video
    raise DemoError(f"video not found: {video} (give a path, or put the file in demo/video/)")


def resolve_file(path: str) -> str:
    """``path`` as given when it exists, else relative to the repository root when it exists there (so the
    defaults work from any working directory), else unchanged (the loader then reports it missing)."""
    if os.path.exists(path) or os.path.isabs(path):
        return path
    candidate = REPO_ROOT / path
    return str(candidate) if candidate.exists() else path


def check_files_exist(opts: DemoOptions) -> None:
    """Fail fast, before any model is built, on a weight or config file that is not there."""
    wanted = [
        (opts.detector_weights, "YOLOv3 weights",
         f"download yolov3.weights (see {WEIGHTS_README}) or pass --detector-weights"),
        (opts.detector_cfg, "Darknet cfg", "pass --detector-cfg or restore demo/lib/data/yolov3.cfg"),
        (opts.pose_weights, "HRNet weights",
         f"download pose_hrnet_w48_384x288.pth (see {WEIGHTS_README}) or pass --pose-weights"),
        (opts.config, "config", "pass --config with the config the checkpoint was trained with"),
        (opts.checkpoint, "SCT checkpoint", "download the SCT checkpoint (see README.md) or pass --checkpoint"),
    ]
    for path, what, fix in wanted:
        if not os.path.isfile(path):
            raise DemoError(f"{what} not found: {path}; {fix}")


def resolve_device(name: str) -> torch.device:
    """:func:`lib.engine.distributed.resolve_device`, with its errors as :class:`DemoError`."""
    try:
        return resolve_torch_device(name)
    except ValueError as exc:
        raise DemoError(str(exc)) from exc


def video_info(path: Path) -> tuple[int, int, float, int]:
    """``(width, height, fps, frame count estimate)`` of a video; :class:`DemoError` if OpenCV cannot read it."""
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise DemoError(f"cannot read video {path}: not a video OpenCV can decode (convert it to mp4/H.264)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return frame.shape[1], frame.shape[0], fps, max(count, 0)
    finally:
        cap.release()


def iter_frames(path: Path) -> Iterator[np.ndarray]:
    """BGR frames ``(H, W, 3)`` uint8 of a video, in order."""
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def _batched(iterable: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------------
def load_detector(opts: DemoOptions, device: torch.device) -> PersonDetector:
    try:
        model = build_darknet(opts.detector_cfg)
        load_darknet_weights(model, opts.detector_weights)
    except DarknetError as exc:
        raise DemoError(f"{exc}; download yolov3.weights (see {WEIGHTS_README}) or pass --detector-weights") from exc
    return PersonDetector(model, device, opts.det_size, opts.det_conf, opts.det_nms)


def load_pose_estimator(opts: DemoOptions, device: torch.device) -> KeypointEstimator:
    model = pose_hrnet_w48()
    try:
        load_hrnet_weights(model, opts.pose_weights)
    except PoseWeightsError as exc:
        raise DemoError(f"{exc}; download pose_hrnet_w48_384x288.pth (see {WEIGHTS_README}) or pass --pose-weights"
                        ) from exc
    return KeypointEstimator(model, device, opts.pose_input_wh, flip_test=opts.flip)


def load_lifter(opts: DemoOptions, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, int]:
    """The lifting model of ``opts`` with its weights, readied for inference on ``device``
    (:func:`lib.perf.inference.prepare_for_inference`), and its maxlen."""
    try:
        cfg = load_config(opts.config, opts.overrides)
    except ConfigError as exc:
        raise DemoError(f"{exc}; pass --config with the config the checkpoint was trained with") from exc
    try:
        model = build_model(cfg)
        load_model_weights(model, opts.checkpoint, strict=True)
        model = prepare_for_inference(model, device)  # the fastest exact path on this device
    except CheckpointError as exc:
        raise DemoError(f"{exc}; download the SCT checkpoint (see README.md) or pass --checkpoint") from exc
    return model, int(cfg.maxlen)


@dataclass
class DemoModels:
    """The three networks of the demo, loaded and on their device."""

    detector: PersonDetector
    estimator: KeypointEstimator
    lifter: torch.nn.Module
    maxlen: int


def load_models(opts: DemoOptions, device: torch.device) -> DemoModels:
    """Check that every file is there, then load the lifter, the detector and HRNet (cheapest first)."""
    for name in ("checkpoint", "config", "detector_cfg", "detector_weights", "pose_weights"):
        setattr(opts, name, resolve_file(getattr(opts, name)))
    check_files_exist(opts)
    lifter, maxlen = load_lifter(opts, device)
    return DemoModels(load_detector(opts, device), load_pose_estimator(opts, device), lifter, maxlen)


def display_quaternion() -> np.ndarray:
    """Camera-to-world quaternion used to show the 3D poses upright (Human3.6M camera 54138969, S1)."""
    return np.asarray(demo_camera_rotation(), dtype=np.float64)


# --------------------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------------------
def detect_and_track(video: Path, detector: PersonDetector, opts: DemoOptions, total: int):
    """Stage 1: detect people in every frame and link them into tracks. Returns (tracks, frame count)."""
    tracker = IoUTracker()
    num_frames = 0
    with tqdm(total=total or None, desc="1/4 detect people", unit="frame", disable=not opts.progress) as bar:
        for batch in _batched(iter_frames(video), opts.batch_size):
            for dets in detector.detect(batch):
                tracker.update(dets)
            num_frames += len(batch)
            bar.update(len(batch))
    return tracker.tracks, num_frames


def estimate_keypoints(video: Path, tracks, num_frames: int, estimator: KeypointEstimator, opts: DemoOptions):
    """Stage 2: HRNet keypoints for each kept track in each frame where it was detected.

    Returns COCO keypoints ``(P, T, 17, 2)``, scores ``(P, T, 17)`` and ``present`` ``(P, T)``.
    """
    num_person = len(tracks)
    kpts = np.zeros((num_person, num_frames, 17, 2), dtype=np.float64)
    scores = np.zeros((num_person, num_frames, 17), dtype=np.float64)
    present = np.zeros((num_person, num_frames), dtype=bool)
    jobs_img, jobs_box, jobs_key = [], [], []

    def flush() -> None:
        if not jobs_img:
            return
        k, s = estimator.estimate(jobs_img, jobs_box, flip=opts.flip)
        for (p, t), kk, ss in zip(jobs_key, k, s, strict=True):
            kpts[p, t], scores[p, t], present[p, t] = kk, ss, True
        jobs_img.clear()
        jobs_box.clear()
        jobs_key.clear()

    with tqdm(total=num_frames, desc="2/4 2D keypoints", unit="frame", disable=not opts.progress) as bar:
        for t, frame in enumerate(iter_frames(video)):
            if t >= num_frames:
                break
            for p, track in enumerate(tracks):
                if t in track.boxes:
                    jobs_img.append(frame)
                    jobs_box.append(track.boxes[t])
                    jobs_key.append((p, t))
            if len(jobs_img) >= opts.batch_size:
                flush()
            bar.update(1)
        flush()
    return kpts, scores, present


def _write_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def render_video(video: Path, out_path: Path, h36m_2d: np.ndarray, missing: np.ndarray, poses_3d: np.ndarray,
                 quaternion: np.ndarray, fps: float, frame_wh: tuple[int, int], opts: DemoOptions) -> int:
    """Stage 4: compose input + 2D skeletons | 3D skeletons per frame and encode them. Returns frames written."""
    num_person, num_frames = poses_3d.shape[:2]
    display = to_display_frame(poses_3d, quaternion)
    radius = float(max(np.abs(display[..., :2]).max(), display[..., 2].max() / 2, 1e-3)) * 1.1
    height, frame_w, total_w = panel_layout(frame_wh, num_person, opts.render_height)
    panel = SkeletonPanel3D(num_person, height, radius)
    scale = height / frame_wh[1]
    writer = VideoWriter(out_path, fps, (total_w, height))
    try:
        with tqdm(total=num_frames, desc="4/4 render video", unit="frame", disable=not opts.progress) as bar:
            for t, frame in enumerate(iter_frames(video)):
                if t >= num_frames:
                    break
                left = cv2.resize(frame, (frame_w, height), interpolation=cv2.INTER_AREA)
                for p in range(num_person):
                    draw_skeleton_2d(left, h36m_2d[p, t, :, :2] * scale, interpolated=bool(missing[p, t]))
                right = panel.render(display[:, t])
                writer.write(np.concatenate([cv2.cvtColor(left, cv2.COLOR_BGR2RGB), right], axis=1))
                bar.update(1)
    finally:
        writer.close()
        panel.close()
    return writer.frames


def run_demo(opts: DemoOptions, models: DemoModels | None = None) -> dict[str, Path]:
    """Run the whole demo; returns the paths written (``out_dir``, ``keypoints_2d``, ``keypoints_3d``,
    ``video``). ``opts`` gets its file paths resolved in place. ``models`` (from :func:`load_models`) lets
    several videos share the loaded networks; by default they are loaded from ``opts``."""
    if opts.num_person < 1:
        raise DemoError(f"--num-person must be at least 1, got {opts.num_person}")
    if opts.fps is not None and not opts.fps > 0:
        raise DemoError(f"--fps must be positive, got {opts.fps}")
    if opts.batch_size < 1:
        raise DemoError(f"--batch-size must be at least 1, got {opts.batch_size}")
    if opts.det_size % 32 or opts.det_size < 32:
        raise DemoError(f"--det-size must be a positive multiple of 32, got {opts.det_size}")
    video = resolve_video(opts.video)
    device = resolve_device(opts.device)
    width, height, in_fps, frame_count = video_info(video)
    fps = opts.fps or (in_fps if in_fps and math.isfinite(in_fps) and in_fps > 0 else 25.0)

    # load every model first so that a missing file fails before any long work
    if models is None:
        models = load_models(opts, device)
    lifter, maxlen = models.lifter, models.maxlen

    all_tracks, num_frames = detect_and_track(video, models.detector, opts, frame_count)
    if num_frames == 0:
        raise DemoError(f"cannot read video {video}: no frames decoded")
    if not all_tracks:
        raise DemoError(f"no person detected in {video}; try a lower --det-conf or a video where a person is visible")
    tracks = select_tracks(all_tracks, opts.num_person)

    coco, coco_scores, present = estimate_keypoints(video, tracks, num_frames, models.estimator, opts)
    num_person = len(tracks)
    for p in range(num_person):
        coco[p] = fill_missing(coco[p], present[p])
        coco_scores[p] = fill_missing(coco_scores[p], present[p])
    h36m, h36m_scores = coco_to_h36m(coco, coco_scores)
    missing = ~present

    poses = np.zeros((num_person, num_frames, 17, 3), dtype=np.float32)
    with tqdm(total=num_person * math.ceil(num_frames / maxlen), desc="3/4 lift to 3D", unit="window",
              disable=not opts.progress) as bar:
        for p in range(num_person):
            inputs = normalize_screen(np.concatenate([h36m[p], h36m_scores[p][..., None]], axis=-1), width, height)
            poses[p] = lift_sequence(lifter, inputs, maxlen, device, batch_size=opts.batch_size, flip=opts.flip,
                                     progress=bar.update)

    boxes = np.full((num_person, num_frames, 5), np.nan, dtype=np.float32)
    for p, track in enumerate(tracks):
        for t, box in track.boxes.items():
            if t < num_frames:
                boxes[p, t] = box[:5]
    quaternion = display_quaternion()
    rotation = quaternion_to_matrix(quaternion)  # R with R @ x_cam = x_world

    final = Path(opts.out_dir) if opts.out_dir else OUTPUT_DIR / video.stem
    with atomic_directory(final) as tmp:
        _write_npz(tmp / "keypoints_2d.npz",
                   h36m=np.concatenate([h36m, h36m_scores[..., None]], axis=-1).astype(np.float32),
                   coco=np.concatenate([coco, coco_scores[..., None]], axis=-1).astype(np.float32),
                   boxes=boxes, missing=missing, width=np.int64(width), height=np.int64(height),
                   fps=np.float64(fps), h36m_joint_names=np.array(H36M_JOINT_NAMES),
                   coco_joint_names=np.array(COCO_KEYPOINT_NAMES))
        _write_npz(tmp / "keypoints_3d.npz", poses=poses, missing=missing,
                   camera_to_world_quaternion=quaternion.astype(np.float64),
                   camera_to_world_rotation=rotation.astype(np.float64),
                   joint_names=np.array(H36M_JOINT_NAMES))
        written = {"keypoints_2d": final / "keypoints_2d.npz", "keypoints_3d": final / "keypoints_3d.npz"}
        if opts.render:
            render_video(video, tmp / f"{video.stem}.mp4", h36m, missing, poses, quaternion, fps,
                         (width, height), opts)
            written["video"] = final / f"{video.stem}.mp4"
    written["out_dir"] = final
    return written
