"""Live lifting: frames from a camera (OpenCV ``VideoCapture(N)``) or a video file, one person, frame by frame.

Each frame goes through the 2D backend (YOLOv3 + HRNet-W48, or MediaPipe BlazePose), its Human3.6M keypoints
are pushed into an :class:`sct.LiftingStream` with ``lookahead`` frames of delay, and the pose of the frame
``lookahead`` frames back comes out. A frame where nobody is found repeats the last keypoints (marked
``missing``). The run ends at the end of the video, after ``max_frames`` frames, or on Ctrl-C; then the
poses still owed are flushed and ``keypoints_3d.npz`` is written (atomically). One line reports the latency:
the look-ahead in frames and milliseconds, and the time from reading a frame to its 2D keypoints and from
pushing them to the pose that comes out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lib.utils.atomic_io import atomic_open
from lib.utils.skeleton import H36M_JOINT_NAMES
from sct import Lifter, scale_to_height
from sct.keypoint_formats import blazepose_to_h36m, coco_to_h36m

from .tracker import box_iou


class LiveError(Exception):
    """A camera or video that cannot be opened, or nobody seen at all."""


@dataclass
class LiveResult:
    """Poses ``(T, 17, 3)`` (lifter units) and in millimetres, keypoints ``(T, 17, 3)``, ``missing`` ``(T,)``,
    and per-frame times in milliseconds (2D, lifting)."""

    poses: np.ndarray
    poses_mm: np.ndarray
    keypoints: np.ndarray
    missing: np.ndarray
    fps: float
    ms_2d: list[float] = field(default_factory=list)
    ms_lift: list[float] = field(default_factory=list)


class HRNetFrameKeypoints:
    """YOLOv3 + HRNet on one frame: the person whose box overlaps the last one most (else the largest)."""

    def __init__(self, detector, estimator, flip: bool) -> None:
        self.detector, self.estimator, self.flip = detector, estimator, flip
        self.box: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        dets = self.detector.detect([frame])[0]
        if len(dets) == 0:
            return None
        if self.box is not None and box_iou(self.box[None, :4], dets[:, :4]).max() > 0.3:
            best = int(box_iou(self.box[None, :4], dets[:, :4])[0].argmax())
        else:
            best = int(((dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])).argmax())
        self.box = dets[best]
        k, s = self.estimator.estimate([frame], [self.box], flip=self.flip)
        xy, conf = coco_to_h36m(k[0], s[0])
        return np.concatenate([xy, conf[:, None]], axis=-1)


class BlazePoseFrameKeypoints:
    """The offline backend on one frame: one person followed by :class:`blazepose.BlazePoseTracker`."""

    def __init__(self, det_every: int) -> None:
        from .blazepose import BlazePoseTracker

        self.tracker = BlazePoseTracker(det_every=det_every, max_people=1)

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        self.tracker.update(frame)
        t = self.tracker.frames_seen
        for pt in self.tracker.live:
            if t in pt.landmarks:
                xy, conf = blazepose_to_h36m(pt.landmarks[t])
                return np.concatenate([xy, conf[:, None]], axis=-1)
        return None


def open_capture(source: int | str) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of a camera index or a video file; :class:`LiveError` if it does not open."""
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"video {source}"
        raise LiveError(f"cannot open {what}; check the --webcam index (0 is the first camera) or the file")
    return cap


def run_live(source: int | str, lifter: Lifter, keypoints_of, *, lookahead: int, flip: bool, height_mm: float,
             max_frames: int | None = None, fps: float | None = None) -> LiveResult:
    """Lift the person in ``source`` frame by frame (see the module docstring). ``keypoints_of(frame)`` gives
    Human3.6M keypoints ``(17, 3)`` in pixels or ``None``."""
    cap = open_capture(source)
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    in_fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps or (in_fps if in_fps and in_fps > 0 else 30.0)
    stream = lifter.stream(width, height, lookahead=lookahead, flip=flip)
    poses, keypoints, missing, ms_2d, ms_lift = [], [], [], [], []
    last = None
    try:
        while max_frames is None or len(keypoints) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            start = time.perf_counter()
            kp = keypoints_of(frame)
            ms_2d.append((time.perf_counter() - start) * 1e3)
            missing.append(kp is None)
            if kp is None:
                if last is None:
                    continue  # nobody seen yet: nothing to push
                kp = last
            last = kp
            keypoints.append(kp)
            start = time.perf_counter()
            pose = stream.push(kp)
            ms_lift.append((time.perf_counter() - start) * 1e3)
            if pose is not None:
                poses.append(pose)
    except KeyboardInterrupt:
        pass  # stop and keep what was lifted
    finally:
        cap.release()
    if not keypoints:
        raise LiveError(f"nobody was seen in {'camera ' if isinstance(source, int) else ''}{source}")
    poses.extend(stream.flush())
    poses_arr = np.stack(poses).astype(np.float32)
    seen = np.asarray(missing)
    first_seen = int(np.argmin(seen))
    poses_mm, _ = scale_to_height(poses_arr, height_mm)
    return LiveResult(poses_arr, poses_mm.astype(np.float32), np.stack(keypoints).astype(np.float32),
                      seen[first_seen:], float(fps), ms_2d, ms_lift)


def latency_line(result: LiveResult, lookahead: int, device: str) -> str:
    """One line: look-ahead in frames and ms, and the compute per frame (2D and lifting, medians)."""
    return (f"latency: {lookahead} frames of look-ahead ({lookahead / result.fps * 1e3:.0f} ms at {result.fps:g} fps) "
            f"+ {np.median(result.ms_2d):.1f} ms 2D + {np.median(result.ms_lift):.1f} ms lifting per frame "
            f"(medians over {len(result.poses)} frames, {device})")


def write_live_npz(path: Path, result: LiveResult, height_mm: float, lookahead: int) -> None:
    """``keypoints_3d.npz`` of a live run (one person): ``poses``, ``poses_mm`` ``(1, T, 17, 3)``,
    ``keypoints_2d`` ``(1, T, 17, 3)``, ``missing`` ``(1, T)``, ``fps``, ``lookahead``, joint names."""
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, poses=result.poses[None], poses_mm=result.poses_mm[None],
                            keypoints_2d=result.keypoints[None], missing=result.missing[None],
                            fps=np.float64(result.fps), height_mm=np.float64(height_mm),
                            lookahead=np.int64(lookahead), joint_names=np.array(H36M_JOINT_NAMES))
