"""Experiment configuration: load a YAML file, fill defaults, validate, apply ``key=value`` overrides.

The YAML file is the whole experiment (MotionBERT's convention). Every key the project understands is
listed in :data:`CONFIG_SCHEMA` with its type, default and allowed range (the model keys' defaults are
the released model, :data:`lib.utils.released_model.RELEASED_SCT`). An unknown key, a value of the wrong
type or outside its range is a :class:`ConfigError` naming the key, the value, what is allowed and the
file, raised when the config is loaded (before any data is read). Keys of MotionBERT's configs that this
project does not implement are listed in :data:`RETIRED_KEYS`: their "off" value is accepted with a
warning, any other value is an error.
"""

from __future__ import annotations

import ast
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from easydict import EasyDict

from .released_model import RELEASED_SCT

_log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration file or override that cannot be used."""


@dataclass(frozen=True)
class Range:
    """An interval of finite numbers; ``lo``/``hi`` ``None`` is unbounded. NaN and inf are outside every
    range."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        below = self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)
        return bool(above and below and math.isfinite(value))

    def __str__(self) -> str:
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {self.lo:g}"
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"


COUNT = Range(1)
POSITIVE = Range(0, lo_open=True)
NON_NEGATIVE = Range(0)
PROBABILITY = Range(0, 1, hi_open=True)  # [0, 1): dropout, masking
FRACTION = Range(0, 1, lo_open=True)  # (0, 1]: a share that cannot be zero

# Bounds on what would exhaust memory or time, checked when the config is loaded (before anything is built).
# Single keys are capped in CONFIG_SCHEMA; these limits catch combinations of keys (see _check_footprint).
MAX_FRAMES = 10_000  # clip_len, maxlen: temporal attention grows with the square of the frame count
MAX_PARAMETERS = 1_000_000_000  # the released SCT has 42.5 million (4 GB of float32 weights, x4 with Adam)
MAX_ACTIVATION_VALUES = 2**31  # one training batch's hidden features, or its temporal attention maps (8 GiB each)


@dataclass(frozen=True)
class Key:
    """One config key: the accepted types, the default (used when the key is absent) and, for numbers,
    the allowed range (``None``: any value of the type)."""

    types: tuple[type, ...]
    default: Any
    allowed: Range | None = None


_NUM = (int, float)
_LIST = (list, tuple)
_NONE = type(None)
_MODEL = RELEASED_SCT

CONFIG_SCHEMA: dict[str, Key] = {
    # training
    "epochs": Key((int,), 90, Range(1, 100_000)),
    "checkpoint_frequency": Key((int,), 30, COUNT),
    "batch_size": Key((int,), 16, Range(1, 65_536)),
    "learning_rate": Key(_NUM, 0.0002, POSITIVE),
    "weight_decay": Key(_NUM, 0.01, NON_NEGATIVE),
    "lr_decay": Key(_NUM, 0.99, FRACTION),
    "dropout": Key(_NUM, 0.0, PROBABILITY),
    "drop_path": Key(_NUM, 0.0, PROBABILITY),
    "finetune": Key((bool,), False),
    "no_eval": Key((bool,), False),
    # data
    # h36m (clip folders + the Human3.6M pickle) or mpi_inf_3dhp (dt_root holds data_train_3dhp.npz and
    # data_test_3dhp.npz); trained_on: the dataset the model's joints come from when it differs (null: same)
    "dataset": Key((str,), "h36m"),
    "trained_on": Key((_NONE, str), None),
    "data_root": Key((str,), "data/motion3d/MB3D_f243s81/"),
    "dt_root": Key((str,), "data/motion3d"),
    "dt_file": Key((str,), "h36m_sh_conf_cam_source_final.pkl"),
    "subset_list": Key(_LIST, ["H36M-SH"]),
    "clip_len": Key((int,), 243, Range(1, MAX_FRAMES)),
    "data_stride": Key((int,), 81, COUNT),
    "rootrel": Key((bool,), True),
    "sample_stride": Key((int,), 1, COUNT),
    "num_joints": Key((int,), _MODEL.num_joints, Range(1, 1000)),
    "no_conf": Key((bool,), False),
    "gt_2d": Key((bool,), False),
    # losses
    "lambda_3d_velocity": Key(_NUM, 20.0, NON_NEGATIVE),
    "lambda_scale": Key(_NUM, 0.5, NON_NEGATIVE),
    "lambda_lv": Key(_NUM, 0.0, NON_NEGATIVE),
    "lambda_lg": Key(_NUM, 0.0, NON_NEGATIVE),
    "lambda_a": Key(_NUM, 0.0, NON_NEGATIVE),
    "lambda_av": Key(_NUM, 0.0, NON_NEGATIVE),
    # augmentation
    "synthetic": Key((bool,), False),
    "flip": Key((bool,), True),
    "mask_ratio": Key(_NUM, 0.0, PROBABILITY),
    "mask_T_ratio": Key(_NUM, 0.0, PROBABILITY),
    "noise": Key((bool,), False),
    # model
    "backbone": Key((str,), "SCT"),
    "maxlen": Key((int,), _MODEL.maxlen, Range(1, MAX_FRAMES)),
    "dim_feat": Key((int,), _MODEL.dim_feat, Range(1, 8192)),
    "mlp_ratio": Key(_NUM, _MODEL.mlp_ratio, Range(0, 64, lo_open=True)),
    "depth": Key((int,), _MODEL.depth, Range(1, 256)),
    "dim_rep": Key((int,), _MODEL.dim_rep, Range(1, 8192)),
    "num_heads": Key((int,), _MODEL.num_heads, Range(1, 1024)),
    "att_fuse": Key((bool,), _MODEL.att_fuse),
    "line_pose_graph": Key((bool,), True),  # SCT only; false feeds the plain 3-channel input (an ablation)
    # absent/null: the backbone's own default (SCT: the released ratio in every layer; DSTformer: none)
    "dct_ratio": Key((_NONE, int, float), None, FRACTION),
    "freq_prune_layer": Key((_NONE, list, tuple), None),
}

