"""The video demo, stage by stage: 2D keypoints -> 3D lifting -> outputs.

2D keypoints come from one of three sources: YOLOv3 people + IoU tracks + HRNet keypoints + COCO->H36M
(``pose2d="hrnet"``), HOG people + BlazePose per person (``pose2d="mediapipe"``, :mod:`blazepose`), or a
keypoints file (``keypoints=...``, :mod:`keypoint_files`). :func:`run_demo` is what ``demo/vis.py`` calls.
Frames are streamed from the video (once per stage) instead of being held in memory, so videos of many
thousands of frames work. Every problem a user can fix (a missing/corrupt weight file, an unreadable video
or keypoints file, no person) is raised as :class:`DemoError` with a one-line message; the CLI prints it
and exits with code 2.

Outputs, in ``<out_dir>`` (default ``demo/output/<video name>/``), written to a temporary folder first and
moved into place at the end:

* ``keypoints_2d.npz``: ``h36m`` ``(P, T, 17, 3)`` and (unless re-lifting an npz without it) ``coco``
  ``(P, T, 17, 3)`` (x, y pixels, score), ``boxes`` ``(P, T, 5)`` (x1, y1, x2, y2, score; NaN where not
  seen), ``missing`` ``(P, T)`` bool (frames filled by interpolation), ``width``, ``height``, ``fps``,
  joint names;
* ``keypoints_3d.npz``: ``poses`` ``(P, T, 17, 3)`` root-relative, in the camera frame (x right, y down,
  z forward; the lifter's units), ``poses_mm`` the same in millimetres (each person's median skeleton
  height = ``height_mm``, :func:`sct.scale_to_height`), ``mm_per_unit`` ``(P,)``, ``height_mm``,
  ``camera_to_world_quaternion`` ``(4,)`` (w, x, y, z) and ``camera_to_world_rotation`` ``(3, 3)`` used
  for the display, ``missing``, joint names;
* ``<video name>.mp4`` (with a video, unless ``render=False``): input + 2D skeleton beside the 3D skeleton.

``P`` is the number of people kept (``num_person``), ``T`` the number of frames.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from lib.engine.distributed import resolve_device as resolve_torch_device
from lib.utils.atomic_io import atomic_directory
from lib.utils.rotations import quaternion_to_matrix
from lib.utils.skeleton import H36M_JOINT_NAMES
from sct import Lifter, scale_to_height
from sct.keypoint_formats import BLAZEPOSE_JOINTS, blazepose_to_coco, blazepose_to_h36m, coco_to_h36m

from .blazepose import INSTALL_HINT, BlazePoseTracker, mediapipe_available
from .convert import fill_missing
from .darknet import YOLOV3_CFG, DarknetError, PersonDetector, build_darknet, load_darknet_weights
from .hrnet import pose_hrnet_w48
from .keypoint_files import KeypointFileError, PersonKeypoints, load_keypoints
from .keypoints import COCO_KEYPOINT_NAMES, KeypointEstimator, PoseWeightsError, load_hrnet_weights
from .live import BlazePoseFrameKeypoints, HRNetFrameKeypoints, LiveError, latency_line, run_live, write_live_npz
from .render import (
    SkeletonPanel3D,
    VideoWriter,
    display_quaternion,
    draw_skeleton_2d,
    panel_layout,
    to_display_frame,
)
from .tracker import IoUTracker, Track, select_tracks

DEMO_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = DEMO_DIR.parent
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoint"
VIDEO_DIR = DEMO_DIR / "video"
OUTPUT_DIR = DEMO_DIR / "output"
WEIGHTS_README = "demo/sct_demo/checkpoint/README.md"
RELEASED_LIFTER = ("checkpoint/best_epoch.bin", "configs/MB_train_h36m.yaml")
SHIPPED_LIFTER = ("checkpoint/mocap/sct/best_epoch.bin", "configs/mocap/sct.yaml")
POSE2D_CHOICES = ("auto", "hrnet", "mediapipe")


class DemoError(Exception):
    """A problem the user can fix; ``str(error)`` is one line saying what and how."""


@dataclass
class DemoOptions:
    """Everything :func:`run_demo` needs; defaults are the official settings.

    ``checkpoint``/``config`` ``None``: the released ``checkpoint/best_epoch.bin`` with
    ``configs/MB_train_h36m.yaml`` when present, else the shipped real-motion SCT (:func:`resolve_lifter`).
    """

    video: str | None = None
    keypoints: str | None = None
    size: tuple[int, int] | None = None
    pose2d: str = "auto"
    checkpoint: str | None = None
    config: str | None = None
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
    det_every: int = 5
    pose_input_wh: tuple[int, int] = (288, 384)
    batch_size: int = 8
    flip: bool = True
    render_height: int = 720
    height_mm: float = 1700.0
    lookahead: int | None = None
    progress: bool = True


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


def check_files_exist(files: list[tuple[str, str, str]]) -> None:
    """Fail fast, before any model is built, on a file that is not there: ``(path, what, how to fix)``."""
    for path, what, fix in files:
        if not os.path.isfile(path):
            raise DemoError(f"{what} not found: {path}; {fix}")


def hrnet_files(opts: DemoOptions) -> list[tuple[str, str, str]]:
    return [
        (opts.detector_weights, "YOLOv3 weights",
         f"download yolov3.weights (see {WEIGHTS_README}) or pass --detector-weights"),
        (opts.detector_cfg, "Darknet cfg", "pass --detector-cfg or restore demo/sct_demo/data/yolov3.cfg"),
        (opts.pose_weights, "HRNet weights",
         f"download pose_hrnet_w48_384x288.pth (see {WEIGHTS_README}) or pass --pose-weights"),
    ]


def resolve_lifter(opts: DemoOptions) -> str:
    """Fill ``opts.checkpoint``/``opts.config`` (resolved paths) and return one line saying which lifter.

    Without ``--checkpoint``: the released ``checkpoint/best_epoch.bin`` (config ``configs/MB_train_h36m.yaml``)
    when present, else the shipped real-motion SCT ``checkpoint/mocap/sct/best_epoch.bin`` with
    ``configs/mocap/sct.yaml``. ``--config`` alone keeps the default checkpoint choice.
    """
    if opts.checkpoint is None:
        released, shipped = resolve_file(RELEASED_LIFTER[0]), resolve_file(SHIPPED_LIFTER[0])
        if os.path.isfile(released):
            opts.checkpoint, default_config, which = released, RELEASED_LIFTER[1], "the released SCT"
        elif os.path.isfile(shipped):
            opts.checkpoint, default_config, which = shipped, SHIPPED_LIFTER[1], "the shipped real-motion SCT"
        else:
            raise DemoError(f"no SCT checkpoint: neither {RELEASED_LIFTER[0]} (the released model, see README.md) "
                            f"nor the shipped {SHIPPED_LIFTER[0]} is present; pass --checkpoint and --config")
        opts.config = resolve_file(opts.config or default_config)
        line = f"lifter: {which} ({opts.checkpoint}, config {opts.config})"
    else:
        opts.checkpoint = resolve_file(opts.checkpoint)
        opts.config = resolve_file(opts.config or RELEASED_LIFTER[1])
        line = f"lifter: {opts.checkpoint} (config {opts.config})"
    check_files_exist([(opts.config, "config", "pass --config with the config the checkpoint was trained with"),
                       (opts.checkpoint, "SCT checkpoint", "download the SCT checkpoint (see README.md) or pass "
                        "--checkpoint")])
    return line


def choose_pose2d(opts: DemoOptions) -> tuple[str, str]:
    """The 2D backend (``hrnet`` or ``mediapipe``) and one line saying which and why."""
    for name in ("detector_cfg", "detector_weights", "pose_weights"):
        setattr(opts, name, resolve_file(getattr(opts, name)))
    if opts.pose2d == "hrnet":
        check_files_exist(hrnet_files(opts))
        return "hrnet", "2D keypoints: YOLOv3 + HRNet-W48"
    if opts.pose2d == "mediapipe":
        if not mediapipe_available():
            raise DemoError(f"--pose2d mediapipe: mediapipe is not installed; {INSTALL_HINT}")
        return "mediapipe", "2D keypoints: MediaPipe BlazePose behind OpenCV's HOG people detector (offline)"
    if all(os.path.isfile(path) for path, _, _ in hrnet_files(opts)):
        return "hrnet", "2D keypoints: YOLOv3 + HRNet-W48 (--pose2d auto: their weights are present)"
    if mediapipe_available():
        return "mediapipe", ("2D keypoints: MediaPipe BlazePose behind OpenCV's HOG people detector (--pose2d auto: "
                             "no YOLOv3/HRNet weights, mediapipe installed)")
    raise DemoError(f"no 2D backend: the YOLOv3/HRNet weights are missing (see {WEIGHTS_README}) and mediapipe is "
                    "not installed (make demo-offline); or give your own 2D keypoints with --keypoints FILE")


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


def load_lifter(opts: DemoOptions, device: torch.device | str = "cpu") -> Lifter:
    """The lifter of ``opts.checkpoint`` / ``opts.config`` (already resolved) as an :class:`sct.Lifter` on
    ``device``; its problems (missing or corrupt file, a config that does not fit) as :class:`DemoError`."""
    try:
        return Lifter.from_checkpoint(opts.checkpoint or RELEASED_LIFTER[0], opts.config, device=device,
                                      batch_size=opts.batch_size)
    except ValueError as exc:
        raise DemoError(f"{exc}; pass --checkpoint and the --config it was trained with (see README.md)") from exc


@dataclass
class DemoModels:
    """The networks of the demo, loaded and on their device; the YOLOv3/HRNet pair only for that backend."""

    detector: PersonDetector | None
    estimator: KeypointEstimator | None
    lifter: Lifter


def load_models(opts: DemoOptions, device: torch.device, pose2d: str = "hrnet") -> DemoModels:
    """Check that every file is there, then load the lifter and, for ``pose2d == "hrnet"``, the detector and
    HRNet (cheapest first). ``opts`` gets its file paths resolved in place."""
    resolve_lifter(opts)
    if pose2d == "hrnet":
        for name in ("detector_cfg", "detector_weights", "pose_weights"):
            setattr(opts, name, resolve_file(getattr(opts, name)))
        check_files_exist(hrnet_files(opts))
    lifter = load_lifter(opts, device)
    if pose2d != "hrnet":
        return DemoModels(None, None, lifter)
    return DemoModels(load_detector(opts, device), load_pose_estimator(opts, device), lifter)


# --------------------------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------------------------
def detect_and_track(video: Path, detector: PersonDetector, opts: DemoOptions, total: int):
    """Stage 1: detect people in every frame and link them into tracks. Returns (tracks, frame count)."""
    tracker = IoUTracker()
    num_frames = 0
    with tqdm(total=total or None, desc="detect people", unit="frame", disable=not opts.progress) as bar:
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

    with tqdm(total=num_frames, desc="2D keypoints", unit="frame", disable=not opts.progress) as bar:
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
        with tqdm(total=num_frames, desc="render video", unit="frame", disable=not opts.progress) as bar:
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


def keypoints_hrnet(video: Path, models: DemoModels, opts: DemoOptions, frame_count: int,
                    times: dict[str, float]) -> PersonKeypoints:
    """YOLOv3 people + IoU tracks, then HRNet keypoints of the kept tracks, converted to Human3.6M."""
    start = time.perf_counter()
    all_tracks, num_frames = detect_and_track(video, models.detector, opts, frame_count)
    times["detection"] = time.perf_counter() - start
    if num_frames == 0:
        raise DemoError(f"cannot read video {video}: no frames decoded")
    if not all_tracks:
        raise DemoError(f"no person detected in {video}; try a lower --det-conf or a video where a person is visible")
    tracks = select_tracks(all_tracks, opts.num_person)
    start = time.perf_counter()
    coco, coco_scores, present = estimate_keypoints(video, tracks, num_frames, models.estimator, opts)
    for p in range(len(tracks)):
        coco[p] = fill_missing(coco[p], present[p])
        coco_scores[p] = fill_missing(coco_scores[p], present[p])
    h36m, h36m_scores = coco_to_h36m(coco, coco_scores)
    times["2D"] = time.perf_counter() - start
    return PersonKeypoints(h36m=np.concatenate([h36m, h36m_scores[..., None]], axis=-1),
                           coco=np.concatenate([coco, coco_scores[..., None]], axis=-1).astype(np.float32),
                           present=present, boxes=track_boxes(tracks, num_frames))


def track_boxes(tracks: list[Track], num_frames: int) -> np.ndarray:
    """``(P, T, 5)`` boxes of the tracks, NaN where a person was not seen."""
    boxes = np.full((len(tracks), num_frames, 5), np.nan, dtype=np.float32)
    for p, track in enumerate(tracks):
        for t, box in track.boxes.items():
            if t < num_frames:
                boxes[p, t] = box[:5]
    return boxes


def keypoints_mediapipe(video: Path, opts: DemoOptions, frame_count: int, times: dict[str, float]
                        ) -> PersonKeypoints:
    """HOG people every ``det_every`` frames, BlazePose per tracked person, 33 landmarks -> Human3.6M."""
    tracker = BlazePoseTracker(det_every=opts.det_every, max_people=opts.num_person)
    start = time.perf_counter()
    num_frames = 0
    try:
        with tqdm(total=frame_count or None, desc="1/3 people and 2D keypoints", unit="frame",
                  disable=not opts.progress) as bar:
            for frame in iter_frames(video):
                tracker.update(frame)
                num_frames += 1
                bar.update(1)
    finally:
        tracker.close()
    times["detection"] = tracker.detection_seconds
    times["2D"] = time.perf_counter() - start - tracker.detection_seconds
    if num_frames == 0:
        raise DemoError(f"cannot read video {video}: no frames decoded")
    by_track = {pt.track.track_id: pt for pt in tracker.all_tracks}
    if not by_track:
        raise DemoError(f"no person found in {video}; the HOG people detector finds people from about 100 px tall, "
                        "standing upright; try --pose2d hrnet or --keypoints")
    tracks = select_tracks([pt.track for pt in by_track.values()], opts.num_person)
    landmarks = np.zeros((len(tracks), num_frames, BLAZEPOSE_JOINTS, 3), dtype=np.float64)
    present = np.zeros((len(tracks), num_frames), dtype=bool)
    for p, track in enumerate(tracks):
        for t, lm in by_track[track.track_id].landmarks.items():
            landmarks[p, t], present[p, t] = lm, True
        landmarks[p] = fill_missing(landmarks[p], present[p])
    h36m, conf = blazepose_to_h36m(landmarks)
    return PersonKeypoints(h36m=np.concatenate([h36m, conf[..., None]], axis=-1),
                           coco=blazepose_to_coco(landmarks), present=present, boxes=track_boxes(tracks, num_frames))


def count_video_frames(path: Path) -> int:
    """The exact number of frames of a video (grabbed, not decoded)."""
    cap = cv2.VideoCapture(str(path))
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def keypoints_from_file(opts: DemoOptions, video: Path | None) -> PersonKeypoints:
    """``--keypoints``: read, check against the video's frame count, keep the ``num_person`` largest people."""
    try:
        kp = load_keypoints(resolve_file(opts.keypoints))
    except KeypointFileError as exc:
        raise DemoError(str(exc)) from exc
    if video is not None:
        video_frames = count_video_frames(video)
        if kp.num_frames > video_frames or (kp.frames_known and kp.num_frames != video_frames):
            raise DemoError(f"{opts.keypoints} has {kp.num_frames} frames but the video {video} has {video_frames}; "
                            "give the keypoints of this video")
        kp = pad_frames(kp, video_frames)
    area = np.nan_to_num((kp.boxes[..., 2] - kp.boxes[..., 0]) * (kp.boxes[..., 3] - kp.boxes[..., 1])).sum(axis=1)
    keep = np.argsort(-area, kind="stable")[:opts.num_person]
    keep = keep[np.argsort([np.argmax(kp.present[p]) for p in keep], kind="stable")]
    return replace(kp, h36m=kp.h36m[keep], coco=None if kp.coco is None else kp.coco[keep], present=kp.present[keep],
                   boxes=kp.boxes[keep])


