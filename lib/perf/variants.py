"""The rows of a benchmark: which models are timed, named by short keys.

A row is a :class:`Variant` (a key, a label and a model factory). Keys (:data:`VARIANT_KEY_HELP`):
``dstformer``, ``dstformer_sc<σ>``, ``sct``, ``sct_sigma<σ>``, an optional ``_layers<i>+<j>...`` suffix to
compress only some layers, and ``reference_sct`` (the plain :class:`lib.perf.reference_sct.ReferenceSCT`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..model import build_model
from ..utils.released_model import RELEASED_SCT
from .timing import PRECISIONS

RELEASED_MODEL = RELEASED_SCT.as_config()
"""The released model (``configs/MB_train_h36m.yaml``), used when no config is given; rows set their own
compression."""

@dataclass(frozen=True)
class Variant:
    """One benchmarked model.

    Attributes:
        key: short identifier (CSV, accuracy file).
        label: human-readable name for tables and figures.
        factory: builds the model (on the CPU, float32).
        note: what the row is.
        groups: tables the row appears in (``'efficiency'``: the comparison with DSTformer;
            ``'implementation'``: the comparison with the plain reference).
        precisions: precisions measured for this row (a subset of the run's precisions).
        plain: a deliberately unoptimised baseline; run-wide optimisations (``prepack_linear``) skip it.
        compile_mode: ``torch.compile``'s mode for this row (``None``: eager unless the whole run compiles).
    """

    key: str
    label: str
    factory: Callable[[], nn.Module]
    note: str = ""
    groups: tuple[str, ...] = ("efficiency",)
    precisions: tuple[str, ...] = PRECISIONS
    plain: bool = False
    compile_mode: str | None = None



def model_config(backbone: str, dct_ratio: float = 1.0, layers: Sequence[int] = (),
                 base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A model config (the released sizes unless ``base`` says otherwise) for :func:`lib.model.build_model`."""
    cfg = dict(RELEASED_MODEL if base is None else base)
    cfg.update(backbone=backbone, dct_ratio=float(dct_ratio), freq_prune_layer=list(layers))
    return cfg


VARIANT_KEY_HELP = (
    "dstformer (MotionBERT's backbone); dstformer_sc<σ> (SCT's spectral compression plugged into every "
    "layer, e.g. dstformer_sc0.6); sct (the released SCT, σ=0.6 in every layer); sct_sigma<σ> (SCT with "
    "another σ, e.g. sct_sigma0.45); a _layers<i>+<j>... suffix on the last two compresses only those layers "
    "(0-based, e.g. sct_sigma0.6_layers3+4); reference_sct (the plain reference implementation); an "
    "@compile or @cudagraphs suffix on any key times that model through torch.compile or CUDA graphs (e.g. "
    "sct@compile beside sct, to compare the inference paths in one run)")
COMPILED_PATHS = {"compile": "default", "cudagraphs": "reduce-overhead"}
"""Key suffixes (``@compile``, ``@cudagraphs``) and the ``torch.compile`` mode each stands for."""
_KEY_PATTERN = re.compile(r"^(?P<kind>dstformer_sc|sct_sigma)(?P<ratio>\d*\.?\d+)"
                          r"(?:_layers(?P<layers>\d+(?:\+\d+)*))?$")


def variant_from_key(key: str, base: Mapping[str, Any] | None = None,
                     reference_factory: Callable[[Mapping[str, Any]], nn.Module] | None = None) -> Variant:
    """The benchmark row named by ``key`` (grammar: :data:`VARIANT_KEY_HELP`), at the sizes of ``base``.

    Raises:
        ValueError: an unknown key, a ratio outside (0, 1], a layer index outside the model's depth, or
            ``reference_sct`` without a ``reference_factory``.
    """
    name, at, path = key.partition("@")
    if at:
        if path not in COMPILED_PATHS:
            raise ValueError(f"{key}: unknown inference path @{path}; use @{' or @'.join(COMPILED_PATHS)}")
        row = variant_from_key(name, base, reference_factory)
        return dataclasses.replace(row, key=key, label=f"{row.label} [{path}]", note=f"{row.note}; {path}",
                                   compile_mode=COMPILED_PATHS[path])
    depth = int((base or RELEASED_MODEL)["depth"])
    every = list(range(depth))

    def make(cfg: dict[str, Any]) -> Callable[[], nn.Module]:
        return lambda: build_model(cfg)

    if key == "dstformer":
        return Variant(key, "DSTformer (MotionBERT)", make(model_config("DSTformer", base=base)),
                       "baseline: pre-norm residuals, no compression")
    if key == "sct":
        return Variant(key, "SCT (released, σ=0.6)", make(model_config("SCT", 0.6, every, base)),
                       "the released configuration", groups=("efficiency", "implementation"))
    if key == "reference_sct":
        if reference_factory is None:
            raise ValueError("reference_sct needs the plain reference implementation (lib/perf/reference_sct.py)")
        sct_cfg = model_config("SCT", 0.6, every, base)
        return Variant(key, "ReferenceSCT (plain)", lambda: reference_factory(sct_cfg),
                       "FFT-DCT + explicit-softmax reference (lib/perf/reference_sct.py)",
                       groups=("implementation",), precisions=("fp32", "tf32"), plain=True)
    match = _KEY_PATTERN.match(key)
    if match is None:
        raise ValueError(f"unknown model key {key!r}; keys are: {VARIANT_KEY_HELP}")
    ratio = float(match["ratio"])
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"{key}: σ must be in (0, 1], got {match['ratio']}")
    layers = every if match["layers"] is None else sorted({int(i) for i in match["layers"].split("+")})
    if layers and layers[-1] >= depth:
        raise ValueError(f"{key}: layer {layers[-1]} does not exist (the model has layers 0..{depth - 1})")
    where = "all layers" if layers == every else "layers " + ", ".join(map(str, layers))
    if match["kind"] == "dstformer_sc":
        return Variant(key, f"DSTformer + SC σ={ratio:g} ({where})",
                       make(model_config("DSTformer", ratio, layers, base)),
                       f"SCT's spectral compression plugged into layers {layers}")
    if ratio == 1.0:
        return Variant(key, "SCT σ=1 (no compression)", make(model_config("SCT", 1.0, (), base)),
                       "Line Pose Graph and normed residuals only")
    return Variant(key, f"SCT σ={ratio:g}" + ("" if layers == every else f" ({where})"),
                   make(model_config("SCT", ratio, layers, base)), f"SCT with σ={ratio:g} in layers {layers}")


