"""Read and write checkpoints in the released layout, safely and atomically.

The released SCT/MotionBERT files are dicts ``{'epoch', 'lr', 'optimizer', 'model_pos', 'min_loss'}``
whose ``model_pos`` was saved from ``nn.DataParallel`` (names prefixed ``module.``). This module accepts
that layout with or without the prefix, and bare state dicts.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .atomic_io import atomic_open

STATE_DICT_KEYS = ("model_pos", "model", "state_dict")
PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(RuntimeError):
    """A checkpoint file that is missing, unreadable or does not fit the model."""


def load_checkpoint_file(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                         what: str = "checkpoint") -> dict[str, Any]:
    """``torch.load`` a checkpoint with ``weights_only=True``; clear errors for missing or corrupt files,
    naming the file as ``what`` (e.g. ``"HRNet weights"``)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} not found: {path}")
    try:
        with warnings.catch_warnings(record=True) as caught:  # a damaged file also makes torch warn
            warnings.simplefilter("always")
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Unsupported global" in text:  # the weights-only unpickler met a class or function: possible code
            raise CheckpointError(f"refusing to load {what} {path}: it holds pickled Python objects other than "
                                  "tensors and plain values, which could run code when loaded; use a checkpoint "
                                  "written by train.py or save only the state dict") from exc
        detail = text.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()[0] if text.strip() else ""
        raise CheckpointError(f"cannot read {what} {path}: not a PyTorch checkpoint ({detail or 'unreadable'})"
                              ) from exc
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"cannot read {what} {path}: {_first_line(exc)}") from exc
    for w in caught:  # the file was read: its warnings are worth seeing
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{what} {path} holds a {type(obj).__name__}, not a dict of tensors")
    return dict(obj)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _strip_prefixes(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name, changed = name[len(prefix):], True
    return name


def extract_state_dict(obj: Mapping[str, Any], where: str = "") -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint: ``obj['model_pos']`` (or ``model``/``state_dict``) or ``obj``
    itself when it is a bare state dict; ``module.`` / ``_orig_mod.`` prefixes removed. ``where`` (the file)
    begins the error message."""
    state = obj
    for key in STATE_DICT_KEYS:
        if key in obj and isinstance(obj[key], Mapping):
            state = obj[key]
            break
    tensors = {_strip_prefixes(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{f'checkpoint {where}: ' if where else ''}no model weights found (looked for "
                              f"{', '.join(STATE_DICT_KEYS)} or a state dict)")
    return tensors


def check_finite_weights(state: Mapping[str, torch.Tensor], where: str) -> None:
    """:class:`CheckpointError` naming the first floating-point tensor of ``state`` that holds NaN or inf (a
    diverged run or a damaged file: its predictions would all be NaN)."""
    for name, tensor in state.items():
        if tensor.is_floating_point() or tensor.is_complex():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise CheckpointError(f"checkpoint {where}: weight '{name}' holds {bad} NaN or infinite value(s) of "
                                      f"{tensor.numel()}; expected finite weights (a diverged or damaged file: use "
                                      "an earlier checkpoint)")


def compare_state_dicts(model_state: Mapping[str, torch.Tensor], loaded: Mapping[str, torch.Tensor]
                        ) -> tuple[list[str], list[str], list[str]]:
    """Names missing from ``loaded``, unexpected in it, and present in both with different shapes."""
    missing = sorted(set(model_state) - set(loaded))
    unexpected = sorted(set(loaded) - set(model_state))
    mismatched = sorted(
        f"{k} (checkpoint {tuple(loaded[k].shape)}, model {tuple(model_state[k].shape)})"
        for k in set(model_state) & set(loaded) if loaded[k].shape != model_state[k].shape)
    return missing, unexpected, mismatched


def _shorten(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def load_model_weights(model: nn.Module, source: str | os.PathLike | Mapping[str, Any],
                       strict: bool = True, where: str | None = None) -> list[str]:
    """Load weights from a checkpoint path or an already loaded dict into ``model``.

    With ``strict`` every name and shape must match, else a :class:`CheckpointError` lists the missing,
    unexpected and wrongly-shaped names. Without it, only the names with equal shapes are loaded and the
    skipped names are returned. ``where`` names the source in messages (default: the path, or "the given
    state dict").
    """
    if where is None:
        where = os.fspath(source) if isinstance(source, str | os.PathLike) else "the given state dict"
    obj = load_checkpoint_file(source) if isinstance(source, str | os.PathLike) else source
    loaded = extract_state_dict(obj, where)
    check_finite_weights(loaded, where)
    target = model.module if hasattr(model, "module") else model
    model_state = target.state_dict()
    missing, unexpected, mismatched = compare_state_dicts(model_state, loaded)
    if strict and (missing or unexpected or mismatched):
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_shorten(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_shorten(unexpected)}")
        if mismatched:
            parts.append(f"wrong shape {len(mismatched)}: {_shorten(mismatched)}")
        raise CheckpointError(
            f"checkpoint {where} does not fit the model ({type(target).__name__}); " + "; ".join(parts)
            + ". Check that the config matches the one the checkpoint was trained with.")
    skipped = sorted(set(unexpected) | {m.split(" ")[0] for m in mismatched})
    usable = {k: v for k, v in loaded.items() if k in model_state and v.shape == model_state[k].shape}
    target.load_state_dict(usable, strict=strict)
    return skipped


def save_checkpoint(path: str | os.PathLike, obj: Mapping[str, Any]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place (atomic)."""
    with atomic_open(path, "wb") as f:
        torch.save(dict(obj), f)