def pad_frames(kp: PersonKeypoints, num_frames: int) -> PersonKeypoints:
    """Extend to ``num_frames`` frames: the added frames have nobody seen and copy each person's last frame."""
    extra = num_frames - kp.num_frames
    if extra <= 0:
        return kp

    def pad(a: np.ndarray, value=None) -> np.ndarray:
        tail = np.repeat(a[:, -1:], extra, axis=1) if value is None else np.full_like(a[:, -1:], value).repeat(extra, 1)
        return np.concatenate([a, tail], axis=1)

    return replace(kp, h36m=pad(kp.h36m), coco=None if kp.coco is None else pad(kp.coco),
                   present=pad(kp.present, False), boxes=pad(kp.boxes, np.nan))


def check_options(opts: DemoOptions) -> None:
    if opts.num_person < 1:
        raise DemoError(f"--num-person must be at least 1, got {opts.num_person}")
    if opts.fps is not None and not opts.fps > 0:
        raise DemoError(f"--fps must be positive, got {opts.fps}")
    if opts.batch_size < 1:
        raise DemoError(f"--batch-size must be at least 1, got {opts.batch_size}")
    if opts.det_size % 32 or opts.det_size < 32:
        raise DemoError(f"--det-size must be a positive multiple of 32, got {opts.det_size}")
    if opts.det_every < 1:
        raise DemoError(f"--det-every must be at least 1, got {opts.det_every}")
    if opts.pose2d not in POSE2D_CHOICES:
        raise DemoError(f"--pose2d must be one of {', '.join(POSE2D_CHOICES)}, got {opts.pose2d}")
    if not opts.height_mm > 0:
        raise DemoError(f"--height must be positive (millimetres), got {opts.height_mm}")
    if opts.size is not None and not (opts.size[0] > 0 and opts.size[1] > 0):
        raise DemoError(f"--size W H must be positive, got {opts.size[0]} {opts.size[1]}")
    if opts.lookahead is not None and opts.lookahead < 0:
        raise DemoError(f"--lookahead must be a number of frames >= 0, got {opts.lookahead}")


