"""MPI-INF-3DHP in P-STMO's npz layout (``dt_root/data_train_3dhp.npz``, ``data_test_3dhp.npz``): training
windows cut from whole sequences, the test protocol of :mod:`lib.engine.evaluate_3dhp` (a centred window per
frame) with every averaging convention, and a Human3.6M model evaluated across datasets
(``trained_on: h36m``)."""

from __future__ import annotations

import os
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from ...data.mpi_inf_3dhp import NUM_JOINTS, TEST_FILE, TRAIN_FILE, training_dataset
from ...utils.skeleton import MPI_INF_3DHP_SKELETON, SKELETONS
from ..distributed import DistEnv
from ..errors import InputError
from ..evaluate import save_results_json
from ..evaluate_3dhp import Result3DHP, TestData3DHP, evaluate_3dhp, format_table_3dhp, load_test_data, predict_3dhp
from ..evaluate_3dhp import save_predictions as save_predictions_npz

UNSUPPORTED_KEYS: tuple[str, ...] = ("gt_2d", "synthetic", "noise", "mask_ratio", "mask_T_ratio")


def check_config(cfg: Any, evaluating: bool) -> None:
    """``ValueError`` naming the key when the config does not go with MPI-INF-3DHP."""
    if cfg.get("trained_on") == "h36m" and not evaluating:
        raise ValueError("trained_on: h36m evaluates a Human3.6M model on MPI-INF-3DHP (with --evaluate); to train "
                         "on MPI-INF-3DHP set trained_on: null")
    for key in UNSUPPORTED_KEYS:
        if cfg.get(key):
            raise ValueError(f"{key} is not supported with dataset: mpi_inf_3dhp; set it to false/0")
    if not cfg.get("rootrel", True):
        raise ValueError("dataset: mpi_inf_3dhp needs rootrel: true (poses relative to the pelvis)")
    if int(cfg.get("num_joints", NUM_JOINTS)) != NUM_JOINTS:
        raise ValueError(f"dataset: mpi_inf_3dhp has {NUM_JOINTS} joints; set num_joints: {NUM_JOINTS}")


def _data_hint(dt_root: str) -> str:
    return (f"put {TRAIN_FILE} and {TEST_FILE} (P-STMO's npz layout) in dt_root, or make synthetic ones with "
            f"'python tools/make_synthetic_3dhp.py --out-dir {dt_root}' (see docs/DATA.md)")


def _path(cfg: Any, name: str) -> str:
    path = os.path.join(cfg.dt_root, name)
    if not os.path.isfile(path):
        raise InputError(f"{path} not found: {_data_hint(cfg.dt_root)}")
    return path


def load_train(cfg: Any) -> Dataset:
    """Training windows of ``clip_len`` frames every ``data_stride`` frames, mirrored at random with ``flip``."""
    try:
        return training_dataset(_path(cfg, TRAIN_FILE), cfg.clip_len, cfg.data_stride,
                                flip=MPI_INF_3DHP_SKELETON if cfg.flip else None)
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from exc


def load_test(cfg: Any) -> TestData3DHP:
    """The test sequences, one centred window per frame, in the model's joint order."""
    path = _path(cfg, TEST_FILE)
    try:
        return load_test_data(os.path.dirname(path), cfg.clip_len, SKELETONS[cfg.get("trained_on") or "mpi_inf_3dhp"])
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from exc


def evaluate(model: nn.Module, test: TestData3DHP, cfg: Any, env: DistEnv, *, batch_size: int, workers: int,
             amp_dtype: Any, progress: bool = True) -> Result3DHP | None:
    """Predict the test set (all ranks) and score it (rank 0; ``None`` elsewhere)."""
    predictions = predict_3dhp(model, test, cfg, env, batch_size=batch_size, workers=workers, amp_dtype=amp_dtype,
                               progress=progress)
    if predictions is None:
        return None
    result = evaluate_3dhp(test.sequences, predictions)
    result.predictions = predictions
    return result


def output_paths(checkpoint: str, out_dir: str) -> tuple[str, str]:
    """``(out_dir/<name>_predictions.npz, out_dir/<name>_results.json)`` for checkpoint ``.../<name>.bin``."""
    stem = os.path.splitext(os.path.basename(checkpoint))[0]
    return (os.path.join(out_dir, f"{stem}_predictions.npz"), os.path.join(out_dir, f"{stem}_results.json"))


def write_results(result: Result3DHP, checkpoint: str, out_dir: str, config: str, log: Any) -> None:
    """The 3DHP table; ``out_dir/<checkpoint name>_predictions.npz`` (for ``tools/eval_3dhp.py``) and
    ``_results.json``."""
    log(format_table_3dhp(result))
    pred_path, json_path = output_paths(checkpoint, out_dir)
    try:
        save_predictions_npz(pred_path, result.predictions)
        save_results_json(json_path, result, {"checkpoint": checkpoint, "config": config})
    except OSError as exc:
        raise InputError(f"cannot write the results to {out_dir}: {exc}") from exc
    log(f"INFO: predictions saved to {pred_path}, results to {json_path}")
