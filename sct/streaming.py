"""Lifting a live video frame by frame: ``LiftingStream`` (made by :meth:`sct.Lifter.stream`).

After frame ``n`` is pushed, the pose of frame ``t = n - k`` is known (``k``: the look-ahead): it is read
out at position ``L - 1 - k`` of the window of the last ``L`` frames (``L``: the model's window; before ``L``
frames have arrived, the first frame fills the window's start). :meth:`LiftingStream.flush` gives the last
``k`` poses, their windows filled at the end with the last frame. A whole video pushed through a stream
gives what ``Lifter.lift(keypoints, width, height, lookahead=k)`` gives offline (the same windows).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._research import research_module
from .lifter import check_keypoints, check_lookahead, normalize_keypoints

if TYPE_CHECKING:
    from .lifter import Lifter

_lifting = research_module("engine.lifting")


class LiftingStream:
    """Feed one person's keypoints frame by frame with :meth:`push`; finish with :meth:`flush`."""

    def __init__(self, lifter: Lifter, width: float, height: float, lookahead: int = 0, *, flip: bool = True) -> None:
        self.lifter = lifter
        self.width, self.height = width, height
        self.lookahead = check_lookahead(lookahead, lifter.window)
        self.flip = flip
        self.frames_pushed = 0
        self.poses_given = 0
        self._recent: deque[np.ndarray] = deque(maxlen=lifter.window)

    def push(self, frame_keypoints: Any) -> np.ndarray | None:
        """Add one frame's keypoints ``(17, 2|3)`` in pixels; returns the root-relative 3D pose ``(17, 3)`` of
        the frame ``lookahead`` frames back, or ``None`` while that frame is not known yet."""
        k = check_keypoints(np.asarray(frame_keypoints)[None, None], "frame keypoints")[0]
        x = normalize_keypoints(k, self.width, self.height)[0]
        self._recent.append(x)
        self.frames_pushed += 1
        t = self.frames_pushed - 1 - self.lookahead
        if t < 0:
            return None
        return self._poses([t], last=self.frames_pushed - 1)[0]

    def flush(self) -> np.ndarray:
        """The poses still owed at the end ``(k', 17, 3)`` (``k' <= lookahead``; empty when none are)."""
        owed = list(range(self.poses_given, self.frames_pushed))
        if not owed:
            return np.zeros((0, 17, 3), np.float32)
        return self._poses(owed, last=self.frames_pushed - 1)

    def _window(self, t: int, last: int) -> np.ndarray:
        """The inputs ``(L, 17, 3)`` of frame ``t``'s window, frame indices clipped into ``[0, last]``."""
        length = self.lifter.window
        start = t + self.lookahead - length + 1
        offset = self.frames_pushed - len(self._recent)  # frame index of self._recent[0]; 0 until L frames came
        return np.stack([self._recent[i - offset] for i in np.clip(np.arange(start, start + length), 0, last)])

    def _poses(self, frames: list[int], last: int) -> np.ndarray:
        batch = torch.from_numpy(np.stack([self._window(t, last) for t in frames])).to(self.lifter.device)
        with torch.no_grad():
            out = _lifting.predict_with_flip(self.lifter.model, batch, flip=self.flip,
                                             skeleton=self.lifter.skeleton)
        poses = out[:, self.lifter.window - 1 - self.lookahead].cpu().numpy().astype(np.float64)
        root = self.lifter.skeleton.root
        poses -= poses[:, root:root + 1]
        self.poses_given += len(frames)
        return poses.astype(np.float32)
