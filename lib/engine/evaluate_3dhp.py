"""The MPI-INF-3DHP test protocol in Python, with every averaging convention in use.

Per valid frame of a test sequence (``valid`` = 1; other frames are ignored), after subtracting the pelvis
(joint 14) from prediction and ground truth (so predictions may be absolute or root-relative):

* MPJPE: the mean joint error over all 17 joints (mm);
* PCK: the percentage of the 14 joints 0-13 (head top ... left ankle) with error < 150 mm (strict);
* AUC: the mean PCK over the 31 thresholds 0, 5, ..., 150 mm.

The numbers over the test set come in three conventions (published results mix them):

* ``pooled``: the mean over all valid frames of all sequences;
* ``sequence_mean``: the plain mean of the six per-sequence numbers;
* ``legacy_weighted``: the per-sequence numbers weighted by the frame counts 603/540/505/553/276/452
  (TS1..TS6) of P-STMO's evaluation spreadsheet (only when all six sequences are present).

Model predictions follow the test protocol of P-STMO's code: one window of ``clip_len`` frames centred on
every frame (edge-padded at the sequence ends), only the centre frame kept, flip averaging with 3DHP's
left/right joints, input the annotated 2D. Every frame is predicted (so the prediction file is complete);
only valid frames are scored.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.mpi_inf_3dhp import (
    LEGACY_FRAME_COUNTS,
    NUM_JOINTS,
    ROOT,
    TEST_FILE,
    TEST_SEQUENCES,
    Mpi3dhpFormatError,
    PoseWindows,
    Sequence3DHP,
    centred_windows,
    depth_scale_from_ground_truth,
    normalized_input,
    read_test_file,
    windows_over,
)
from ..utils.atomic_io import atomic_path
from ..utils.metrics import auc, mpjpe, mpjve, p_mpjpe, pck
from ..utils.skeleton import Skeleton, h36m_to_mpi_inf_3dhp, mpi_inf_3dhp_to_h36m
from ..utils.sliding_windows import window_centre
from .distributed import DistEnv
from .evaluate import predict_clips

PCK_JOINTS: tuple[int, ...] = tuple(range(14))  # head top .. left ankle: not pelvis, spine, head
METRICS: tuple[str, ...] = ("pck", "auc", "mpjpe")


@dataclass
class Result3DHP:
    """The protocol's numbers: per sequence and in the three conventions (PCK, AUC in %, MPJPE in mm).

    ``p1`` (pooled MPJPE), ``p2`` (pooled Procrustes-aligned MPJPE) and ``mpjve`` (pooled over pairs of
    consecutive valid frames) are what the training loop logs and selects the best epoch by.
    """

    per_sequence: dict[str, dict[str, float]]
    pooled: dict[str, float]
    sequence_mean: dict[str, float]
    legacy_weighted: dict[str, float] | None
    p2: float = float("nan")
    mpjve: float = float("nan")
    predictions: dict[str, np.ndarray] | None = field(default=None, repr=False)  # mm, not in the JSON

    @property
    def p1(self) -> float:
        return self.pooled["mpjpe"]

    def to_json(self) -> dict[str, Any]:
        return {"pooled": self.pooled, "sequence_mean": self.sequence_mean,
                "legacy_weighted": self.legacy_weighted, "per_sequence": self.per_sequence}


def frame_metrics(pred_mm: np.ndarray, gt_mm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame ``pck``, ``auc``, ``mpjpe`` and ``p_mpjpe`` ``(F,)`` of poses ``(F, 17, 3)`` in mm (3DHP
    order), after subtracting each pose's pelvis."""
    pred = np.asarray(pred_mm, dtype=np.float64)
    gt = np.asarray(gt_mm, dtype=np.float64)
    pred = pred - pred[:, ROOT:ROOT + 1]
    gt = gt - gt[:, ROOT:ROOT + 1]
    joints = list(PCK_JOINTS)
    return {"pck": pck(pred[:, joints], gt[:, joints]), "auc": auc(pred[:, joints], gt[:, joints]),
            "mpjpe": mpjpe(pred, gt), "p_mpjpe": p_mpjpe(pred, gt)}


