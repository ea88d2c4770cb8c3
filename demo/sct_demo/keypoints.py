"""Top-down 2D keypoints: affine crops around person boxes, HRNet heatmaps, sub-pixel decoding.

Conventions of deep-high-resolution-net.pytorch's test pipeline:

* a box is padded to the input aspect ratio (w/h = 288/384) and enlarged 1.25 times;
* the crop is an affine warp (scale + translation) that maps the box centre to the crop centre;
* heatmaps are 1/4 of the input size; a joint is the heatmap argmax moved a quarter pixel toward the
  higher neighbour in x and in y; its confidence is the heatmap maximum;
* flip test: the mirrored crop's heatmaps are mirrored back, left/right joints swapped, shifted one pixel
  to the right (the alignment fix of the official ``SHIFT_HEATMAP``) and averaged with the plain ones.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from lib.utils.checkpoint import CheckpointError, compare_state_dicts, extract_state_dict, load_checkpoint_file

from .hrnet import PoseHighResolutionNet

COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14),
                                               (15, 16))
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BOX_SCALE = 1.25


class PoseWeightsError(ValueError):
    """An HRNet weight file that is missing, unreadable or does not fit the network."""


def box_to_center_size(box: np.ndarray, aspect_ratio: float, scale: float = BOX_SCALE
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(2,)`` and crop size ``(2,)`` (w, h) in pixels of a box ``(x1, y1, x2, y2, ...)``.

    The box is widened or heightened to ``w / h == aspect_ratio`` and then multiplied by ``scale``.
    """
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], dtype=np.float64)
    return center, np.array([w, h], dtype=np.float64) * scale


def crop_transform(center: np.ndarray, size: np.ndarray, out_wh: tuple[int, int]) -> np.ndarray:
    """The ``(2, 3)`` affine matrix mapping image pixels into an ``out_wh`` crop of ``size`` around ``center``."""
    s = out_wh[0] / size[0]
    return np.array([[s, 0.0, out_wh[0] / 2 - s * center[0]],
                     [0.0, s, out_wh[1] / 2 - s * center[1]]], dtype=np.float64)


def heatmap_to_image(coords: np.ndarray, center: np.ndarray, size: np.ndarray, heatmap_wh: tuple[int, int]
                     ) -> np.ndarray:
    """Map heatmap pixel coordinates ``(..., 2)`` back to image pixels (inverse of the crop transform)."""
    scale = size[0] / heatmap_wh[0]
    out = np.empty_like(coords, dtype=np.float64)
    out[..., 0] = center[0] + (coords[..., 0] - heatmap_wh[0] / 2) * scale
    out[..., 1] = center[1] + (coords[..., 1] - heatmap_wh[1] / 2) * scale
    return out