def default_out_dir(video: Path | None, keypoints: str | None) -> Path:
    """``demo/output/<video name>``, or for keypoints without video ``demo/output/<file name>`` (a demo
    ``keypoints_2d.npz`` gives ``<its folder>_relifted``, so the folder it is read from is not replaced)."""
    if video is not None:
        return OUTPUT_DIR / video.stem
    path = Path(keypoints)
    name = f"{path.resolve().parent.name}_relifted" if path.name == "keypoints_2d.npz" else path.stem or path.name
    return OUTPUT_DIR / name


def run_demo(opts: DemoOptions, models: DemoModels | None = None, log=print) -> dict[str, Path]:
    """Run the whole demo; returns the paths written (``out_dir``, ``keypoints_2d``, ``keypoints_3d``,
    ``video``). ``opts`` gets its file paths resolved in place. ``models`` (from :func:`load_models`) lets
    several videos share the loaded networks; by default they are loaded from ``opts``. ``log`` gets the
    one-line messages (which 2D source and lifter, the timing summary)."""
    check_options(opts)
    if opts.video is None and opts.keypoints is None:
        raise DemoError("give --video, or --keypoints FILE (with --video or --size W H), or --webcam N")
    video = resolve_video(opts.video) if opts.video else None
    device = resolve_device(opts.device)
    if video is not None:
        width, height, in_fps, frame_count = video_info(video)
    elif opts.size is not None:
        (width, height), in_fps, frame_count = opts.size, float("nan"), 0

    # choose the 2D source and load every model first, so that a missing file fails before any long work
    if opts.keypoints is not None:
        backend, source_line = "file", f"2D keypoints: read from {opts.keypoints}"
    elif models is not None:
        backend = "hrnet" if models.detector is not None else choose_pose2d(opts)[0]
        source_line = f"2D keypoints: {backend}"
    else:
        backend, source_line = choose_pose2d(opts)
    if models is None:
        lifter_line = resolve_lifter(opts)
        models = load_models(opts, device, backend)
        log(lifter_line)
    log(source_line)

    times = {"detection": 0.0, "2D": 0.0, "lifting": 0.0, "rendering": 0.0}
    cpu_start = time.process_time()
    if backend == "file":
        start = time.perf_counter()
        kp = keypoints_from_file(opts, video)
        times["2D"] = time.perf_counter() - start
        if video is None:
            if opts.size is None and kp.size is None:
                raise DemoError(f"{opts.keypoints} does not say the frame size; give --video or --size W H")
            width, height = opts.size or kp.size
            in_fps = kp.fps if kp.fps is not None else float("nan")
    elif backend == "hrnet":
        kp = keypoints_hrnet(video, models, opts, frame_count, times)
    else:
        kp = keypoints_mediapipe(video, opts, frame_count, times)
    fps = opts.fps or (in_fps if in_fps and math.isfinite(in_fps) and in_fps > 0 else 25.0)
    num_person, num_frames = kp.present.shape

    start = time.perf_counter()
    poses = lift_people(models.lifter, kp.h36m, width, height, opts, fps, log)
    poses_mm, mm_per_unit = scale_to_height(poses, opts.height_mm)
    times["lifting"] = time.perf_counter() - start
    times["cpu"] = time.process_time() - cpu_start
    missing = ~kp.present
    quaternion = display_quaternion()
    rotation = quaternion_to_matrix(quaternion)  # R with R @ x_cam = x_world

    final = Path(opts.out_dir) if opts.out_dir else default_out_dir(video, opts.keypoints)
    with atomic_directory(final) as tmp:
        arrays_2d = dict(h36m=kp.h36m.astype(np.float32), boxes=kp.boxes.astype(np.float32), missing=missing,
                         width=np.int64(width), height=np.int64(height), fps=np.float64(fps),
                         h36m_joint_names=np.array(H36M_JOINT_NAMES), coco_joint_names=np.array(COCO_KEYPOINT_NAMES))
        if kp.coco is not None:
            arrays_2d["coco"] = kp.coco.astype(np.float32)
        _write_npz(tmp / "keypoints_2d.npz", **arrays_2d)
        _write_npz(tmp / "keypoints_3d.npz", poses=poses, poses_mm=poses_mm.astype(np.float32),
                   mm_per_unit=mm_per_unit.astype(np.float64), height_mm=np.float64(opts.height_mm), missing=missing,
                   camera_to_world_quaternion=quaternion.astype(np.float64),
                   camera_to_world_rotation=rotation.astype(np.float64), joint_names=np.array(H36M_JOINT_NAMES))
        written = {"keypoints_2d": final / "keypoints_2d.npz", "keypoints_3d": final / "keypoints_3d.npz"}
        if opts.render and video is not None:
            start = time.perf_counter()
            render_video(video, tmp / f"{video.stem}.mp4", kp.h36m, missing, poses, quaternion, fps,
                         (width, height), opts)
            times["rendering"] = time.perf_counter() - start
            written["video"] = final / f"{video.stem}.mp4"
    written["out_dir"] = final
    log(timing_summary(times, num_frames))
    return written


