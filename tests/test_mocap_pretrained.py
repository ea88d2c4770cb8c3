"""``tools/mocap_pretrained.py``: where ``--bvh`` is looked up and how a bad one is reported; the GPU
recipe of ``tools/reproduce_gpu.sh mocap``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tools import mocap_pretrained


class _Stop(Exception):
    pass


def test_missing_bvh_folder_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert mocap_pretrained.main(["--bvh", "no_such_corpus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: --bvh {tmp_path / 'no_such_corpus'} is not a folder")


def test_relative_bvh_is_taken_from_the_callers_folder(tmp_path, monkeypatch):
    """The tool changes into the repository; a relative --bvh still means the user's folder."""
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_prepare(cfg, bvh, seed):
        seen["bvh"] = bvh
        raise _Stop

    monkeypatch.setattr(mocap_pretrained, "prepare_data", fake_prepare)
    with pytest.raises(_Stop):
        mocap_pretrained.main(["--bvh", "corpus"])
    assert seen["bvh"] == str(tmp_path / "corpus")


def test_data_override_without_its_own_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    """Clips of another length must not land in (or be read from) the folder of the 81-frame clips."""
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mocap_pretrained, "prepare_data", lambda *a: pytest.fail("data prepared"))
    status = mocap_pretrained.main(["--bvh", "corpus", "--override", "data_stride=27"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: --override data_stride=27 changes the clips")
    assert "--override data_root=" in err[0]


def test_unknown_override_key_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mocap_pretrained, "prepare_data", lambda *a: pytest.fail("data prepared"))
    assert mocap_pretrained.main(["--bvh", "corpus", "--override", "dim_feet=96"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: override 'dim_feet=96': unknown key 'dim_feet'"]


def test_overrides_device_and_workers_reach_every_training_and_evaluation(tmp_path, monkeypatch):
    """One recipe for both models: each override goes to both trainings and both evaluations, after which
    the validation data keys of the training runs still win; --data-only stops after the data."""
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    prepared, calls = [], []
    monkeypatch.setattr(mocap_pretrained, "prepare_data", lambda cfg, bvh, seed: prepared.append(cfg.dim_feat))

    class _Result:
        p1 = p2 = mpjve = 1.0

    class _Run:
        result = _Result()

    def fake_run(opts):
        calls.append(opts)
        return _Run()

    import lib.engine.trainer as trainer
    monkeypatch.setattr(trainer, "run", fake_run)
    args = ["--bvh", str(tmp_path / "corpus"), "--override", "dim_feat=96", "--override", "epochs=3", "--device", "cpu",
            "--workers", "3", "--checkpoint-root", str(tmp_path / "ck")]
    assert mocap_pretrained.main([*args, "--data-only"]) == 0
    assert prepared == [96] and calls == []
    assert mocap_pretrained.main(args) == 0
    trainings = [c for c in calls if not c.evaluate]
    evaluations = [c for c in calls if c.evaluate]
    assert [c.config for c in trainings] == ["configs/mocap/sct.yaml", "configs/mocap/dstformer.yaml"]
    for c in trainings:
        assert c.overrides == ["dim_feat=96", "epochs=3", "dt_file=h36m_mocap_val.pkl",
                               "data_root=data/mocap/MB3D_f81s81_val/"]
    for c, name in zip(evaluations, ["sct", "dstformer"], strict=True):
        assert c.overrides == ["dim_feat=96", "epochs=3"]
        assert c.evaluate == str(tmp_path / "ck" / name / "best_epoch.bin")
        assert c.checkpoint == str(tmp_path / "ck" / name / "heldout")  # not over the validation's JSON
    assert {(c.device, c.workers) for c in calls} == {("cpu", 3)}


def _gpu_script_commands(tmp_path, **env):
    """Run ``tools/reproduce_gpu.sh mocap`` with a stand-in ``python`` that only prints its arguments;
    returns each model's training command as a list of words."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python").write_text('#!/bin/sh\necho "$*"\n')
    (fake / "python").chmod(0o755)
    out = tmp_path / "out"
    script = Path(__file__).resolve().parents[1] / "tools" / "reproduce_gpu.sh"
    environ = {k: v for k, v in os.environ.items() if k not in ("MOCAP_OVERRIDES", "SCT_OVERRIDES")}
    environ.update(PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", DEVICE="cpu", **env)
    subprocess.run(["bash", str(script), "mocap", str(out), "corpus"], env=environ, check=True,
                   capture_output=True, text=True)
    return {model: (out / f"{model}.log").read_text().split() for model in ("sct", "dstformer")}


def test_gpu_recipe_compresses_sct_only(tmp_path):
    """The pair shares recipe and size; sigma = 0.6 (chosen on the validation subjects) reaches SCT alone."""
    args = _gpu_script_commands(tmp_path)
    for model in ("sct", "dstformer"):
        assert args[model][args[model].index("--models") + 1] == model
        for key in ("dim_feat=96", "dim_rep=192", "epochs=30", "lr_decay=0.9"):
            assert key in args[model]
    assert "dct_ratio=0.6" in args["sct"]
    assert not any(a.startswith("dct_ratio") for a in args["dstformer"])


def test_gpu_recipe_sct_overrides_can_be_emptied(tmp_path):
    args = _gpu_script_commands(tmp_path, SCT_OVERRIDES="", MOCAP_OVERRIDES="epochs=2")
    assert "epochs=2" in args["sct"] and "dim_feat=96" not in args["sct"]
    assert not any(a.startswith("dct_ratio") for a in args["sct"])