def decode_heatmaps(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions from heatmaps ``(N, J, H, W)``: argmax + quarter-pixel shift toward the higher neighbour.

    Returns coordinates ``(N, J, 2)`` (x, y) in heatmap pixels and confidences ``(N, J)`` (the maxima).
    The shift is applied per axis only where both neighbours exist.
    """
    n, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, j, -1)
    idx = flat.argmax(axis=2)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
    xs, ys = (idx % w).astype(np.int64), (idx // w).astype(np.int64)
    coords = np.stack([xs, ys], axis=-1).astype(np.float64)
    ni, ji = np.meshgrid(np.arange(n), np.arange(j), indexing="ij")
    inner_x = (xs > 0) & (xs < w - 1)
    inner_y = (ys > 0) & (ys < h - 1)
    xr, xl = np.clip(xs + 1, 0, w - 1), np.clip(xs - 1, 0, w - 1)
    yd, yu = np.clip(ys + 1, 0, h - 1), np.clip(ys - 1, 0, h - 1)
    dx = heatmaps[ni, ji, ys, xr] - heatmaps[ni, ji, ys, xl]
    dy = heatmaps[ni, ji, yd, xs] - heatmaps[ni, ji, yu, xs]
    coords[..., 0] += np.where(inner_x, np.sign(dx) * 0.25, 0.0)
    coords[..., 1] += np.where(inner_y, np.sign(dy) * 0.25, 0.0)
    return coords, maxvals.astype(np.float64)


def flip_back_heatmaps(heatmaps: torch.Tensor, pairs: tuple[tuple[int, int], ...] = COCO_FLIP_PAIRS,
                       shift: bool = True) -> torch.Tensor:
    """Heatmaps ``(N, J, H, W)`` of mirrored crops -> heatmaps of the original crops."""
    out = heatmaps.flip(-1)
    perm = list(range(out.shape[1]))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    out = out[:, perm]
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


def load_hrnet_weights(model: PoseHighResolutionNet, path: str | os.PathLike) -> None:
    """Load an official HRNet ``.pth`` (a bare state dict, or under ``state_dict``; ``module.`` prefixes
    removed) into ``model`` with ``strict=True``; :class:`PoseWeightsError` with a clear message otherwise."""
    path = os.fspath(path)
    try:
        state = extract_state_dict(load_checkpoint_file(path, what="HRNet weights"))
    except CheckpointError as exc:
        raise PoseWeightsError(str(exc)) from exc

    def counted(names: dict) -> dict:  # BatchNorm's batch counters are not weights
        return {k: v for k, v in names.items() if not k.endswith("num_batches_tracked")}

    missing, unexpected, wrong = compare_state_dicts(counted(model.state_dict()), counted(state))
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label} {len(names)}: {', '.join(names[:5])}" for label, names in
                           (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names)
        raise PoseWeightsError(f"HRNet weights {path} do not fit HRNet-W48 (17 COCO joints): {detail}")
    model.load_state_dict(state, strict=False)


class KeypointEstimator:
    """HRNet keypoints for person boxes in frames, batched, with optional flip test.

    ``estimate(frames, boxes)`` takes BGR images ``(H, W, 3)`` and one box ``(x1, y1, x2, y2, ...)`` per
    image and returns keypoints ``(N, 17, 2)`` in image pixels and scores ``(N, 17)``.
    """

    def __init__(self, model: PoseHighResolutionNet, device: torch.device,
                 input_wh: tuple[int, int] = (288, 384), flip_test: bool = True) -> None:
        if input_wh[0] % 32 or input_wh[1] % 32:
            raise ValueError(f"HRNet input width and height must be multiples of 32, got {input_wh}")
        self.model = model.to(device).eval()
        self.device = device
        self.input_wh = input_wh
        self.flip_test = flip_test

    def crop(self, frame: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised RGB crop ``(3, h, w)`` float32 of one box, with its centre and size."""
        center, size = box_to_center_size(box, self.input_wh[0] / self.input_wh[1])
        matrix = crop_transform(center, size, self.input_wh)
        patch = cv2.warpAffine(frame, matrix, self.input_wh, flags=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        return ((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1), center, size

    @torch.no_grad()
    def estimate(self, frames: list[np.ndarray], boxes: list[np.ndarray], flip: bool | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, 17, 2)`` and scores ``(N, 17)``; ``flip`` overrides ``flip_test`` for this call."""
        flip = self.flip_test if flip is None else flip
        if not frames:
            return np.zeros((0, 17, 2)), np.zeros((0, 17))
        crops, centers, sizes = zip(*(self.crop(f, b) for f, b in zip(frames, boxes, strict=True)), strict=True)
        batch = torch.from_numpy(np.stack(crops)).to(self.device)
        n = batch.shape[0]
        if flip:
            heat = self.model(torch.cat([batch, batch.flip(-1)], dim=0)).float()
            heat = (heat[:n] + flip_back_heatmaps(heat[n:])) / 2
        else:
            heat = self.model(batch).float()
        hm = heat.cpu().numpy()
        coords, scores = decode_heatmaps(hm)
        hw = (hm.shape[3], hm.shape[2])
        kpts = np.stack([heatmap_to_image(coords[i], centers[i], sizes[i], hw) for i in range(n)])
        return kpts, scores