# MotionBERT's keys for features this project does not implement: key -> (the "off" value, what it asks for).
RETIRED_KEYS: dict[str, tuple[Any, str]] = {
    "train_2d": (False, "2D training on PoseTrack/InstaVariety"),
    "partial_train": (None, "training only part of the network"),
    "noise_path": (None, "MotionBERT's fitted 2D noise model (the 'noise' switch draws its own noise)"),
    "d2c_params_path": (None, "MotionBERT's detection-to-confidence model"),
}


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # YAML's true/false must not pass as a number
    return isinstance(value, types)


def _type_names(types: Iterable[type]) -> str:
    names = {_NONE: "null", list: "list", tuple: "list"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _drop_retired(cfg: dict[str, Any], source: str) -> None:
    """Remove the retired keys from ``cfg``: a warning for the "off" value, a ConfigError for any other."""
    for key in [k for k in cfg if k in RETIRED_KEYS]:
        off, feature = RETIRED_KEYS[key]
        value = cfg.pop(key)
        if value != off or type(value) is not type(off):
            raise ConfigError(f"{source}: key '{key}' is {value!r}, which asks for {feature}; this project does "
                              f"not implement it: remove the key (or set it to {yaml.safe_dump(off).split()[0]})")
        _log.warning("%s: key '%s' is not used by this project (%s is not implemented) and is ignored; "
                     "remove it", source, key, feature)


def _check_value(key: str, value: Any, source: str) -> None:
    spec = CONFIG_SCHEMA[key]
    if not _type_ok(value, spec.types):
        raise ConfigError(f"{source}: key '{key}' must be {_type_names(spec.types)}, got {type(value).__name__} "
                          f"{value!r}")
    if spec.allowed is not None and value is not None and value not in spec.allowed:
        kind = "an integer" if spec.types == (int,) else "a finite number"
        null = " or null" if _NONE in spec.types else ""
        raise ConfigError(f"{source}: key '{key}' is {value!r}; allowed: {kind} {spec.allowed}{null}")


def _check_relations(cfg: Mapping[str, Any], source: str) -> None:
    """Checks that involve more than one key (after defaults are filled)."""
    if cfg["dim_feat"] % cfg["num_heads"]:
        raise ConfigError(f"{source}: key 'dim_feat' is {cfg['dim_feat']}, which 'num_heads' = {cfg['num_heads']} "
                          f"does not divide; allowed: a multiple of num_heads")
    subsets = cfg["subset_list"]
    if not subsets or not all(isinstance(s, str) and s for s in subsets):
        raise ConfigError(f"{source}: key 'subset_list' is {subsets!r}; allowed: a non-empty list of clip "
                          f"folder names (e.g. [H36M-SH])")
    layers = cfg["freq_prune_layer"]
    depth = cfg["depth"]
    if layers is not None:
        bad = [i for i in layers if not _type_ok(i, (int,)) or not 0 <= i < depth]
        if bad:
            raise ConfigError(f"{source}: key 'freq_prune_layer' is {list(layers)!r}; allowed: layer indices "
                              f"from 0 to depth - 1 = {depth - 1} (or null)")


def estimated_parameters(cfg: Mapping[str, Any]) -> int:
    """The model's parameter count estimated from the config alone (within 10 % of the built SCT and DSTformer
    for the shipped configs): ``depth`` dual-stream layers of two attention+MLP blocks per stream, each
    ``(4 + 2 * mlp_ratio) * dim_feat**2``, plus the embeddings and the representation head."""
    d = cfg["dim_feat"]
    blocks = cfg["depth"] * 4 * (4 + 2 * cfg["mlp_ratio"]) * d * d
    return int(blocks + (cfg["maxlen"] + cfg["num_joints"] + cfg["dim_rep"] + 16) * d + cfg["dim_rep"] * 4)


def _check_footprint(cfg: Mapping[str, Any], source: str) -> None:
    """Refuse sizes whose model or training batch would not fit in memory (:data:`MAX_PARAMETERS`,
    :data:`MAX_ACTIVATION_VALUES`), naming the keys to lower."""
    params = estimated_parameters(cfg)
    if params > MAX_PARAMETERS:
        raise ConfigError(f"{source}: dim_feat={cfg['dim_feat']}, depth={cfg['depth']}, mlp_ratio={cfg['mlp_ratio']} "
                          f"make a model of about {params / 1e6:,.0f} million parameters; allowed: at most "
                          f"{MAX_PARAMETERS / 1e6:,.0f} million (the released SCT has 42.5): lower these keys")
    hidden = cfg["batch_size"] * cfg["clip_len"] * cfg["num_joints"] * cfg["dim_feat"]
    attention = cfg["batch_size"] * cfg["num_heads"] * cfg["num_joints"] * cfg["clip_len"] ** 2
    for what, values, keys in (("hidden features", hidden, "batch_size, clip_len or dim_feat"),
                               ("temporal attention maps", attention, "batch_size, clip_len or num_heads")):
        if values > MAX_ACTIVATION_VALUES:
            raise ConfigError(
                f"{source}: batch_size={cfg['batch_size']}, clip_len={cfg['clip_len']}, num_joints={cfg['num_joints']},"
                f" dim_feat={cfg['dim_feat']}, num_heads={cfg['num_heads']} give one batch {values:,} values of "
                f"{what} per layer; allowed: at most {MAX_ACTIVATION_VALUES:,} (8 GiB in float32): lower {keys}")


def validate_config(cfg: Mapping[str, Any], source: str = "<config>") -> EasyDict:
    """Check keys, types and ranges against :data:`CONFIG_SCHEMA` (and :data:`RETIRED_KEYS`), fill
    defaults, and return an EasyDict."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{source}: expected a mapping of key: value at the top level, got {type(cfg).__name__}")
    given = dict(cfg)
    _drop_retired(given, source)
    for key, value in given.items():
        if key not in CONFIG_SCHEMA:
            raise ConfigError(f"{source}: unknown key {key!r} (known keys: see lib/utils/config.py)")
        _check_value(key, value, source)
    merged = {key: spec.default for key, spec in CONFIG_SCHEMA.items()}
    merged.update(given)
    for key in ("subset_list", "freq_prune_layer"):
        if merged[key] is not None:
            merged[key] = list(merged[key])
    _check_relations(merged, source)
    _check_footprint(merged, source)
    return EasyDict(merged)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``key=value`` override; the value is read as YAML (``lr=1e-3``, ``flip=false``)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise ConfigError(f"override {text!r}: cannot read value {raw!r}") from exc
    types = CONFIG_SCHEMA[key].types if key in CONFIG_SCHEMA else ()
    if isinstance(value, str) and str not in types:  # YAML 1.1 reads '1e-3' as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, int) and not isinstance(value, bool):
        if float in types and int not in types:
            value = float(value)
    return key, value


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line error as one line: where (line, column) and what."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = " ".join(str(getattr(exc, "problem", None) or exc).split())
    return f"{where}not valid YAML ({what})"


def load_config(path: str | os.PathLike, overrides: Iterable[str] = ()) -> EasyDict:
    """Read a YAML config, apply ``key=value`` overrides, validate (types and ranges), and fill defaults."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: line {line}: byte {exc.start} is not UTF-8 text ({exc.reason}); expected a YAML "
                          "file saved as UTF-8") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {_yaml_error_text(exc)}; expected a YAML mapping of key: value lines") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read; expected a flat YAML mapping of key: value") from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value at the top level")
    raw = dict(raw)
    for text in overrides:
        key, value = parse_override(text)
        if key not in CONFIG_SCHEMA and key not in RETIRED_KEYS:
            raise ConfigError(f"override {text!r}: unknown key {key!r}")
        raw[key] = value
    return validate_config(raw, source=path)
