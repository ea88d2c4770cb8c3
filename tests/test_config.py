"""The config: one source for the released model, range checks at load time, retired MotionBERT keys."""

from __future__ import annotations

import logging

import pytest
import torch
import yaml

import train
from lib.engine.trainer import TrainOptions
from lib.model import SCTformer, build_model
from lib.utils.config import CONFIG_SCHEMA, RETIRED_KEYS, ConfigError, load_config
from lib.utils.released_model import RELEASED_SCT
from tests.conftest import REPO_ROOT, read_key_manifest

RELEASED_YAML = REPO_ROOT / "configs" / "MB_train_h36m.yaml"


def _load(tmp_path, text: str, overrides=()):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_config(path, overrides)


# ------------------------------------------------------------------------------------ one source of truth


def test_released_yaml_spells_out_the_defaults():
    released = load_config(RELEASED_YAML)
    for key, value in RELEASED_SCT.as_config().items():
        assert released[key] == value, key
    written = yaml.safe_load(RELEASED_YAML.read_text())
    for key, value in written.items():
        default = CONFIG_SCHEMA[key].default
        if default is not None:  # dct_ratio / freq_prune_layer: null default = the released values above
            assert value == default, key


def test_an_empty_config_builds_the_released_model(tmp_path):
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        empty = build_model(_load(tmp_path, "{}\n"))
        default = SCTformer()
    assert isinstance(empty, SCTformer)
    assert empty.compress_ratios == [0.6] * 5  # the paper's sigma in all five layers
    # the parameter names and shapes of the released checkpoint (its manifest, tests/data/reference)
    released = read_key_manifest("sct_released_checkpoint_keys.tsv")
    for model in (empty, default):
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == released


# ------------------------------------------------------------------------------------------- range checks


@pytest.mark.parametrize("text, message", [
    ("epochs: -3", "key 'epochs' is -3; allowed: an integer [1, 100000]"),
    ("epochs: 0", "key 'epochs' is 0; allowed: an integer [1, 100000]"),
    ("batch_size: 0", "key 'batch_size' is 0; allowed: an integer [1, 65536]"),
    ("clip_len: 0", "key 'clip_len' is 0; allowed: an integer [1, 10000]"),
    ("depth: 0", "key 'depth' is 0; allowed: an integer [1, 256]"),
    ("num_heads: -1", "key 'num_heads' is -1; allowed: an integer [1, 1024]"),
    ("data_stride: 0", "key 'data_stride' is 0; allowed: an integer >= 1"),
    ("checkpoint_frequency: 0", "key 'checkpoint_frequency' is 0"),
    ("learning_rate: 0", "key 'learning_rate' is 0; allowed: a finite number > 0"),
    ("learning_rate: .nan", "key 'learning_rate' is nan; allowed: a finite number > 0"),
    ("learning_rate: .inf", "key 'learning_rate' is inf"),
    ("dropout: 1.0", "key 'dropout' is 1.0; allowed: a finite number [0, 1)"),
    ("drop_path: -0.1", "key 'drop_path' is -0.1; allowed: a finite number [0, 1)"),
    ("mask_ratio: 1", "key 'mask_ratio' is 1; allowed: a finite number [0, 1)"),
    ("lr_decay: 0", "key 'lr_decay' is 0; allowed: a finite number (0, 1]"),
    ("weight_decay: -0.01", "key 'weight_decay' is -0.01; allowed: a finite number >= 0"),
    ("lambda_scale: -1", "key 'lambda_scale' is -1; allowed: a finite number >= 0"),
    ("dct_ratio: 0", "key 'dct_ratio' is 0; allowed: a finite number (0, 1] or null"),
    ("dct_ratio: 1.5", "key 'dct_ratio' is 1.5; allowed: a finite number (0, 1] or null"),
    ("freq_prune_layer: [0, 5]", "key 'freq_prune_layer' is [0, 5]; allowed: layer indices from 0 to depth - 1 = 4"),
    ("{depth: 2, freq_prune_layer: [-1]}", "from 0 to depth - 1 = 1"),
    ("freq_prune_layer: [0, true]", "key 'freq_prune_layer'"),
    ("{dim_feat: 30, num_heads: 8}", "key 'dim_feat' is 30, which 'num_heads' = 8 does not divide"),
    ("subset_list: []", "key 'subset_list' is []; allowed: a non-empty list"),
])
def test_out_of_range_values_name_key_value_and_range(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text + "\n")
    assert message in str(err.value) and "c.yaml" in str(err.value) and "\n" not in str(err.value)