def run_webcam(opts: DemoOptions, source: int | str, log=print, max_frames: int | None = None) -> dict[str, Path]:
    """Lift one person live from camera ``source`` (or a video file, which is how it is tested): the 2D
    backend frame by frame, :class:`sct.LiftingStream` with ``opts.lookahead`` (default 0: causal). Writes
    ``keypoints_3d.npz`` (:func:`live.write_live_npz`) and logs the latency; returns the paths written."""
    check_options(opts)
    device = resolve_device(opts.device)
    backend, source_line = choose_pose2d(opts)
    lifter_line = resolve_lifter(opts)
    models = load_models(opts, device, backend)
    log(lifter_line)
    log(source_line)
    if backend == "hrnet":
        keypoints_of = HRNetFrameKeypoints(models.detector, models.estimator, opts.flip)
    else:
        keypoints_of = BlazePoseFrameKeypoints(opts.det_every)
    lookahead = opts.lookahead or 0
    try:
        result = run_live(source, models.lifter, keypoints_of, lookahead=lookahead, flip=opts.flip,
                          height_mm=opts.height_mm, max_frames=max_frames, fps=opts.fps)
    except (LiveError, ValueError) as exc:
        raise DemoError(str(exc)) from exc
    out_dir = Path(opts.out_dir) if opts.out_dir else OUTPUT_DIR / (f"webcam{source}" if isinstance(source, int)
                                                                    else Path(str(source)).stem)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_live_npz(out_dir / "keypoints_3d.npz", result, opts.height_mm, lookahead)
    log(latency_line(result, lookahead, str(models.lifter.device)))
    return {"keypoints_3d": out_dir / "keypoints_3d.npz", "out_dir": out_dir}


