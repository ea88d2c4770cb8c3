"""The offline 2D backend: OpenCV's HOG people detector in front of MediaPipe BlazePose, one pose per person.

BlazePose (``mediapipe.solutions.pose``, ``model_complexity=1``: the only model shipped inside the
``mediapipe==0.10.21`` wheel) follows one person; to find several people, and small ones, a person
detector runs first: OpenCV's HOG people detector (its 64 x 128 window fits people from about 100 px tall)
on every ``det_every``-th frame while fewer than ``max_people`` people are followed (the detections with the
highest score first). Each person gets a track with its own BlazePose instance in tracking mode, fed a
square crop around the person (resized to ``CROP_SIZE``); between detections the crop follows the
landmarks of the previous frame. A detection that overlaps no followed person (IoU < ``iou_thresh`` with
its box and not containing its centre) starts a track. When every slot is taken the detector checks the
followed people every ``verify_every`` frames on a small crop around each. A track ends when its pose is
lost for more than ``max_age`` frames, when it stops looking like a person (:mod:`track_quality`: low
landmark visibility, implausible bones, the detector not agreeing; its last frames are dropped and
the region admits no new track for ``block_frames`` frames), or when it is on a person followed by another
track (box IoU > 0.5, or a box mostly inside another's: the younger ends). The landmarks
become Human3.6M joints with :func:`sct.keypoint_formats.blazepose_to_h36m`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import cv2
import numpy as np

from .track_quality import QualityRule, TrackHealth, frame_quality
from .tracker import Track, box_iou, inside_fraction

CROP_SIZE = 256
INSTALL_HINT = "install it with `make demo-offline` (or pip install mediapipe==0.10.21 'numpy<2' 'protobuf<5')"


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Meanwhile, send what native code writes to file descriptor 2 (MediaPipe's C++ absl/glog lines, which
    no Python logging setting reaches) to the null device; Python's own ``sys.stderr`` is flushed first."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def mediapipe_available() -> bool:
    """Whether ``mediapipe`` imports (the offline backend can run)."""
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


class HOGPeopleDetector:
    """OpenCV's default HOG people detector; ``detect(frame)`` -> boxes ``(K, 5)`` (x1, y1, x2, y2, score)."""

    def __init__(self, min_score: float = 0.3, nms: float = 0.4, scale: float = 1.05) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.min_score, self.nms, self.scale = min_score, nms, scale

    def detect(self, frame: np.ndarray) -> np.ndarray:
        win_w, win_h = self.hog.winSize
        if frame.shape[0] < win_h or frame.shape[1] < win_w:  # smaller than one window: nobody to find
            return np.zeros((0, 5), dtype=np.float32)
        rects, weights = self.hog.detectMultiScale(frame, winStride=(8, 8), padding=(8, 8), scale=self.scale)
        if len(rects) == 0:
            return np.zeros((0, 5), dtype=np.float32)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        keep = cv2.dnn.NMSBoxes([list(map(int, r)) for r in rects], weights.tolist(), self.min_score, self.nms)
        keep = np.asarray(keep, dtype=np.int64).reshape(-1)
        r = np.asarray(rects, dtype=np.float32)[keep]
        return np.concatenate([r[:, :2], r[:, :2] + r[:, 2:], weights[keep, None].astype(np.float32)], axis=1)

    def detect_around(self, frame: np.ndarray, box: np.ndarray, enlarge: float = 1.6, side: int = 256) -> np.ndarray:
        """People near ``box``: :meth:`detect` on the square ``enlarge`` times the box, resized to ``side``
        pixels (a person about 160 px tall, found after a few pyramid levels instead of the ~30 of a
        768 x 576 frame), boxes in frame pixels."""
        corner, size = square_crop(box, enlarge)
        scale = side / size
        matrix = np.array([[scale, 0, -corner[0] * scale], [0, scale, -corner[1] * scale]])
        crop = cv2.warpAffine(frame, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        found = self.detect(crop).copy()
        found[:, [0, 2]] = found[:, [0, 2]] / scale + corner[0]
        found[:, [1, 3]] = found[:, [1, 3]] / scale + corner[1]
        return found


def square_crop(box: np.ndarray, enlarge: float) -> tuple[np.ndarray, float]:
    """Top-left corner ``(2,)`` and side of the square of side ``enlarge * max(w, h)`` centred on ``box``."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    side = max(x2 - x1, y2 - y1, 8.0) * enlarge
    return np.array([(x1 + x2 - side) / 2, (y1 + y2 - side) / 2]), side


class PoseEstimator(Protocol):
    """One person's pose estimator: landmarks ``(33, 3)`` (x, y pixels, visibility) near ``box``, or None."""

    def estimate(self, frame_rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None: ...

    def close(self) -> None: ...


class MediaPipeCropPose:
    """MediaPipe BlazePose in tracking mode, fed a square crop (``enlarge`` times the box, ``CROP_SIZE``)."""

    def __init__(self, mp_pose, enlarge: float = 1.5) -> None:
        with native_stderr_silenced():
            self.pose = mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                     enable_segmentation=False, min_detection_confidence=0.5,
                                     min_tracking_confidence=0.5)
        self.enlarge = enlarge

    def estimate(self, frame_rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        corner, side = square_crop(box, self.enlarge)
        scale = CROP_SIZE / side
        matrix = np.array([[scale, 0, -corner[0] * scale], [0, scale, -corner[1] * scale]])
        crop = cv2.warpAffine(frame_rgb, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        with native_stderr_silenced():
            result = self.pose.process(crop)
        if result.pose_landmarks is None:
            return None
        lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
        lm[:, :2] = lm[:, :2] * side + corner
        return lm

    def close(self) -> None:
        self.pose.close()


@dataclass
class PoseTrack:
    """One person followed by its own pose estimator; ``landmarks[frame]`` ``(33, 3)`` in pixels.

    ``health`` holds the per-frame quality signals (:mod:`track_quality`); ``end`` says why the track
    ended: ``"lost"`` (no pose for more than ``max_age`` frames), ``"ghost"`` (the quality rule),
    ``"duplicate"`` (on the same person as an older track) or ``""`` (live at the end of the video).
    """

    track: Track
    pose: PoseEstimator
    box: np.ndarray
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)
    misses: int = 0
    health: TrackHealth = field(default_factory=TrackHealth)
    start: int = 0
    end: str = ""
    first_box: np.ndarray | None = None  # the detection that started the track


class BlazePoseTracker:
    """People in a video, frame by frame: HOG detections every ``det_every`` frames, BlazePose per person.

    Feed frames in order to :meth:`update`; afterwards :attr:`all_tracks` holds every track with a pose
    (boxes per frame, as :class:`tracker.Track`, and landmarks). A track that stops looking like a person
    ends by ``quality`` (:class:`track_quality.QualityRule`), its last frames dropped, and the region
    where it ended admits no new track for ``block_frames`` frames (so the same false detection does not
    take the slot again); free slots go to the detections with the highest detector score first.
    ``pose_factory`` makes one pose estimator per track (default: MediaPipe BlazePose on a crop; tests
    pass a stand-in and need no mediapipe).
    """

    def __init__(self, det_every: int = 5, max_people: int = 3, iou_thresh: float = 0.3, max_age: int = 10,
                 enlarge: float = 1.5, detector: HOGPeopleDetector | None = None,
                 quality: QualityRule | None = None, block_frames: int = 50, verify_every: int | None = None,
                 pose_factory: Callable[[], PoseEstimator] | None = None) -> None:
        if pose_factory is None:
            try:
                with native_stderr_silenced():
                    from mediapipe.python.solutions import pose as mp_pose
            except ImportError as exc:
                raise ImportError(f"the MediaPipe backend needs mediapipe; {INSTALL_HINT}") from exc
            pose_factory = partial(MediaPipeCropPose, mp_pose, enlarge)
        self.pose_factory = pose_factory
        self.detector = detector or HOGPeopleDetector()
        self.det_every, self.max_people = det_every, max_people
        self.iou_thresh, self.max_age, self.enlarge = iou_thresh, max_age, enlarge
        self.quality = quality or QualityRule()
        self.block_frames = block_frames
        self.verify_every = det_every if verify_every is None else verify_every
        self.blocked: list[tuple[np.ndarray, int]] = []  # (box, last blocked frame) where a ghost ended
        self.live: list[PoseTrack] = []
        self.done: list[PoseTrack] = []
        self._frame = -1
        self.detection_seconds = 0.0  # time spent in the person detector

    def _unfollowed(self, detections: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
        """The detections that match none of ``boxes`` (IoU < ``iou_thresh`` and not containing its centre)."""
        if len(detections) == 0 or not boxes:
            return detections
        b = np.stack(boxes)
        centres = ((b[:, :2] + b[:, 2:4]) / 2)[:, None, :]  # (boxes, 1, 2)
        inside = ((centres >= detections[None, :, 0:2]) & (centres <= detections[None, :, 2:4])).all(axis=-1)
        followed = (box_iou(b, detections) >= self.iou_thresh) | inside
        return detections[~followed.any(axis=0)]

    def _match(self, detections: np.ndarray, t: int) -> None:
        """Start tracks for detections of nobody already followed, up to ``max_people``: the highest
        detector score first (ties: the larger box); detections where a ghost ended lately are skipped.

        A detection is somebody followed when its IoU with a live track's box is at least ``iou_thresh`` or
        it contains the centre of that box (a track's box hugs the landmarks, a detector's box has margins).
        """
        self.blocked = [(box, until) for box, until in self.blocked if until >= t]
        detections = self._unfollowed(detections, [pt.box for pt in self.live])
        detections = self._unfollowed(detections, [box for box, _ in self.blocked])
        area = (detections[:, 2] - detections[:, 0]) * (detections[:, 3] - detections[:, 1])
        order = np.lexsort((-area, -detections[:, 4]))
        for det in detections[order]:
            if len(self.live) >= self.max_people:
                break
            track = Track(track_id=len(self.live) + len(self.done))
            box = det[:5].astype(np.float32)
            self.live.append(PoseTrack(track=track, pose=self.pose_factory(), box=box, health=TrackHealth(self.quality),
                                       start=t, first_box=box.copy()))

    def _end(self, pt: PoseTrack, reason: str) -> None:
        self.live.remove(pt)
        self.done.append(pt)
        pt.end = reason
        pt.pose.close()

    def _end_ghost(self, pt: PoseTrack) -> None:
        """End a track by the quality rule: drop its final frames; block, for new tracks, where it ended and,
        if it never looked like a person, the detection that started it (the detector would fire there again)."""
        for t in pt.health.final_frames():
            pt.landmarks.pop(t, None)
            pt.track.boxes.pop(t, None)
        pt.track.last_frame = max(pt.track.boxes, default=-1)
        until = self._frame + self.block_frames
        self.blocked.append((pt.box.copy(), until))
        if pt.health.ghost and pt.first_box is not None:
            self.blocked.append((pt.first_box, until))
        self._end(pt, "ghost")

    def _drop_duplicates(self) -> None:
        """Two live tracks on one person end as one: the younger ends (the one whose last frame was bad, if
        only one was) when their boxes overlap with IoU > 0.5 or one box lies mostly (``> 0.7`` of its area)
        inside the other (a second skeleton on part of a person, or a track that slid onto a followed one)."""
        def bad(pt: PoseTrack) -> bool:
            return bool(pt.health.history) and pt.health.history[-1].bad

        for i, a in enumerate(list(self.live)):
            for b in list(self.live)[i + 1:]:
                if a not in self.live or b not in self.live:
                    continue
                if (box_iou(a.box[None], b.box[None])[0, 0] > 0.5 or inside_fraction(a.box, b.box) > 0.7
                        or inside_fraction(b.box, a.box) > 0.7):
                    self._end(a if bad(a) and not bad(b) else b, "duplicate")

    def update(self, frame_bgr: np.ndarray) -> None:
        self._frame += 1
        t = self._frame
        detections = None
        # look for new people every det_every frames while fewer than max_people are followed; else check
        # the followed ones every verify_every frames, on a small crop around each (much cheaper)
        start = time.perf_counter()
        if len(self.live) < self.max_people and (t % self.det_every == 0 or not self.live):
            detections = self.detector.detect(frame_bgr)
            self._match(detections, t)
        elif self.live and self.verify_every > 0 and t % self.verify_every == 0:
            around = getattr(self.detector, "detect_around", None)  # a detector with only detect(): whole frame
            detections = (np.concatenate([around(frame_bgr, pt.box) for pt in self.live]) if around is not None
                          else self.detector.detect(frame_bgr))
        self.detection_seconds += time.perf_counter() - start
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        for pt in list(self.live):
            lm = pt.pose.estimate(rgb, pt.box)
            if lm is None:
                pt.misses += 1
            else:
                pt.misses = 0
                seen = lm[:, 2] > 0.5
                pts = lm[seen, :2] if seen.sum() >= 4 else lm[:, :2]
                pt.box = np.array([*pts.min(axis=0), *pts.max(axis=0), float(lm[:, 2].mean())], dtype=np.float32)
                pt.landmarks[t] = lm
                pt.track.boxes[t] = pt.box.copy()
                pt.track.last_frame = t
            quality = frame_quality(t, lm, pt.box if lm is not None else None, detections, self.quality,
                                    pt.health.confirmed, pt.health.last_pose)
            if pt.health.add(quality):
                self._end_ghost(pt)
            elif pt.misses > self.max_age:
                self._end(pt, "lost")
        self._drop_duplicates()

    @property
    def frames_seen(self) -> int:
        """How many frames :meth:`update` has had; the last one's landmarks are under this key."""
        return self._frame

    def close(self) -> None:
        for pt in self.live:
            pt.pose.close()
        self.done.extend(self.live)
        self.live = []

    @property
    def all_tracks(self) -> list[PoseTrack]:
        """Every track with at least one pose, ended or live."""
        return [pt for pt in self.done + self.live if pt.landmarks]
