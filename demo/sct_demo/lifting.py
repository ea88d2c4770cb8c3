"""2D -> 3D lifting of a whole video with a model that takes ``maxlen`` frames at a time.

* :func:`normalize_screen`: pixel coordinates -> the screen-normalised inputs of MotionBERT-style models,
  ``x / w * 2 - 1`` and ``y / w * 2 - h / w`` (both axes divided by the width, so the aspect is kept).
* :func:`window_plan`: consecutive windows of ``maxlen`` frames; every frame falls in exactly one window.
  The last, shorter window (or a whole video shorter than ``maxlen``) is resampled to ``maxlen`` frames by
  :func:`resample_indices` and its outputs are mapped back (each original frame: the mean over the
  resampled positions that copy it).
* :func:`lift_sequence`: runs the windows in batches, with test-time flip averaging
  (``lib.utils.skeleton.flip_pose`` on the input, and again on the output to undo it).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lib.data.datareader_h36m import normalize_screen as dataset_normalize_screen
from lib.data.datareader_h36m import resample_indices as dataset_resample_indices
from lib.utils.skeleton import flip_pose


def normalize_screen(kpts: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels ``(..., 2+)`` -> screen-normalised coordinates (x in [-1, 1]); extra channels are kept.

    The dataset's normalisation (:func:`lib.data.datareader_h36m.normalize_screen`) for one video size."""
    return dataset_normalize_screen(np.asarray(kpts)[None], np.array([[width, height]]))[0]


def window_plan(num_frames: int, maxlen: int) -> list[np.ndarray]:
    """Frame indices of each window: ``[0, maxlen), [maxlen, 2 maxlen), ...``, the last one possibly shorter."""
    if num_frames < 1 or maxlen < 1:
        raise ValueError(f"need num_frames >= 1 and maxlen >= 1, got {num_frames}, {maxlen}")
    return [np.arange(s, min(s + maxlen, num_frames)) for s in range(0, num_frames, maxlen)]


def resample_indices(n: int, length: int) -> np.ndarray:
    """Positions ``(length,)`` into a sequence of ``n <= length`` frames that stretch it to ``length``
    frames (nearest, in order; the dataset's resampling of short videos); every position ``0..n-1`` occurs
    at least once."""
    if not 1 <= n <= length:
        raise ValueError(f"cannot stretch {n} frames to {length}")
    return dataset_resample_indices(n, length)


@torch.no_grad()
def lift_sequence(model: nn.Module, inputs: np.ndarray, maxlen: int, device: torch.device,
                  batch_size: int = 4, flip: bool = True, progress=None) -> np.ndarray:
    """Lift a whole sequence ``(T, J, 3)`` (normalised x, y, confidence) to 3D poses ``(T, J, 3)``.

    Each frame gets exactly one pose, root-relative (joint 0 at the origin). ``progress``: an optional
    callable called with the number of windows done after each batch.
    """
    num_frames = inputs.shape[0]
    windows = window_plan(num_frames, maxlen)
    clips, positions = [], []
    for idx in windows:
        pos = resample_indices(len(idx), maxlen) if len(idx) < maxlen else np.arange(maxlen)
        clips.append(inputs[idx][pos])
        positions.append(pos)
    out = np.zeros((num_frames, inputs.shape[1], 3), dtype=np.float64)
    model = model.to(device).eval()
    for start in range(0, len(clips), batch_size):
        batch = torch.from_numpy(np.stack(clips[start:start + batch_size]).astype(np.float32)).to(device)
        pred = model(batch).float()
        if flip:
            pred = (pred + flip_pose(model(flip_pose(batch)).float())) / 2
        pred = pred.cpu().numpy()
        for k, clip_pred in enumerate(pred):
            w = start + k
            idx, pos = windows[w], positions[w]
            sums = np.zeros((len(idx), *clip_pred.shape[1:]))
            np.add.at(sums, pos, clip_pred)
            counts = np.bincount(pos, minlength=len(idx)).astype(np.float64)
            out[idx] = sums / counts[:, None, None]
        if progress is not None:
            progress(min(batch_size, len(clips) - start))
    out -= out[:, :1, :]
    return out.astype(np.float32)


# bones whose lengths add up to a skeleton's height: each leg (ankle-knee-hip, averaged over left and right)
# and the trunk and head (pelvis-spine-thorax-nose-head); the sideways pelvis-hip offsets are left out
LEG_BONES = (((3, 2), (2, 1)), ((6, 5), (5, 4)))
TRUNK_BONES = ((0, 7), (7, 8), (8, 9), (9, 10))


def skeleton_height(poses: np.ndarray) -> np.ndarray:
    """Height ``(...)`` of Human3.6M poses ``(..., 17, 3)``: mean leg length (ankle-knee-hip) plus the
    pelvis-spine-thorax-nose-head chain, in the poses' units."""
    p = np.asarray(poses, dtype=np.float64)

    def length(bones) -> np.ndarray:
        return sum(np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1) for a, b in bones)

    return (length(LEG_BONES[0]) + length(LEG_BONES[1])) / 2 + length(TRUNK_BONES)


def scale_to_height(poses: np.ndarray, height_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Poses ``(P, T, 17, 3)`` in millimetres: each person scaled so that the median over frames of
    :func:`skeleton_height` is ``height_mm``. Returns the scaled poses and the factor ``(P,)`` per person
    (millimetres per lifter unit; 0 for a person whose skeleton has no extent)."""
    heights = np.median(skeleton_height(poses), axis=1)
    factor = np.where(heights > 1e-9, height_mm / np.maximum(heights, 1e-9), 0.0)
    return np.asarray(poses, dtype=np.float64) * factor[:, None, None, None], factor