def default_variant_keys(depth: int, with_reference: bool = True) -> list[str]:
    """The rows of the efficiency study for a model of ``depth`` layers: DSTformer, DSTformer with SCT's
    compression plugged in (σ 0.8, 0.6, 0.4 in every layer; σ 0.6 in the last two layers), SCT with
    σ ∈ {1, 0.8, 0.7, 0.6 (released), 0.5, 0.4} in every layer and σ 0.6 in the first or the last two layers,
    and the plain reference SCT."""
    keys = ["dstformer", "dstformer_sc0.8", "dstformer_sc0.6", "dstformer_sc0.4"]
    first_two, last_two = "0+1", f"{depth - 2}+{depth - 1}"
    partial = depth > 2
    if partial:
        keys.append(f"dstformer_sc0.6_layers{last_two}")
    keys += ["sct_sigma1", "sct_sigma0.8", "sct_sigma0.7", "sct", "sct_sigma0.5", "sct_sigma0.4"]
    if partial:
        keys += [f"sct_sigma0.6_layers{first_two}", f"sct_sigma0.6_layers{last_two}"]
    if with_reference:
        keys.append("reference_sct")
    return keys


def standard_variants(base: Mapping[str, Any] | None = None,
                      reference_factory: Callable[[Mapping[str, Any]], nn.Module] | None = None,
                      keys: Sequence[str] | None = None) -> list[Variant]:
    """The rows named by ``keys`` (default: :func:`default_variant_keys`) at the sizes of ``base`` (default:
    the released configuration, :data:`RELEASED_MODEL`).

    Args:
        reference_factory: builds the plain reference implementation from an SCT config (e.g.
            ``lambda cfg: ReferenceSCT(**cfg)``); omitted, the default rows have no ``reference_sct``.
    """
    depth = int((base or RELEASED_MODEL)["depth"])
    if keys is None:
        keys = default_variant_keys(depth, with_reference=reference_factory is not None)
    if len(set(keys)) != len(keys):
        raise ValueError(f"model keys repeat: {', '.join(keys)}")
    return [variant_from_key(k, base, reference_factory) for k in keys]



CUDA_DEFAULT_KEYS = ("dstformer", "sct", "reference_sct")
"""The rows timed on CUDA when none are given: the baseline, the released SCT and the plain reference (three
batch sizes and three precisions per row keep a GPU run of the whole study long; name more with keys)."""


def default_keys_for_device(device: str, depth: int, with_reference: bool = True) -> list[str]:
    """The rows timed on ``device`` when none are given: :func:`default_variant_keys` on the CPU,
    :data:`CUDA_DEFAULT_KEYS` on CUDA (without ``reference_sct`` unless ``with_reference``)."""
    if device == "cuda":
        return [k for k in CUDA_DEFAULT_KEYS if with_reference or k != "reference_sct"]
    return default_variant_keys(depth, with_reference)