def evaluate_3dhp(gt: dict[str, Sequence3DHP], predictions: dict[str, np.ndarray]) -> Result3DHP:
    """Score ``predictions`` (name -> ``(N, 17, 3)`` mm, 3DHP order, every frame) against ``gt``."""
    per_sequence: dict[str, dict[str, float]] = {}
    pooled_frames: dict[str, list[np.ndarray]] = {k: [] for k in (*METRICS, "p_mpjpe")}
    velocity: list[np.ndarray] = []
    for name, seq in gt.items():
        valid = seq.valid
        if not valid.any():
            raise ValueError(f"test sequence {name} has no valid frame")
        pred = np.asarray(predictions[name], dtype=np.float64)
        per_frame = frame_metrics(pred[valid], seq.pose_3d[valid])
        per_sequence[name] = {k: float(per_frame[k].mean()) for k in METRICS}
        per_sequence[name]["frames"] = int(valid.sum())
        for key, values in per_frame.items():
            pooled_frames[key].append(values)
        both = valid[1:] & valid[:-1]
        if both.any():
            rel_pred = pred - pred[:, ROOT:ROOT + 1]
            rel_gt = seq.pose_3d.astype(np.float64) - seq.pose_3d[:, ROOT:ROOT + 1]
            velocity.append(mpjve(rel_pred, rel_gt)[both])
    pooled = {k: float(np.concatenate(pooled_frames[k]).mean()) for k in METRICS}
    pooled["frames"] = int(sum(v["frames"] for v in per_sequence.values()))
    sequence_mean = {k: float(np.mean([v[k] for v in per_sequence.values()])) for k in METRICS}
    legacy = None
    if set(per_sequence) == set(TEST_SEQUENCES):
        weights = np.array([LEGACY_FRAME_COUNTS[s] for s in TEST_SEQUENCES], dtype=np.float64)
        legacy = {k: float(np.dot(weights, [per_sequence[s][k] for s in TEST_SEQUENCES]) / weights.sum())
                  for k in METRICS}
    return Result3DHP(per_sequence=per_sequence, pooled=pooled, sequence_mean=sequence_mean,
                      legacy_weighted=legacy, p2=float(np.concatenate(pooled_frames["p_mpjpe"]).mean()),
                      mpjve=float(np.concatenate(velocity).mean()) if velocity else float("nan"))


def format_table_3dhp(result: Result3DHP) -> str:
    """The per-sequence table and the three conventions."""
    head = f"{'Sequence':<16}  {'PCK':>6}  {'AUC':>6}  {'MPJPE':>7}  {'frames':>7}"
    lines = [head, "-" * len(head)]
    for name, v in result.per_sequence.items():
        lines.append(f"{name:<16}  {v['pck']:6.2f}  {v['auc']:6.2f}  {v['mpjpe']:7.2f}  {v['frames']:7d}")
    lines.append("-" * len(head))
    rows = [("pooled", result.pooled), ("sequence_mean", result.sequence_mean),
            ("legacy_weighted", result.legacy_weighted)]
    for label, v in rows:
        if v is None:
            lines.append(f"{label:<16}  (needs all of {', '.join(TEST_SEQUENCES)})")
            continue
        frames = f"{v['frames']:7d}" if "frames" in v else ""
        lines.append(f"{label:<16}  {v['pck']:6.2f}  {v['auc']:6.2f}  {v['mpjpe']:7.2f}  {frames}".rstrip())
    weights = "/".join(str(LEGACY_FRAME_COUNTS[s]) for s in TEST_SEQUENCES)
    lines.append(f"PCK: % of joints 0-13 under 150 mm; AUC: mean PCK over 0..150 mm; MPJPE in mm (17 joints), "
                 f"pelvis subtracted; legacy_weighted: sequences weighted {weights}")
    lines.append(f"pooled P-MPJPE {result.p2:.2f} mm, MPJVE {result.mpjve:.2f} mm")
    return "\n".join(lines)


# -------------------------------------------------------------------------------- prediction files


def load_predictions(path: str | os.PathLike, gt: dict[str, Sequence3DHP]) -> dict[str, np.ndarray]:
    """Read and check a prediction npz: one ``(N, 17, 3)`` array per test sequence of ``gt``, finite at
    every valid frame. :class:`Mpi3dhpFormatError` names the file and the key of the first problem."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise Mpi3dhpFormatError(f"{path}: a single array, expected an npz with one array per test "
                                         f"sequence ({', '.join(gt)})")
            names = list(archive.files)
            extra = [n for n in names if n not in gt]
            if extra:
                raise Mpi3dhpFormatError(f"{path}: '{extra[0]}' is not a test sequence of the ground truth "
                                         f"({', '.join(gt)})")
            out = {}
            for name, seq in gt.items():
                if name not in names:
                    raise Mpi3dhpFormatError(f"{path}: no array '{name}' (need one (N, {NUM_JOINTS}, 3) array "
                                             f"per test sequence: {', '.join(gt)})")
                arr = archive[name]
                if arr.shape != (len(seq), NUM_JOINTS, 3) or arr.dtype.kind not in "biuf":  # real numbers
                    raise Mpi3dhpFormatError(
                        f"{path}: '{name}' is {arr.dtype} {arr.shape}, expected ({len(seq)}, {NUM_JOINTS}, 3): "
                        f"every frame of {name}, MPI-INF-3DHP joint order, millimetres")
                bad = ~np.isfinite(arr[seq.valid]).all(axis=(1, 2))
                if bad.any():
                    frame = int(np.nonzero(seq.valid)[0][np.argmax(bad)])
                    raise Mpi3dhpFormatError(f"{path}: '{name}' has NaN or infinite values (frame {frame})")
                out[name] = arr
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if isinstance(exc, Mpi3dhpFormatError | FileNotFoundError):
            raise
        raise Mpi3dhpFormatError(f"{path}: not an npz of plain arrays ({type(exc).__name__}: {exc})") from exc
    return out


def save_predictions(path: str | os.PathLike, predictions: dict[str, np.ndarray]) -> None:
    """Write predictions in the evaluator's format (npz, one float32 array per sequence), atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **{k: np.asarray(v, dtype=np.float32) for k, v in predictions.items()})


