"""Stages 1-2 of the demo: people and their 2D keypoints, from a video (YOLOv3 + HRNet-W48, or HOG + MediaPipe
BlazePose) or from a keypoints file, as tracks of people (:class:`keypoint_files.PersonKeypoints`: plain
arrays). Frames are streamed from the video (once per stage) instead of being held in memory, so videos of
many thousands of frames work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from sct.keypoint_formats import BLAZEPOSE_JOINTS, blazepose_to_coco, blazepose_to_h36m, coco_to_h36m

from .blazepose import BlazePoseTracker
from .convert import fill_missing
from .darknet import DarknetError, PersonDetector, build_darknet, load_darknet_weights
from .hrnet import pose_hrnet_w48
from .keypoint_files import KeypointFileError, PersonKeypoints, load_keypoints
from .keypoints import KeypointEstimator, PoseWeightsError, load_hrnet_weights
from .options import WEIGHTS_README, DemoError, DemoOptions, HRNetFiles, resolve_file
from .tracker import IoUTracker, Track, select_tracks


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


def load_detector(opts: DemoOptions, files: HRNetFiles, device: torch.device) -> PersonDetector:
    """YOLOv3 from ``files`` on ``device`` with the detection options of ``opts``."""
    try:
        model = build_darknet(files.detector_cfg)
        load_darknet_weights(model, files.detector_weights)
    except DarknetError as exc:
        raise DemoError(f"{exc}; download yolov3.weights (see {WEIGHTS_README}) or pass --detector-weights") from exc
    return PersonDetector(model, device, opts.det_size, opts.det_conf, opts.det_nms)


def load_pose_estimator(opts: DemoOptions, files: HRNetFiles, device: torch.device) -> KeypointEstimator:
    """HRNet-W48 from ``files`` on ``device``."""
    model = pose_hrnet_w48()
    try:
        load_hrnet_weights(model, files.pose_weights)
    except PoseWeightsError as exc:
        raise DemoError(f"{exc}; download pose_hrnet_w48_384x288.pth (see {WEIGHTS_README}) or pass --pose-weights"
                        ) from exc
    return KeypointEstimator(model, device, opts.pose_input_wh, flip_test=opts.flip)


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


def keypoints_hrnet(video: Path, detector: PersonDetector, estimator: KeypointEstimator, opts: DemoOptions,
                    frame_count: int,
                    times: dict[str, float]) -> PersonKeypoints:
    """YOLOv3 people + IoU tracks, then HRNet keypoints of the kept tracks, converted to Human3.6M."""
    start = time.perf_counter()
    all_tracks, num_frames = detect_and_track(video, detector, opts, frame_count)
    times["detection"] = time.perf_counter() - start
    if num_frames == 0:
        raise DemoError(f"cannot read video {video}: no frames decoded")
    if not all_tracks:
        raise DemoError(f"no person detected in {video}; try a lower --det-conf or a video where a person is visible")
    tracks = select_tracks(all_tracks, opts.num_person)
    start = time.perf_counter()
    coco, coco_scores, present = estimate_keypoints(video, tracks, num_frames, estimator, opts)
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