def test_range_edges_are_accepted(tmp_path):
    cfg = _load(tmp_path, "epochs: 1\nbatch_size: 1\ndropout: 0.0\nlr_decay: 1.0\ndct_ratio: 1.0\nmask_ratio: 0.99\n"
                          "freq_prune_layer: []\ndim_feat: 24\nnum_heads: 3\nclip_len: 243\nweight_decay: 0\n")
    assert (cfg.epochs, cfg.dct_ratio, cfg.freq_prune_layer, cfg.dim_feat) == (1, 1.0, [], 24)


def test_training_refuses_clips_longer_than_the_model_takes(capsys, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(f"maxlen: 27\ndata_root: {tmp_path / 'none'}\n")
    assert load_config(path).clip_len == 243  # fine for inference-only users of the config (the demo)
    code = train.main(["--config", str(path), "-c", str(tmp_path / "ck"), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"error: {path}: key 'clip_len' is 243; allowed: at most maxlen = 27 (the longest " \
                                "input the model takes)"


def test_overrides_are_range_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'epochs' is -3; allowed: an integer \[1, 100000\]"):
        _load(tmp_path, "epochs: 3\n", ["epochs=-3"])


def test_cli_refuses_a_bad_value_before_reading_data(capsys, tmp_path):
    # the data folders do not exist: the config error comes first, in one line, exit 2
    path = tmp_path / "c.yaml"
    path.write_text(f"data_root: {tmp_path / 'none'}\ndt_root: {tmp_path / 'none'}\n")
    code = train.main(["--config", str(path), "-c", str(tmp_path / "ck"), "epochs=-3", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err.startswith("error: ") and "'epochs' is -3" in err and "[1, 100000]" in err
    assert not (tmp_path / "ck").exists()


# ------------------------------------------------------------------------------------------- retired keys


def test_motionbert_keys_switched_off_load_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="lib.utils.config"):
        cfg = _load(tmp_path, "train_2d: false\npartial_train: null\nnoise_path: null\nepochs: 2\n")
    assert cfg.epochs == 2 and not {"train_2d", "partial_train", "noise_path"} & set(cfg)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3
    assert all("c.yaml" in w and "is ignored" in w for w in warned)
    assert any("'train_2d'" in w and "2D training" in w for w in warned)


@pytest.mark.parametrize("text, overrides, message", [
    ("train_2d: true\n", [], "key 'train_2d' is True, which asks for 2D training"),
    ("partial_train: layers\n", [], "key 'partial_train' is 'layers'"),
    ("epochs: 2\n", ["noise_path=/data/noise.pth"], "key 'noise_path' is '/data/noise.pth'"),
    ("d2c_params_path: x.pkl\n", [], "(or set it to null)"),
    ("train_2d: 0\n", [], "(or set it to false)"),
])
def test_motionbert_keys_switched_on_are_errors(tmp_path, text, overrides, message):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text, overrides)
    assert message in str(err.value) and "not implement" in str(err.value)


def test_retired_keys_are_not_schema_keys():
    assert not set(RETIRED_KEYS) & set(CONFIG_SCHEMA)
    for path in (REPO_ROOT / "configs").glob("*.yaml"):
        assert not set(RETIRED_KEYS) & set(yaml.safe_load(path.read_text()) or {}), path.name


# --------------------------------------------------------------------------------------- train.py options


def test_train_options_come_from_the_parser():
    args = train.build_parser().parse_args(["--config", "x.yaml", "-c", "out", "--no-progress", "--amp", "bf16",
                                            "--workers", "3", "epochs=2"])
    opts = TrainOptions(**vars(args))
    assert (opts.config, opts.checkpoint, opts.progress, opts.amp, opts.workers, list(opts.overrides)) == \
        ("x.yaml", "out", False, "bf16", 3, ["epochs=2"])
    defaults = TrainOptions(**vars(train.build_parser().parse_args(["--config", "x.yaml"])))
    assert defaults == TrainOptions(config="x.yaml")