# ------------------------------------------------------------------------------ model predictions


@dataclass
class TestData3DHP:
    """The test set prepared for a model: windows in the model's joint order and the factor per frame that
    turns its root-relative output into millimetres."""

    sequences: dict[str, Sequence3DHP]
    windows: PoseWindows
    model_skeleton: Skeleton
    mm_per_unit: dict[str, np.ndarray]  # name -> (N,)
    clip_len: int
    path: str

    def __len__(self) -> int:
        return len(self.windows)


def load_test_data(dt_root: str, clip_len: int, model_skeleton: Skeleton) -> TestData3DHP:
    """Read ``dt_root/data_test_3dhp.npz`` and cut one window per frame.

    ``model_skeleton``: MPI-INF-3DHP's (a model trained on 3DHP: its output times ``w / 2`` is mm) or
    Human3.6M's (a model trained on Human3.6M: the input is converted to its joint order and its 2.5D
    output is scaled by ``w / 2`` and the ground truth's mm per pixel, :func:`depth_scale_from_ground_truth`).
    """
    path = os.path.join(dt_root, TEST_FILE)
    sequences = read_test_file(path)
    if model_skeleton.name not in ("mpi_inf_3dhp", "h36m"):
        raise ValueError(f"no conversion from MPI-INF-3DHP to {model_skeleton.name}")
    cross = model_skeleton.name == "h36m"
    seqs = list(sequences.values())
    inputs = [normalized_input(s) for s in seqs]
    if cross:
        inputs = [mpi_inf_3dhp_to_h36m(x) for x in inputs]
    windows, owner = windows_over(seqs, lambda n: centred_windows(n, clip_len))
    mm_per_unit = {}
    for s in seqs:
        half_width = np.full(len(s), s.image_size[0] / 2.0)
        mm_per_unit[s.name] = half_width * depth_scale_from_ground_truth(s) if cross else half_width
    return TestData3DHP(sequences, PoseWindows(inputs, inputs, windows, owner), model_skeleton, mm_per_unit,
                        clip_len, path)


class CentreFrame(nn.Module):
    """A lifting model that keeps only the frame at ``index`` of its output ``(B, T, J, 3) -> (B, 1, J, 3)``."""

    def __init__(self, model: nn.Module, index: int) -> None:
        super().__init__()
        self.model = model
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, self.index:self.index + 1]


@torch.no_grad()
def predict_3dhp(model: nn.Module, data: TestData3DHP, cfg: Any, env: DistEnv, *, batch_size: int,
                 workers: int = 0, amp_dtype: torch.dtype | None = None,
                 progress: bool = True) -> dict[str, np.ndarray] | None:
    """Predictions in mm (3DHP order, pelvis at 0) for every frame of every test sequence (rank 0; ``None``
    on the other ranks). Flip averaging as ``cfg.flip`` says, with the model's own left/right joints."""
    centre = CentreFrame(model, window_centre(data.clip_len))
    out = predict_clips(centre, data.windows, cfg, env, batch_size=batch_size, workers=workers,
                        amp_dtype=amp_dtype, progress=progress, skeleton=data.model_skeleton)
    if not env.is_main:
        return None
    out = out[:, 0].astype(np.float64)
    if data.model_skeleton.name == "h36m":
        out = h36m_to_mpi_inf_3dhp(out)
    out = out - out[:, ROOT:ROOT + 1]
    predictions = {}
    for i, name in enumerate(data.sequences):
        mine = out[data.windows.owner == i]
        predictions[name] = (mine * data.mm_per_unit[name][:, None, None]).astype(np.float32)
    return predictions
