"""The offline 2D backend: OpenCV's HOG people detector in front of MediaPipe BlazePose, one pose per person.

BlazePose (``mediapipe.solutions.pose``, ``model_complexity=1``: the only model shipped inside the
``mediapipe==0.10.21`` wheel) follows one person; to find several people, and small ones, a person
detector runs first: OpenCV's HOG people detector (its 64 x 128 window fits people from about 100 px tall)
on every ``det_every``-th frame while fewer than ``max_people`` people are followed. Each person gets a
track with its own BlazePose instance in tracking mode, fed a square crop around the person (resized to
``CROP_SIZE``); between detections the crop follows the landmarks of the previous frame. A detection
that overlaps no followed person (IoU < ``iou_thresh`` with its box and not containing its centre)
starts a track; a track whose pose is lost for more than ``max_age`` frames ends, and of two tracks on
one person (box IoU > 0.5) the younger ends. The landmarks become Human3.6M joints with
:func:`sct.keypoint_formats.blazepose_to_h36m`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from .tracker import Track, box_iou

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


def square_crop(box: np.ndarray, enlarge: float) -> tuple[np.ndarray, float]:
    """Top-left corner ``(2,)`` and side of the square of side ``enlarge * max(w, h)`` centred on ``box``."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    side = max(x2 - x1, y2 - y1, 8.0) * enlarge
    return np.array([(x1 + x2 - side) / 2, (y1 + y2 - side) / 2]), side


@dataclass
class PoseTrack:
    """One person followed by its own BlazePose instance; ``landmarks[frame]`` ``(33, 3)`` in pixels."""

    track: Track
    pose: object
    box: np.ndarray
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)
    misses: int = 0


class BlazePoseTracker:
    """People in a video, frame by frame: HOG detections every ``det_every`` frames, BlazePose per person.

    Feed frames in order to :meth:`update`; afterwards :attr:`tracks` holds every track (boxes per frame,
    as :class:`tracker.Track`) and :meth:`landmarks` each track's landmarks.
    """

    def __init__(self, det_every: int = 5, max_people: int = 3, iou_thresh: float = 0.3, max_age: int = 10,
                 enlarge: float = 1.5, detector: HOGPeopleDetector | None = None) -> None:
        try:
            with native_stderr_silenced():
                from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:
            raise ImportError(f"the MediaPipe backend needs mediapipe; {INSTALL_HINT}") from exc
        self._mp_pose = mp_pose
        self.detector = detector or HOGPeopleDetector()
        self.det_every, self.max_people = det_every, max_people
        self.iou_thresh, self.max_age, self.enlarge = iou_thresh, max_age, enlarge
        self.live: list[PoseTrack] = []
        self.done: list[PoseTrack] = []
        self._frame = -1
        self.detection_seconds = 0.0  # time spent in the person detector

    def _new_pose(self):
        with native_stderr_silenced():
            return self._mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                      enable_segmentation=False, min_detection_confidence=0.5,
                                      min_tracking_confidence=0.5)

    def _match(self, detections: np.ndarray) -> None:
        """Start tracks for detections of nobody already followed (largest first, up to ``max_people``).

        A detection is somebody followed when its IoU with a live track's box is at least ``iou_thresh`` or
        it contains the centre of that box (a track's box hugs the landmarks, a detector's box has margins).
        """
        if len(detections) and self.live:
            boxes = np.stack([pt.box for pt in self.live])
            centres = ((boxes[:, :2] + boxes[:, 2:4]) / 2)[:, None, :]  # (tracks, 1, 2)
            inside = ((centres >= detections[None, :, 0:2]) & (centres <= detections[None, :, 2:4])).all(axis=-1)
            followed = (box_iou(boxes, detections) >= self.iou_thresh) | inside
            detections = detections[~followed.any(axis=0)]
        order = np.argsort(-(detections[:, 2] - detections[:, 0]) * (detections[:, 3] - detections[:, 1]))
        for det in detections[order]:
            if len(self.live) >= self.max_people:
                break
            track = Track(track_id=len(self.live) + len(self.done))
            self.live.append(PoseTrack(track=track, pose=self._new_pose(), box=det[:5].astype(np.float32)))

    def _end(self, pt: PoseTrack) -> None:
        self.live.remove(pt)
        self.done.append(pt)
        pt.pose.close()

    def _drop_duplicates(self) -> None:
        """Two live tracks on one person (box IoU > 0.5): the younger one ends."""
        for i, a in enumerate(list(self.live)):
            for b in self.live[i + 1:]:
                if a in self.live and box_iou(a.box[None], b.box[None])[0, 0] > 0.5:
                    self._end(b)

    def _estimate(self, frame_rgb: np.ndarray, pt: PoseTrack) -> np.ndarray | None:
        """Landmarks ``(33, 3)`` (x, y pixels, visibility) of the person in ``pt``'s crop, or None."""
        corner, side = square_crop(pt.box, self.enlarge)
        scale = CROP_SIZE / side
        matrix = np.array([[scale, 0, -corner[0] * scale], [0, scale, -corner[1] * scale]])
        crop = cv2.warpAffine(frame_rgb, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        with native_stderr_silenced():
            result = pt.pose.process(crop)
        if result.pose_landmarks is None:
            return None
        lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
        lm[:, :2] = lm[:, :2] * side + corner
        return lm

    def update(self, frame_bgr: np.ndarray) -> None:
        self._frame += 1
        t = self._frame
        # look for new people every det_every frames while fewer than max_people are followed
        if len(self.live) < self.max_people and (t % self.det_every == 0 or not self.live):
            start = time.perf_counter()
            detections = self.detector.detect(frame_bgr)
            self.detection_seconds += time.perf_counter() - start
            self._match(detections)
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        for pt in list(self.live):
            lm = self._estimate(rgb, pt)
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
            if pt.misses > self.max_age:
                self._end(pt)
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