def lift_people(lifter: Lifter, h36m: np.ndarray, width: float, height: float, opts: DemoOptions, fps: float,
                log=print) -> np.ndarray:
    """Stage 3: every person's 2D keypoints ``(P, T, 17, 3)`` -> root-relative 3D ``(P, T, 17, 3)``.

    By default offline, overlapping windows blended (:meth:`sct.Lifter.lift`). With ``opts.lookahead`` = k
    each person goes frame by frame through :meth:`sct.Lifter.stream`, as a live camera would, and one line
    gives the latency: k frames of look-ahead plus the compute time per pushed frame."""
    num_person, num_frames = h36m.shape[:2]
    if opts.lookahead is None:
        poses = np.zeros((num_person, num_frames, 17, 3), dtype=np.float32)
        for p in tqdm(range(num_person), desc="lift to 3D", unit="person", disable=not opts.progress):
            poses[p] = lifter.lift(h36m[p], width, height, flip=opts.flip)
        return poses
    out, push_ms = [], []
    with tqdm(total=num_person * num_frames, desc="lift to 3D (stream)", unit="frame",
              disable=not opts.progress) as bar:
        for p in range(num_person):
            try:
                stream = lifter.stream(width, height, lookahead=opts.lookahead, flip=opts.flip)
            except ValueError as exc:
                raise DemoError(f"--lookahead: {exc}") from exc
            person = []
            for frame in h36m[p]:
                begin = time.perf_counter()
                pose = stream.push(frame)
                push_ms.append((time.perf_counter() - begin) * 1e3)
                if pose is not None:
                    person.append(pose)
                bar.update(1)
            person.extend(stream.flush())
            out.append(np.stack(person))
    log(f"streaming latency: {opts.lookahead} frames of look-ahead ({opts.lookahead / fps * 1e3:.0f} ms at "
        f"{fps:g} fps) + {np.median(push_ms):.1f} ms to lift each pushed frame (median; "
        f"{np.percentile(push_ms, 95):.1f} ms 95th percentile, {lifter.device})")
    return np.stack(out).astype(np.float32)


def timing_summary(times: dict[str, float], num_frames: int) -> str:
    """One line: wall-clock seconds per stage, video frames per second without and with rendering, and the
    CPU seconds (all threads of this process) of the stages before rendering."""
    work = times["detection"] + times["2D"] + times["lifting"]
    line = (f"time: detection {times['detection']:.2f} s, 2D {times['2D']:.2f} s, lifting {times['lifting']:.2f} s, "
            f"rendering {times['rendering']:.2f} s; {num_frames} frames at {num_frames / max(work, 1e-9):.1f} video "
            "frames/s without rendering")
    if times["rendering"] > 0:
        line += f", {num_frames / max(work + times['rendering'], 1e-9):.1f} with"
    return line + f" (CPU {times.get('cpu', 0.0):.2f} s before rendering)"
