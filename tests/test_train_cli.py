"""train.py's command line: config validation and every bad-input path (one line, exit code 2)."""

import os
import pickle
import subprocess
import sys

import pytest
import torch

import train
from lib.utils.config import ConfigError, load_config, parse_override
from lib.utils.safe_pickle import load_pickle
from tests._train_data import one_thread, write_config, write_tiny_h36m  # noqa: F401
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return root, write_tiny_h36m(root)


def _run(capsys, *argv):
    code = train.main([*argv, "--workers", "0", "--no-progress", "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *needles):
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


# -------------------------------------------------------------------------------------- config validation


def test_config_defaults_and_losses(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\n")
    cfg = load_config(path)
    assert cfg.epochs == 3 and cfg.dt_root == "data/motion3d"
    assert (cfg.lambda_3d_velocity, cfg.lambda_scale, cfg.lambda_lv, cfg.lambda_lg, cfg.lambda_a,
            cfg.lambda_av) == (20, 0.5, 0, 0, 0, 0)
    assert load_config(REPO_ROOT / "configs" / "MB_train_h36m.yaml").dim_feat == 512
    assert load_config(REPO_ROOT / "configs" / "quickstart.yaml").clip_len == 27


def test_config_unknown_key_and_wrong_type_name_key_and_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("learning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml.*'learning_rat'"):
        load_config(path)
    path.write_text("epochs: ten\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml.*'epochs'"):
        load_config(path)
    path.write_text("flip: 1\n")
    with pytest.raises(ConfigError, match="'flip'"):
        load_config(path)


def test_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\n")
    cfg = load_config(path, ["learning_rate=1e-3", "flip=false", "subset_list=[A, B]"])
    assert cfg.learning_rate == pytest.approx(1e-3) and cfg.flip is False and cfg.subset_list == ["A", "B"]
    assert parse_override("epochs=4") == ("epochs", 4)
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        load_config(path, ["epoch=4"])


# ------------------------------------------------------------------------------------------- bad input


def test_config_typo_exits_2(capsys, tmp_path, tiny):
    _, keys = tiny
    cfg = write_config(tmp_path / "c.yaml", keys, lamda_scale=0.5)
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(tmp_path / "ck"))
    _one_line_error(code, err, "lamda_scale", "c.yaml")
    assert not (tmp_path / "ck").exists()


def test_missing_clip_folder_exits_2(capsys, tmp_path, tiny):
    _, keys = tiny
    cfg = write_config(tmp_path / "c.yaml", {**keys, "data_root": str(tmp_path / "nowhere")})
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(tmp_path / "ck"))
    _one_line_error(code, err, "clip folder not found", "nowhere")
    assert not (tmp_path / "ck").exists()


def test_missing_pickle_exits_2(capsys, tmp_path, tiny):
    _, keys = tiny
    cfg = write_config(tmp_path / "c.yaml", {**keys, "dt_file": "absent.pkl"})
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(tmp_path / "ck"))
    _one_line_error(code, err, "absent.pkl")


def test_empty_dataset_exits_2(capsys, tmp_path, tiny):
    _, keys = tiny
    empty = tmp_path / "clips"
    for split in ("train", "test"):
        (empty / "H36M-TINY" / split).mkdir(parents=True)
    cfg = write_config(tmp_path / "c.yaml", {**keys, "data_root": str(empty)})
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(tmp_path / "ck"))
    _one_line_error(code, err, "no clips", str(empty / "H36M-TINY"))


def test_training_clips_of_another_length_exit_2_evaluation_cuts_its_own(capsys, tmp_path, tiny):
    _, keys = tiny
    cfg = write_config(tmp_path / "c.yaml", {**keys, "clip_len": 6, "maxlen": 6})
    code, _, err = _run(capsys, "--config", str(cfg), "-e", str(tmp_path / "x.bin"))
    # the checkpoint is looked at first
    _one_line_error(code, err, "x.bin")
    from lib.model import build_model

    model = build_model(load_config(cfg))
    torch.save({"model_pos": model.state_dict()}, tmp_path / "x.bin")
    # evaluation cuts the test split from the pickle at the config's clip_len: no clip folder is involved
    code, out, err = _run(capsys, "--config", str(cfg), "-e", str(tmp_path / "x.bin"), "-c", str(tmp_path / "ev"))
    assert code == 0, err
    assert "Protocol #1 Error (MPJPE)" in out
    # training reads the clip folders, which were cut at another length
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(tmp_path / "ck"))
    _one_line_error(code, err, "have 8 frames but clip_len=6", "--clip-len 6")


