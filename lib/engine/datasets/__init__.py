"""The datasets the trainer knows, by the config's ``dataset`` key, behind one small interface.

Each module here provides:

* ``check_config(cfg, evaluating)``: ``ValueError`` naming the key when the config does not fit the data;
* ``load_train(cfg) -> Dataset``: training samples ``(input (T, J, 3), target (T, J, 3))``;
* ``load_test(cfg) -> TestSet``: what the evaluation needs (``len()`` is the number of test windows);
* ``evaluate(model, test, cfg, env, *, batch_size, workers, amp_dtype, progress)``: the protocol's result on
  rank 0 (``None`` on the others), with ``p1``, ``p2``, ``mpjve`` and ``to_json()``;
* ``write_results(result, checkpoint, out_dir, config, log)``: what ``train.py --evaluate`` prints and writes.

Problems a user can fix are :class:`lib.engine.errors.InputError` (or ``ValueError`` from ``check_config``).
Adding a dataset is one new module and one line in :data:`DATASETS`. Human3.6M-layout pickles made from
motion capture or by the synthetic generator are ``h36m``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ...utils.skeleton import SKELETONS, Skeleton
from . import h36m, mpi_inf_3dhp

DATASETS: dict[str, ModuleType] = {"h36m": h36m, "mpi_inf_3dhp": mpi_inf_3dhp}


def get_dataset(name: str) -> ModuleType:
    """The module of dataset ``name``; ``ValueError`` naming the known ones."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got '{name}'")
    return DATASETS[name]


def dataset_for(cfg: Any, evaluating: bool) -> ModuleType:
    """The module of ``cfg.dataset``, after checking ``dataset``, ``trained_on`` and the dataset's own keys;
    ``ValueError`` naming the key."""
    trained_on = cfg.get("trained_on")
    if trained_on is not None and trained_on not in DATASETS:
        raise ValueError(f"trained_on must be null or one of {', '.join(DATASETS)}, got '{trained_on}'")
    dataset = get_dataset(cfg.get("dataset", "h36m"))
    dataset.check_config(cfg, evaluating)
    return dataset


def model_skeleton_for(cfg: Any) -> Skeleton:
    """The joint order the model was trained in: ``trained_on`` when set, else ``dataset``."""
    return SKELETONS[cfg.get("trained_on") or cfg.get("dataset", "h36m")]
