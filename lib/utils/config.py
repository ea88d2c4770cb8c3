"""Experiment configuration: load a YAML file, fill defaults, validate, apply ``key=value`` overrides.

The YAML file is the whole experiment (MotionBERT's convention). Every key the project understands is
listed in :data:`CONFIG_SCHEMA` with its type and default; an unknown key or a value of the wrong type is
a :class:`ConfigError` that names the key and the file.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from easydict import EasyDict


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


_NUM = (int, float)
_LIST = (list, tuple)

# key: (accepted types, default). A default of ``None`` with types that exclude ``NoneType`` means the key
# must be given; see REQUIRED_KEYS.
CONFIG_SCHEMA: dict[str, tuple[tuple[type, ...], Any]] = {
    # training
    "epochs": ((int,), 90),
    "checkpoint_frequency": ((int,), 30),
    "batch_size": ((int,), 16),
    "learning_rate": (_NUM, 0.0002),
    "weight_decay": (_NUM, 0.01),
    "lr_decay": (_NUM, 0.99),
    "dropout": (_NUM, 0.0),
    "drop_path": (_NUM, 0.0),
    "finetune": ((bool,), False),
    "partial_train": ((type(None), str), None),
    "train_2d": ((bool,), False),
    "no_eval": ((bool,), False),
    # data
    # h36m (clip folders + the Human3.6M pickle) or mpi_inf_3dhp (dt_root holds data_train_3dhp.npz and
    # data_test_3dhp.npz); trained_on: the dataset the model's joints come from when it differs (null: same)
    "dataset": ((str,), "h36m"),
    "trained_on": ((type(None), str), None),
    "data_root": ((str,), "data/motion3d/MB3D_f243s81/"),
    "dt_root": ((str,), "data/motion3d"),
    "dt_file": ((str,), "h36m_sh_conf_cam_source_final.pkl"),
    "subset_list": (_LIST, ["H36M-SH"]),
    "clip_len": ((int,), 243),
    "data_stride": ((int,), 81),
    "rootrel": ((bool,), True),
    "sample_stride": ((int,), 1),
    "num_joints": ((int,), 17),
    "no_conf": ((bool,), False),
    "gt_2d": ((bool,), False),
    # losses
    "lambda_3d_velocity": (_NUM, 20.0),
    "lambda_scale": (_NUM, 0.5),
    "lambda_lv": (_NUM, 0.0),
    "lambda_lg": (_NUM, 0.0),
    "lambda_a": (_NUM, 0.0),
    "lambda_av": (_NUM, 0.0),
    # augmentation
    "synthetic": ((bool,), False),
    "flip": ((bool,), True),
    "mask_ratio": (_NUM, 0.0),
    "mask_T_ratio": (_NUM, 0.0),
    "noise": ((bool,), False),
    "noise_path": ((type(None), str), None),
    "d2c_params_path": ((type(None), str), None),
    # model
    "backbone": ((str,), "SCT"),
    "maxlen": ((int,), 243),
    "dim_feat": ((int,), 512),
    "mlp_ratio": (_NUM, 2),
    "depth": ((int,), 5),
    "dim_rep": ((int,), 512),
    "num_heads": ((int,), 8),
    "att_fuse": ((bool,), True),
    # absent/null: the backbone's own default (SCT: the released 0.6 in every layer; DSTformer: none)
    "dct_ratio": ((type(None), int, float), None),
    "freq_prune_layer": ((type(None), list, tuple), None),
}


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # YAML's true/false must not pass as a number
    return isinstance(value, types)


def _type_names(types: Iterable[type]) -> str:
    names = {type(None): "null", list: "list", tuple: "list"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def validate_config(cfg: Mapping[str, Any], source: str = "<config>") -> EasyDict:
    """Check keys and types against :data:`CONFIG_SCHEMA`, fill defaults, and return an EasyDict."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{source}: expected a mapping of key: value at the top level, got {type(cfg).__name__}")
    for key, value in cfg.items():
        if key not in CONFIG_SCHEMA:
            raise ConfigError(f"{source}: unknown key '{key}' (known keys: see lib/utils/config.py)")
        types, _ = CONFIG_SCHEMA[key]
        if not _type_ok(value, types):
            raise ConfigError(
                f"{source}: key '{key}' must be {_type_names(types)}, got {type(value).__name__} {value!r}"
            )
    merged = {key: default for key, (_, default) in CONFIG_SCHEMA.items()}
    merged.update(cfg)
    for key in ("subset_list", "freq_prune_layer"):
        if merged[key] is not None:
            merged[key] = list(merged[key])
    return EasyDict(merged)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``key=value`` override; the value is read as YAML (``lr=1e-3``, ``flip=false``)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise ConfigError(f"override '{text}': cannot read value {raw!r}") from exc
    types, _ = CONFIG_SCHEMA.get(key, ((), None))
    if isinstance(value, str) and str not in types:  # YAML 1.1 reads '1e-3' as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, int) and not isinstance(value, bool):
        if float in types and int not in types:
            value = float(value)
    return key, value


def load_config(path: str | os.PathLike, overrides: Iterable[str] = ()) -> EasyDict:
    """Read a YAML config, apply ``key=value`` overrides, validate, and fill defaults."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value at the top level")
    raw = dict(raw)
    for text in overrides:
        key, value = parse_override(text)
        if key not in CONFIG_SCHEMA:
            raise ConfigError(f"override '{text}': unknown key '{key}'")
        raw[key] = value
    return validate_config(raw, source=path)