def test_checkpoint_of_another_size_exits_2(capsys, tmp_path, tiny):
    _, keys = tiny
    from lib.model import build_model

    big = load_config(write_config(tmp_path / "big.yaml", keys, dim_feat=32))
    path = tmp_path / "big.bin"
    torch.save({"model_pos": {f"module.{k}": v for k, v in build_model(big).state_dict().items()}}, path)
    before = path.read_bytes()
    cfg = write_config(tmp_path / "c.yaml", keys)
    code, _, err = _run(capsys, "--config", str(cfg), "-e", str(path))
    _one_line_error(code, err, "big.bin", "wrong shape")
    assert path.read_bytes() == before
    assert not (tmp_path / "big_results.json").exists()
    # and as a resume file of a training run
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(tmp_path / "ck"), "-r", str(path))
    _one_line_error(code, err, "big.bin")
    assert not (tmp_path / "ck" / "latest_epoch.bin").exists()


def _rewrite_clips(folder, change):
    for name in sorted(os.listdir(folder)):
        clip = load_pickle(os.path.join(folder, name))
        change(clip)
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(clip, f)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(capsys, tmp_path):
    keys = write_tiny_h36m(tmp_path / "d")
    ck = tmp_path / "ck"
    cfg = write_config(tmp_path / "c.yaml", keys, epochs=1)
    code, _, _ = _run(capsys, "--config", str(cfg), "-c", str(ck))
    assert code == 0
    good = (ck / "latest_epoch.bin").read_bytes()
    # finite labels whose squares overflow float32 (the dataset refuses NaN itself), then a second epoch
    folder = os.path.join(keys["data_root"], "H36M-TINY", "train")
    def overflow(clip):
        clip["data_label"][:, 1:] = 3e38

    _rewrite_clips(folder, overflow)
    code, _, err = _run(capsys, "--config", str(cfg), "-c", str(ck), "epochs=2")
    _one_line_error(code, err, "loss is inf", "epoch 2, step 1", "last good checkpoint")
    assert (ck / "latest_epoch.bin").read_bytes() == good
    assert not (ck / "epoch_1.bin").exists()


@pytest.mark.parametrize("workers", ["0", "1"])
def test_nan_clip_exits_2_naming_the_clip(capsys, tmp_path, workers):
    keys = write_tiny_h36m(tmp_path / "d")
    folder = os.path.join(keys["data_root"], "H36M-TINY", "train")
    def poison(clip):
        clip["data_input"][3, 5, 0] = float("nan")

    _rewrite_clips(folder, poison)
    cfg = write_config(tmp_path / "c.yaml", keys, epochs=1)
    code = train.main(["--config", str(cfg), "-c", str(tmp_path / "ck"), "--workers", workers, "--no-progress",
                       "--device", "cpu"])
    _, err = capsys.readouterr()
    _one_line_error(code, err, "H36M-TINY/train/0000", ".pkl: 'data_input' is nan at frame 3, joint 5")
    assert not (tmp_path / "ck" / "latest_epoch.bin").exists()


@pytest.mark.slow
def test_help_and_bad_config_in_a_subprocess(tmp_path):
    root = REPO_ROOT
    done = subprocess.run([sys.executable, "train.py", "--help"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0
    for flag in ("--config", "--checkpoint", "--pretrained", "--selection", "--resume", "--evaluate",
                 "--seed", "--device", "--amp", "--workers", "key=value"):
        assert flag in done.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 2\nbatchsize: 3\n")
    done = subprocess.run([sys.executable, "train.py", "--config", str(bad)], cwd=root, capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "batchsize" in done.stderr and "Traceback" not in done.stderr
