"""MPI-INF-3DHP through train.py on generated files: training, ``--evaluate`` outputs that the evaluator
reproduces, the cross-dataset evaluation of a Human3.6M model, and the bad-input paths."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

import train
from lib.data.mpi_inf_3dhp import TEST_SEQUENCES
from lib.model import build_model
from lib.utils.checkpoint import save_checkpoint
from lib.utils.skeleton import H36M_PARENTS
from tests._train_data import one_thread  # noqa: F401
from tools import eval_3dhp, make_synthetic_3dhp

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"backbone": "SCT", "dim_feat": 16, "dim_rep": 24, "depth": 2, "num_heads": 2, "mlp_ratio": 2,
        "maxlen": 9, "clip_len": 9, "data_stride": 9, "dct_ratio": 0.6, "freq_prune_layer": [0, 1],
        "epochs": 1, "checkpoint_frequency": 1, "batch_size": 16, "learning_rate": 0.001}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("3dhp")
    assert make_synthetic_3dhp.main(["--out-dir", str(root), "--train-subjects", "1", "--sequences", "1",
                                     "--frames", "40", "40", "--test-frames", "20", "24"]) == 0
    return root


def _config(path, root, **extra):
    path.write_text(yaml.safe_dump({"dataset": "mpi_inf_3dhp", "dt_root": str(root), **TINY, **extra}))
    return str(path)


def _run(capsys, *argv):
    code = train.main([*argv, "--workers", "0", "--no-progress", "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_train_evaluate_and_the_evaluator_agree(tmp_path, files, capsys):
    cfg = _config(tmp_path / "c.yaml", files)
    code, out, err = _run(capsys, "--config", cfg, "-c", str(tmp_path / "ck"))
    assert code == 0, err
    assert "e1 " in out and (tmp_path / "ck" / "best_epoch.bin").is_file()
    assert set(json.loads((tmp_path / "ck" / "best_epoch_results.json").read_text())) >= {"pooled", "epoch"}

    code, out, err = _run(capsys, "--config", cfg, "--evaluate", str(tmp_path / "ck" / "best_epoch.bin"),
                          "-c", str(tmp_path / "eval"))
    assert code == 0, err
    assert "legacy_weighted" in out and "TS6" in out
    preds = np.load(tmp_path / "eval" / "best_epoch_predictions.npz")
    assert sorted(preds.files) == list(TEST_SEQUENCES)
    assert preds["TS1"].ndim == 3 and preds["TS1"].shape[1:] == (17, 3)
    np.testing.assert_allclose(preds["TS1"][:, 14], 0.0)  # relative to the pelvis
    saved = json.loads((tmp_path / "eval" / "best_epoch_results.json").read_text())
    assert saved["checkpoint"].endswith("best_epoch.bin")
    assert eval_3dhp.main(["--gt", str(files / "data_test_3dhp.npz"),
                           "--pred", str(tmp_path / "eval" / "best_epoch_predictions.npz"),
                           "--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    for key in ("pooled", "sequence_mean", "legacy_weighted"):
        assert saved[key] == pytest.approx(again[key])
    for name in TEST_SEQUENCES:
        assert saved["per_sequence"][name] == pytest.approx(again["per_sequence"][name])
    # the run's own evaluation of its best epoch (written while training) gives the same numbers
    during_training = json.loads((tmp_path / "ck" / "best_epoch_results.json").read_text())
    for key in ("pooled", "sequence_mean", "legacy_weighted"):
        assert saved[key] == pytest.approx(during_training[key], rel=1e-6)


def test_cross_dataset_evaluation_of_a_human36m_model(tmp_path, files, capsys):
    cfg_h36m = {k: v for k, v in TINY.items()}
    torch.manual_seed(0)
    model = build_model(cfg_h36m)  # Human3.6M joints and parents
    ckpt = tmp_path / "h36m.bin"
    save_checkpoint(ckpt, {"epoch": 1, "lr": 0.0, "optimizer": None, "min_loss": 1.0,
                           "model_pos": {f"module.{k}": v for k, v in model.state_dict().items()}})
    cfg = _config(tmp_path / "c.yaml", files, trained_on="h36m")
    code, out, err = _run(capsys, "--config", cfg, "--evaluate", str(ckpt), "-c", str(tmp_path / "eval"))
    assert code == 0, err
    preds = np.load(tmp_path / "eval" / "h36m_predictions.npz")
    assert sorted(preds.files) == list(TEST_SEQUENCES) and np.isfinite(preds["TS5"]).all()
    assert model.line_pose_graph.parents == H36M_PARENTS
    # training in that mode is refused
    code, _, err = _run(capsys, "--config", cfg, "-c", str(tmp_path / "no"))
    assert code == 2 and "trained_on: h36m evaluates a Human3.6M model" in err


@pytest.mark.parametrize("extra, needle", [
    ({"dataset": "3dhp"}, "dataset must be one of h36m, mpi_inf_3dhp"),
    ({"noise": True}, "noise is not supported with dataset: mpi_inf_3dhp"),
    ({"rootrel": False}, "needs rootrel: true"),
])
def test_bad_dataset_config_is_one_line(tmp_path, files, capsys, extra, needle):
    code, _, err = _run(capsys, "--config", _config(tmp_path / "c.yaml", files, **extra), "-c", str(tmp_path))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err


def test_missing_files_name_the_path_and_the_generator(tmp_path, capsys):
    code, _, err = _run(capsys, "--config", _config(tmp_path / "c.yaml", tmp_path / "none"), "-c", str(tmp_path))
    assert code == 2 and "data_train_3dhp.npz not found" in err and "make_synthetic_3dhp.py" in err
