"""A light IoU tracker: keeps each detected person's identity across frames.

Per frame, detections are matched to live tracks greedily by highest IoU (at least ``iou_thresh``) with
the track's last box; unmatched detections start new tracks; a track not matched for more than
``max_age`` frames ends. Afterwards :func:`select_tracks` keeps the ``num_person`` largest tracks, where a
track's size is the sum of its box areas over the frames it was seen (large and long-lived people win).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``(N, M)`` of boxes ``(N, 4+)`` and ``(M, 4+)`` given as ``(x1, y1, x2, y2, ...)``."""
    a, b = np.asarray(a, dtype=np.float64)[:, :4], np.asarray(b, dtype=np.float64)[:, :4]
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def box_area(box: np.ndarray) -> float:
    """Area of a box ``(x1, y1, x2, y2, ...)`` (0 when empty)."""
    return float(max(box[2] - box[0], 0) * max(box[3] - box[1], 0))


def inside_fraction(inner: np.ndarray, outer: np.ndarray) -> float:
    """The fraction of ``inner``'s area that lies inside ``outer`` (boxes ``x1, y1, x2, y2, ...``)."""
    w = min(inner[2], outer[2]) - max(inner[0], outer[0])
    h = min(inner[3], outer[3]) - max(inner[1], outer[1])
    return float(max(w, 0) * max(h, 0) / max(box_area(inner), 1e-9))


@dataclass
class Track:
    """One person's boxes: ``boxes[frame] = (x1, y1, x2, y2, score)``."""

    track_id: int
    boxes: dict[int, np.ndarray] = field(default_factory=dict)
    last_frame: int = -1

    @property
    def size(self) -> float:
        """Sum of box areas over the frames where the person was detected."""
        return float(sum((b[2] - b[0]) * (b[3] - b[1]) for b in self.boxes.values()))


class IoUTracker:
    """Online IoU tracker; feed one frame's detections ``(K, 5)`` at a time with :meth:`update`."""

    def __init__(self, iou_thresh: float = 0.3, max_age: int = 30) -> None:
        self.iou_thresh = iou_thresh
        self.max_age = max_age
        self.tracks: list[Track] = []
        self._frame = -1

    def update(self, detections: np.ndarray) -> list[int]:
        """Assign this frame's detections to tracks; returns the track id of each detection."""
        self._frame += 1
        t = self._frame
        live = [tr for tr in self.tracks if t - tr.last_frame <= self.max_age]
        ids = [-1] * len(detections)
        if len(detections) and live:
            iou = box_iou(np.stack([tr.boxes[tr.last_frame] for tr in live]), detections)
            # greedy by highest IoU: visit the candidate pairs once, best first
            rows, cols = np.nonzero(iou >= self.iou_thresh)
            order = np.argsort(-iou[rows, cols], kind="stable")
            used_tracks, used_dets = set(), set()
            for i, j in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
                if i in used_tracks or j in used_dets:
                    continue
                used_tracks.add(i)
                used_dets.add(j)
                live[i].boxes[t] = np.asarray(detections[j], dtype=np.float32)
                live[i].last_frame = t
                ids[j] = live[i].track_id
        for j, det in enumerate(detections):
            if ids[j] < 0:
                track = Track(track_id=len(self.tracks), boxes={t: np.asarray(det, dtype=np.float32)}, last_frame=t)
                self.tracks.append(track)
                ids[j] = track.track_id
        return ids


def select_tracks(tracks: list[Track], num_person: int) -> list[Track]:
    """The ``num_person`` largest tracks (see :attr:`Track.size`), ordered by their first frame."""
    chosen = sorted(tracks, key=lambda tr: -tr.size)[:num_person]
    return sorted(chosen, key=lambda tr: min(tr.boxes))
