"""Cutting a video into the fixed-length windows a lifting model takes, and putting the windows' outputs back
together: one pose per frame.

A :class:`WindowPlan` is a list of window starts (frame indices, possibly before the first frame or past
the last) and one weight per window position. Window ``w`` covers frames ``start_w .. start_w + L - 1``;
positions outside the video repeat the end frame (edge padding, as P-STMO's 3DHP test generator pads).
Frame ``t``'s pose is the weighted mean of the outputs at the positions that cover it, padding positions
excluded. Every caller builds its plan here:

* :func:`overlapping_plan` (the default of ``sct.Lifter``): windows every ``stride`` frames, the last one
  ending at the last frame, blended with triangular weights so that no window border shows;
* :func:`consecutive_plan`: windows side by side, each frame in exactly one (the demo's old way; kept to
  measure against);
* :func:`lookahead_plan`: one window per frame ``t`` ending at ``t + k``, read out at frame ``t`` only: what
  a live stream with ``k`` frames of look-ahead computes (``k = 0`` is causal);
* :func:`centred_plan`: one window per frame, centred on it and read out there (the MPI-INF-3DHP protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowPlan:
    """Window starts ``(W,)`` (int64) and position weights ``(L,)`` (float64, >= 0) of a video of
    ``num_frames`` frames; ``L`` is the window length."""

    starts: np.ndarray
    weights: np.ndarray
    num_frames: int

    @property
    def length(self) -> int:
        return len(self.weights)

    def frames(self) -> np.ndarray:
        """Frame indices ``(W, L)`` of every window, edge-padded into ``[0, num_frames)``."""
        return window_frames(self.starts, self.length, self.num_frames)

    def blend(self, outputs: np.ndarray) -> np.ndarray:
        """Window outputs ``(W, L, ...)`` -> one value per frame ``(num_frames, ...)`` (float64): the
        weighted mean over the window positions that cover each frame (padding positions excluded)."""
        outputs = np.asarray(outputs)
        blender = Blender(self, outputs.shape[2:])
        blender.add(0, outputs)
        return blender.result()


class Blender:
    """Accumulates window outputs batch by batch (so a long video never holds all of them) and returns
    :meth:`WindowPlan.blend`'s result."""

    def __init__(self, plan: WindowPlan, value_shape: tuple[int, ...]) -> None:
        self.plan = plan
        self.sums = np.zeros((plan.num_frames, *value_shape))
        self.totals = np.zeros(plan.num_frames)

    def add(self, first_window: int, outputs: np.ndarray) -> None:
        """Add the outputs ``(B, L, ...)`` of windows ``first_window .. first_window + B - 1``."""
        plan = self.plan
        outputs = np.asarray(outputs, dtype=np.float64)
        starts = plan.starts[first_window:first_window + len(outputs)]
        if outputs.shape[1:2] != (plan.length,) or len(starts) != len(outputs):
            raise ValueError(f"outputs of shape {outputs.shape} do not fit windows {first_window}.. of length "
                             f"{plan.length} (the plan has {len(plan.starts)} windows)")
        frame = starts[:, None] + np.arange(plan.length)[None, :]
        weight = np.where((frame >= 0) & (frame < plan.num_frames), plan.weights[None, :], 0.0)
        keep = weight > 0
        tail = (slice(None),) + (None,) * (outputs.ndim - 2)
        np.add.at(self.sums, frame[keep], outputs[keep] * weight[keep][tail])
        np.add.at(self.totals, frame[keep], weight[keep])

    def result(self) -> np.ndarray:
        """The blended values ``(num_frames, ...)``; ``ValueError`` if a frame got no weight."""
        if not (self.totals > 0).all():
            raise ValueError(f"the plan leaves {int((self.totals == 0).sum())} frame(s) without a window")
        return self.sums / self.totals.reshape(-1, *([1] * (self.sums.ndim - 1)))


def window_frames(starts: np.ndarray, length: int, num_frames: int) -> np.ndarray:
    """Frame indices ``(W, length)`` of windows starting at ``starts``, clipped into ``[0, num_frames)``."""
    if num_frames < 1 or length < 1:
        raise ValueError(f"need num_frames >= 1 and length >= 1, got {num_frames}, {length}")
    starts = np.asarray(starts, dtype=np.int64)
    return np.clip(starts[:, None] + np.arange(length)[None, :], 0, num_frames - 1)


def triangular_weights(length: int) -> np.ndarray:
    """Weights ``(length,)`` rising linearly from the window's ends to its middle: ``min(p + 1, L - p)``."""
    p = np.arange(length)
    return np.minimum(p + 1, length - p).astype(np.float64)


def one_hot(length: int, position: int) -> np.ndarray:
    """Weight 1 at ``position`` and 0 elsewhere: each window gives the pose of one frame."""
    if not 0 <= position < length:
        raise ValueError(f"position {position} is outside a window of {length} frames")
    w = np.zeros(length)
    w[position] = 1.0
    return w


def overlapping_plan(num_frames: int, length: int, stride: int | None = None) -> WindowPlan:
    """Windows every ``stride`` frames (default ``length // 2``), the last one ending at the last frame,
    blended with :func:`triangular_weights`. A video shorter than ``length`` is one edge-padded window."""
    stride = max(1, length // 2) if stride is None else int(stride)
    if not 1 <= stride <= length:
        raise ValueError(f"stride must be between 1 and the window length {length}, got {stride}")
    last = max(num_frames - length, 0)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return WindowPlan(np.asarray(starts, dtype=np.int64), triangular_weights(length), num_frames)


def consecutive_plan(num_frames: int, length: int) -> WindowPlan:
    """Windows side by side (``[0, L), [L, 2L), ...``), each frame in exactly one; the last one is
    edge-padded."""
    return WindowPlan(np.arange(0, num_frames, length, dtype=np.int64), np.ones(length), num_frames)


def lookahead_plan(num_frames: int, length: int, lookahead: int) -> WindowPlan:
    """One window per frame ``t``, covering ``t + lookahead - length + 1 .. t + lookahead`` and read out at
    ``t`` (position ``length - 1 - lookahead``): the frames a live stream has seen ``lookahead`` frames
    after ``t``. ``lookahead = 0`` is causal."""
    if not 0 <= lookahead < length:
        raise ValueError(f"lookahead must be between 0 and {length - 1} frames, got {lookahead}")
    starts = np.arange(num_frames, dtype=np.int64) + lookahead - length + 1
    return WindowPlan(starts, one_hot(length, length - 1 - lookahead), num_frames)


def window_centre(length: int) -> int:
    """Position of the read-out frame in a centred window (the middle; for even lengths the earlier one)."""
    return (length - 1) // 2


def centred_plan(num_frames: int, length: int, centres: np.ndarray | None = None) -> WindowPlan:
    """One window per frame in ``centres`` (default: every frame), the frame at :func:`window_centre`."""
    centres = np.arange(num_frames) if centres is None else np.asarray(centres, dtype=np.int64)
    c = window_centre(length)
    return WindowPlan(centres - c, one_hot(length, c), num_frames)
