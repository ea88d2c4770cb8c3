"""MotionBERT's Human3.6M evaluation protocol (P1 MPJPE, P2 P-MPJPE, MPJVE per action).

The steps, in the order MotionBERT takes them:

1. Predict every test clip (in clip order), averaging with the prediction for the horizontally flipped
   input flipped back when ``flip`` is set; set the root joint to 0 when ``rootrel``; with ``gt_2d``
   the predicted x, y are replaced by the input's.
2. Denormalise the clips to pixels (:meth:`EvalMetadata.denormalize`), multiply each frame by its
   ``2.5d_factor`` (pixels -> millimetres), make prediction and ``joints_2.5d_image`` root-relative.
3. Skip the clips of the three sources in :data:`SKIPPED_SOURCES` (all cameras). For the others, each
   frame's error is summed over the clips that cover it and divided by their number (a frame repeated
   inside one clip counts once, with its last occurrence, as in MotionBERT).
4. Per action: the mean over its frames; the final number: the mean over actions.

MPJVE (not printed by MotionBERT) follows the same path with the velocity error of consecutive frames
inside a clip, attributed to the later frame.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from ..data.eval_metadata import EvalMetadata
from ..utils.atomic_io import write_text_atomic
from ..utils.metrics import mpjpe, mpjve, p_mpjpe
from ..utils.skeleton import H36M_SKELETON, Skeleton
from .distributed import DistEnv, all_gather_objects
from .lifting import predict_with_flip

# Video sources (camera suffix removed) left out of the Human3.6M test set by MotionBERT's protocol.
SKIPPED_SOURCES: tuple[str, ...] = (
    "s_09_act_05_subact_02",
    "s_09_act_10_subact_02",
    "s_09_act_13_subact_01",
)


@dataclass
class EvalResult:
    """Protocol numbers in millimetres: overall (mean over actions) and per action. Not in MotionBERT's
    output, for diagnosis: ``per_joint`` (P1 of each joint, in the model's joint order) and ``per_axis``
    (mean absolute error along the camera's x, y and depth z), both root-relative and averaged over the
    evaluated frames (not over actions)."""

    p1: float
    p2: float
    mpjve: float
    per_action: dict[str, dict[str, float]] = field(default_factory=dict)
    per_joint: list[float] = field(default_factory=list)
    per_axis: dict[str, float] = field(default_factory=dict)
    num_frames: int = 0
    num_clips: int = 0
    skipped_clips: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def predict_batch(model: torch.nn.Module, batch_input: torch.Tensor, *, flip: bool, rootrel: bool,
                  gt_2d: bool = False, skeleton: Skeleton = H36M_SKELETON) -> torch.Tensor:
    """Test-time prediction of one batch ``(B, T, J, 3) -> (B, T, J, 3)`` (normalised coordinates).

    ``skeleton`` gives the left/right joints of the flip and the root joint (Human3.6M's by default).
    (``no_conf`` is applied by the dataset, which sets the confidence channel to 1.)
    """
    pred = predict_with_flip(model, batch_input, flip=flip, skeleton=skeleton)
    if rootrel:
        pred[:, :, skeleton.root, :] = 0
    if gt_2d:
        pred[..., :2] = batch_input[..., :2]
    return pred


@torch.no_grad()
def predict_clips(model: torch.nn.Module, dataset: Dataset, cfg: Any, env: DistEnv, *,
                  batch_size: int, workers: int = 0, amp_dtype: torch.dtype | None = None,
                  progress: bool = True, skeleton: Skeleton = H36M_SKELETON) -> np.ndarray | None:
    """Predict every clip of ``dataset``; the processes share the clips and rank 0 gets all of them.
    ``skeleton``: the model's joint order (see :func:`predict_batch`).

    Returns ``(N, T, J, 3)`` float32 in clip order on rank 0 and ``None`` on the other ranks.
    """
    indices = list(range(env.rank, len(dataset), env.world_size))
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=False,
                        num_workers=workers, pin_memory=env.device.type == "cuda")
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray] = []
    bar = tqdm(loader, desc="evaluate", disable=not (progress and env.is_main), leave=False)
    for batch_input, _ in bar:
        batch_input = batch_input.to(env.device, non_blocking=True)
        with torch.autocast(env.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            pred = predict_batch(model, batch_input, flip=cfg.flip, rootrel=cfg.rootrel,
                                 gt_2d=cfg.gt_2d, skeleton=skeleton)
        outputs.append(pred.cpu().numpy())
    model.train(was_training)
    mine = np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)
    gathered = all_gather_objects((indices, mine), env)
    if not env.is_main:
        return None
    first = next(arr for _, arr in gathered if arr.size)
    result = np.zeros((len(dataset),) + first.shape[1:], dtype=np.float32)
    for idx, arr in gathered:
        if len(idx):
            result[np.asarray(idx)] = arr
    return result


def protocol_errors(pred_clips_mm: np.ndarray, split_id_test: Sequence[Sequence[int]],
                    actions: Sequence[str], factors: np.ndarray, gts: np.ndarray,
                    sources: Sequence[str],
                    skipped_sources: Sequence[str] = SKIPPED_SOURCES) -> EvalResult:
    """The protocol's arithmetic on denormalised predictions.

    Args:
        pred_clips_mm: ``(N, T, J, 3)`` denormalised predictions (pixels and pixel-scaled depth), one per
            test clip, in clip order. Not modified.
        split_id_test: N frame-index lists of length T into the test split (the reader's clips).
        actions, sources: per test frame, length F. ``factors``: ``(F,)`` 2.5d factors.
        gts: ``(F, J, 3)`` ``joints_2.5d_image`` in millimetres.
    """
    split = np.asarray([np.asarray(s) for s in split_id_test], dtype=np.int64)
    if split.ndim != 2 or split.shape[0] != len(pred_clips_mm):
        raise ValueError(f"{len(pred_clips_mm)} predicted clips but {len(split_id_test)} test clips in the split")
    actions = np.asarray(actions)
    sources = np.asarray(sources)
    factors = np.asarray(factors, dtype=np.float64)
    gts = np.asarray(gts, dtype=np.float64)
    num_frames = len(actions)
    e1_sum = np.zeros(num_frames)
    joint_sum = np.zeros((num_frames, gts.shape[1]))
    axis_sum = np.zeros((num_frames, 3))
    e2_sum = np.zeros(num_frames)
    ev_sum = np.zeros(num_frames)
    count = np.zeros(num_frames)
    count_v = np.zeros(num_frames)
    skipped = 0
    blocked = set(skipped_sources)
    for clip, frames in enumerate(split):
        source = str(sources[frames[0]])[:-6]  # drop the camera suffix '_ca_0N'
        if source in blocked:
            skipped += 1
            continue
        pred = pred_clips_mm[clip].astype(np.float64) * factors[frames][:, None, None]
        gt = gts[frames]
        pred = pred - pred[:, 0:1, :]
        gt = gt - gt[:, 0:1, :]
        # Buffered fancy-index addition, as MotionBERT does: a frame repeated inside one clip (a short
        # video resampled to the clip length) counts once, with its last occurrence.
        e1_sum[frames] += mpjpe(pred, gt)
        diff = pred - gt
        joint_sum[frames] += np.linalg.norm(diff, axis=-1)
        axis_sum[frames] += np.abs(diff).mean(axis=1)
        e2_sum[frames] += p_mpjpe(pred, gt)
        count[frames] += 1
        if len(frames) > 1:
            ev_sum[frames[1:]] += mpjve(pred, gt)
            count_v[frames[1:]] += 1

    action_names = sorted({str(a) for a in actions})
    per_action: dict[str, dict[str, float]] = {}
    covered = count > 0
    covered_v = count_v > 0
    e1 = np.divide(e1_sum, count, out=np.zeros_like(e1_sum), where=covered)
    e2 = np.divide(e2_sum, count, out=np.zeros_like(e2_sum), where=covered)
    ev = np.divide(ev_sum, count_v, out=np.zeros_like(ev_sum), where=covered_v)
    for action in action_names:
        sel = covered & (actions == action)
        sel_v = covered_v & (actions == action)
        if not sel.any():
            continue  # every clip of this action skipped: it does not enter the means
        per_action[action] = {
            "p1": float(e1[sel].mean()),
            "p2": float(e2[sel].mean()),
            "mpjve": float(ev[sel_v].mean()) if sel_v.any() else math.nan,
            "frames": int(sel.sum()),
        }
    if not per_action:
        raise ValueError("no test frame is left after skipping the excluded sources")
    mean = {k: float(np.mean([v[k] for v in per_action.values()])) for k in ("p1", "p2", "mpjve")}
    per_joint = (joint_sum[covered] / count[covered, None]).mean(axis=0)
    per_axis = (axis_sum[covered] / count[covered, None]).mean(axis=0)
    return EvalResult(p1=mean["p1"], p2=mean["p2"], mpjve=mean["mpjve"], per_action=per_action,
                      per_joint=[float(v) for v in per_joint],
                      per_axis={axis: float(v) for axis, v in zip("xyz", per_axis, strict=True)},
                      num_frames=int(covered.sum()), num_clips=len(split) - skipped, skipped_clips=skipped)


def evaluate_h36m(pred_clips: np.ndarray, meta: EvalMetadata) -> EvalResult:
    """Apply the protocol to normalised clip predictions ``(N, T, J, 3)`` of the test split ``meta``."""
    return protocol_errors(meta.denormalize(pred_clips), meta.clip_frames, meta.actions, meta.factors,
                           meta.gts, meta.sources)


def format_table(result: EvalResult) -> str:
    """The per-action table (mm) followed by MotionBERT's two summary lines."""
    name_w = max([len("Average")] + [len(a) for a in result.per_action])
    lines = [f"{'Action':<{name_w}}  {'P1':>8}  {'P2':>8}  {'MPJVE':>8}  {'frames':>7}"]
    lines.append("-" * len(lines[0]))
    for action, v in result.per_action.items():
        lines.append(f"{action:<{name_w}}  {v['p1']:8.2f}  {v['p2']:8.2f}  {v['mpjve']:8.2f}  {v['frames']:7d}")
    lines.append("-" * len(lines[0]))
    lines.append(f"{'Average':<{name_w}}  {result.p1:8.2f}  {result.p2:8.2f}  {result.mpjve:8.2f}  "
                 f"{result.num_frames:7d}")
    lines.append(f"Protocol #1 Error (MPJPE): {result.p1} mm")
    lines.append(f"Protocol #2 Error (P-MPJPE): {result.p2} mm")
    lines.append(f"MPJVE: {result.mpjve} mm")
    if result.per_axis:
        lines.append("Mean |error| per axis over the frames (depth is z): "
                     + ", ".join(f"{axis} {v:.1f}" for axis, v in result.per_axis.items()) + " mm")
    return "\n".join(lines)


def results_path_for(checkpoint_path: str) -> str:
    """``dir/best_epoch.bin`` -> ``dir/best_epoch_results.json``."""
    return os.path.splitext(checkpoint_path)[0] + "_results.json"


def evaluation_path_for(checkpoint_path: str, out_dir: str) -> str:
    """Where ``--evaluate`` writes: ``(x/best_epoch.bin, DIR)`` -> ``DIR/best_epoch_results.json``: in the
    run's output folder, never beside the checkpoint (which may sit in a read-only or shared folder)."""
    return os.path.join(out_dir, os.path.basename(results_path_for(checkpoint_path)))


def save_results_json(path: str, result: EvalResult, extra: dict[str, Any] | None = None) -> None:
    """Write the results atomically (temporary file, then rename)."""
    payload = {**(extra or {}), **result.to_json()}
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
