"""Human3.6M-layout data (Human3.6M, the synthetic generator's, motion capture converted by
``tools/convert_mocap.py``): training clips from the clip folders, the test clips and the evaluation
metadata from one read of the pickle, MotionBERT's protocol (:mod:`lib.engine.evaluate`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from ...data.datareader_h36m import DataReaderH36M
from ...data.dataset_motion_3d import ClipArrays, MotionDataset3D
from ...data.eval_metadata import EvalMetadata
from ..distributed import DistEnv
from ..errors import InputError
from ..evaluate import EvalResult, evaluate_h36m, evaluation_path_for, format_table, predict_clips, save_results_json


def _data_hint() -> str:
    return ("make it with tools/make_synthetic_h36m.py or put the Human3.6M pickle there, then run "
            "tools/convert_h36m.py (see docs/TRAINING.md)")


def check_config(cfg: Any, evaluating: bool) -> None:
    if cfg.get("trained_on") not in (None, "h36m"):
        raise ValueError("trained_on: mpi_inf_3dhp with dataset: h36m is not supported; set trained_on: null")


def load_train(cfg: Any) -> Dataset:
    """The training clips of ``cfg.data_root/<subset>/train`` for every subset of ``cfg.subset_list``."""
    for subset in cfg.subset_list:
        path = os.path.join(cfg.data_root, subset, "train")
        if not os.path.isdir(path):
            raise InputError(f"clip folder not found: {path} ({_data_hint()})")
    try:
        train = MotionDataset3D(cfg, cfg.subset_list, "train")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read the data: {exc}") from exc
    if len(train) == 0:
        folders = ", ".join(os.path.join(cfg.data_root, s, "train") for s in cfg.subset_list)
        raise InputError(f"empty train dataset: no clips in {folders} ({_data_hint()})")
    frames = train[0][0].shape[0]
    if frames != cfg.clip_len:
        raise InputError(f"training clips in {cfg.data_root} have {frames} frames but clip_len={cfg.clip_len}: "
                         f"convert the clips again with --clip-len {cfg.clip_len}")
    return train


@dataclass
class TestSet:
    """The test clips ``(input, label)`` and their metadata, both from one read of the pickle."""

    clips: Dataset
    meta: EvalMetadata

    def __len__(self) -> int:
        return len(self.clips)


def load_test(cfg: Any) -> TestSet:
    """``cfg.dt_root/cfg.dt_file`` read once: the test split cut into clips of ``clip_len`` (stride
    ``clip_len``, as the protocol cuts them) and what the protocol needs of it."""
    pkl = os.path.join(cfg.dt_root, cfg.dt_file)
    if not os.path.isfile(pkl):
        raise InputError(f"Human3.6M pickle not found: {pkl} (set dt_root/dt_file; {_data_hint()})")
    try:
        reader = DataReaderH36M(n_frames=cfg.clip_len, sample_stride=cfg.sample_stride,
                                data_stride_train=cfg.data_stride, data_stride_test=cfg.clip_len,
                                dt_root=cfg.dt_root, dt_file=cfg.dt_file)
        meta = EvalMetadata.from_reader(reader)
        inputs, labels = reader.get_test_clips()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read the data: {exc}") from exc
    if len(inputs) == 0:
        raise InputError(f"empty test split in {pkl}: no test video of at least one frame")
    clips = MotionDataset3D(cfg, cfg.subset_list, "test", clips=[ClipArrays(inputs, labels, pkl)])
    return TestSet(clips, meta)


def evaluate(model: nn.Module, test: TestSet, cfg: Any, env: DistEnv, *, batch_size: int, workers: int,
             amp_dtype: Any, progress: bool = True) -> EvalResult | None:
    """Predict the test clips on all ranks, apply the protocol on rank 0 (``None`` elsewhere)."""
    preds = predict_clips(model, test.clips, cfg, env, batch_size=batch_size, workers=workers, amp_dtype=amp_dtype,
                          progress=progress)
    return evaluate_h36m(preds, test.meta) if env.is_main else None


def write_results(result: EvalResult, checkpoint: str, out_dir: str, config: str, log: Any) -> None:
    """The per-action table and ``out_dir/<checkpoint name>_results.json``."""
    log(format_table(result))
    out = evaluation_path_for(checkpoint, out_dir)
    try:
        save_results_json(out, result, {"checkpoint": checkpoint, "config": config})
        log(f"INFO: results saved to {out}")
    except OSError as exc:
        log(f"WARNING: could not save the results to {out}: {exc}")
