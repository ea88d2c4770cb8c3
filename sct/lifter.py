"""``Lifter``: 2D keypoints of people in a video -> their 3D poses, with any SCT (or DSTformer) checkpoint.

>>> lifter = Lifter.pretrained("mocap-sct")
>>> poses = lifter.lift(keypoints, width=1920, height=1080)   # (T, 17, 2|3) px -> (T, 17, 3)

Inputs are Human3.6M-17 joints in pixels (convert COCO-17 or BlazePose-33 with :mod:`sct.keypoint_formats`),
with an optional confidence channel (1 when absent). Outputs are root-relative 3D joints in the camera
frame (x right, y down, z forward) in the lifter's screen units (the image width spans 2);
:func:`sct.scale_to_height` turns them into millimetres.

A video is cut into windows of the model's length that overlap by half a window and are blended with
triangular weights (:func:`lib.utils.sliding_windows.overlapping_plan`): every frame gets one pose and no
window border shows. :meth:`Lifter.stream` lifts a live sequence frame by frame with ``lookahead`` frames
of delay; ``lift(..., lookahead=k)`` is the same computation on a whole recording.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ._research import research_module
from .pretrained import pretrained_files

if TYPE_CHECKING:
    from .streaming import LiftingStream

_config = research_module("utils.config")
_checkpoint = research_module("utils.checkpoint")
_windows = research_module("utils.sliding_windows")
_skeleton = research_module("utils.skeleton")
_lifting = research_module("engine.lifting")
_distributed = research_module("engine.distributed")
_model = research_module("model")
_inference = research_module("perf.inference")
_datareader = research_module("data.datareader_h36m")

NUM_JOINTS = 17


def check_keypoints(keypoints: Any, what: str = "keypoints") -> np.ndarray:
    """``keypoints`` as float32 ``(..., T, 17, 3)`` (confidence 1 added to x, y when absent);
    ``ValueError`` with one line for a wrong shape, an empty array or a non-finite value."""
    try:
        k = np.asarray(keypoints, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be an array of numbers, got {type(keypoints).__name__}") from exc
    if k.ndim not in (3, 4) or k.shape[-2] != NUM_JOINTS or k.shape[-1] not in (2, 3):
        raise ValueError(f"{what} must have shape (T, 17, 2|3) or (P, T, 17, 2|3) (Human3.6M joints in pixels; "
                         f"convert COCO or BlazePose with sct.keypoint_formats), got {k.shape}")
    if k.size == 0:
        raise ValueError(f"{what} are empty (shape {k.shape}): give at least one frame")
    if not np.isfinite(k).all():
        bad = np.argwhere(~np.isfinite(k))[0]
        raise ValueError(f"{what} hold a non-finite value at index {tuple(int(i) for i in bad)}; fill frames "
                         "where a person was not seen (e.g. interpolate) before lifting")
    if k.shape[-1] == 2:
        k = np.concatenate([k, np.ones(k.shape[:-1] + (1,), np.float32)], axis=-1)
    return k


def check_image_size(width: Any, height: Any) -> tuple[float, float]:
    """``(width, height)`` as positive finite floats, else ``ValueError``."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int | float | np.integer | np.floating) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"image {name} must be a positive number of pixels, got {value!r}")
    return float(width), float(height)


def normalize_keypoints(keypoints: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels ``(..., 17, 3)`` -> the model's screen-normalised inputs (x / w * 2 - 1, y / w * 2 - h / w)."""
    flat = keypoints.reshape(-1, *keypoints.shape[-2:])
    wh = np.broadcast_to(np.array([width, height], dtype=np.float64), (len(flat), 2))
    return _datareader.normalize_screen(flat, wh).reshape(keypoints.shape).astype(np.float32)


class Lifter:
    """A lifting model ready for inference, with the windowing and flip averaging every caller shares.

    Build one with :meth:`from_checkpoint` or :meth:`pretrained`. ``stride``: frames between the starts of
    consecutive windows in :meth:`lift` (default half a window); ``batch_size``: windows per forward pass.
    """

    def __init__(self, model: torch.nn.Module, config: Mapping[str, Any], device: torch.device, *,
                 name: str = "lifter", stride: int | None = None, batch_size: int = 8) -> None:
        self.model = model
        self.config = dict(config)
        self.device = device
        self.name = name
        self.window = int(config["maxlen"])
        self.skeleton = _skeleton.H36M_SKELETON
        self.stride = max(1, self.window // 2) if stride is None else int(stride)
        if not 1 <= self.stride <= self.window:
            raise ValueError(f"stride must be between 1 and the window length {self.window}, got {stride}")
        self.batch_size = int(batch_size)

    def __repr__(self) -> str:
        return (f"Lifter({self.name!r}, {self.config.get('backbone', 'SCT')}, window {self.window} frames, "
                f"stride {self.stride}, device {self.device})")

    # ----------------------------------------------------------------------------------------- building

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, config: str | os.PathLike | None = None,
                        device: str | torch.device = "auto", inference_path: str = "eager", **kwargs: Any) -> Lifter:
        """Load a checkpoint written by ``train.py`` (it carries its model config) or any earlier file such
        as the released ``best_epoch.bin`` together with the YAML ``config`` it was trained with.

        Raises ``ValueError`` (one line) for a missing or unreadable file, a checkpoint without its config
        and no ``config`` given, a config that disagrees with the checkpoint (naming the keys), weights that
        do not fit the model, or a model trained in a joint order other than Human3.6M's.
        ``inference_path``: ``"eager"`` (default), ``"compile"`` (``torch.compile``: about twice as fast for
        a stream on a CPU, after a compilation of minutes on the first call) or ``"cudagraphs"`` (CUDA only);
        :func:`lib.perf.inference.prepare_for_inference`.
        """
        path = os.fspath(path)
        try:
            obj = _checkpoint.load_checkpoint_file(path)
        except _checkpoint.CheckpointError as exc:
            raise ValueError(str(exc)) from exc
        cfg = resolve_model_config(obj, path, config)
        if joint_order(cfg) != "h36m":
            raise ValueError(f"{path}: the model was trained in the joint order of {joint_order(cfg)}; Lifter "
                             "takes Human3.6M-17 models")
        torch_device = resolve_device(device)
        try:
            model = _model.build_model(cfg)
            _checkpoint.load_model_weights(model, obj, strict=True, where=path)
        except _checkpoint.CheckpointError as exc:
            raise ValueError(str(exc)) from exc
        model = _inference.prepare_for_inference(model, torch_device, inference_path)
        return cls(model, cfg, torch_device, name=kwargs.pop("name", Path(path).name), **kwargs)

    @classmethod
    def pretrained(cls, name: str = "mocap-sct", device: str | torch.device = "auto", inference_path: str = "eager",
                   **kwargs: Any) -> Lifter:
        """A lifter shipped with the package: ``"mocap-sct"`` (the default) or ``"mocap-dstformer"``
        (``sct.PRETRAINED`` lists them). ``ValueError`` for an unknown name."""
        weights, config = pretrained_files(name)
        return cls.from_checkpoint(weights, config, device=device, inference_path=inference_path, name=name,
                                   **kwargs)

    # ---------------------------------------------------------------------------------------- lifting

    def lift(self, keypoints: Any, width: float, height: float, *, flip: bool = True,
             lookahead: int | None = None) -> np.ndarray:
        """2D keypoints ``(T, 17, 2|3)`` or ``(P, T, 17, 2|3)`` in pixels of a ``width`` x ``height`` video
        -> root-relative 3D poses ``(T, 17, 3)`` / ``(P, T, 17, 3)`` float32, one per input frame, any
        ``T >= 1``.

        ``flip``: average with the prediction for the mirrored input (test-time flip, on by default).
        ``lookahead``: ``None`` blends overlapping windows (the most accurate); an integer ``k`` computes
        what :meth:`stream` with ``lookahead=k`` gives, each frame from a window ending ``k`` frames later.
        """
        k = check_keypoints(keypoints)
        w, h = check_image_size(width, height)
        people = k[None] if k.ndim == 3 else k
        out = np.stack([self._lift_one(normalize_keypoints(p, w, h), flip, lookahead) for p in people])
        return out[0] if k.ndim == 3 else out

    def _lift_one(self, inputs: np.ndarray, flip: bool, lookahead: int | None) -> np.ndarray:
        n = len(inputs)
        if lookahead is None:
            plan = _windows.overlapping_plan(n, self.window, self.stride)
        else:
            plan = _windows.lookahead_plan(n, self.window, check_lookahead(lookahead, self.window))
        return _lifting.lift_video(self.model, inputs, plan, device=self.device, flip=flip,
                                   batch_size=self.batch_size, skeleton=self.skeleton)

    def stream(self, width: float, height: float, lookahead: int = 0, *, flip: bool = True) -> LiftingStream:
        """A :class:`LiftingStream` for one person in a live ``width`` x ``height`` video, ``lookahead``
        frames of delay (0: causal)."""
        from .streaming import LiftingStream

        return LiftingStream(self, *check_image_size(width, height), lookahead=lookahead, flip=flip)


def check_lookahead(lookahead: Any, window: int) -> int:
    """``lookahead`` as an int in ``[0, window)``, else ``ValueError``."""
    if isinstance(lookahead, bool) or not isinstance(lookahead, int | np.integer) or not 0 <= lookahead < window:
        raise ValueError(f"lookahead must be a whole number of frames from 0 to {window - 1} (the window is "
                         f"{window} frames), got {lookahead!r}")
    return int(lookahead)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or a ``torch.device``; ``ValueError`` else."""
    if isinstance(device, torch.device):
        return device
    try:
        return _distributed.resolve_device(str(device))
    except ValueError as exc:
        raise ValueError(str(exc).replace("--device", "device")) from exc


def joint_order(cfg: Mapping[str, Any]) -> str:
    """The joint order a model was trained in: ``trained_on`` when set, else ``dataset``."""
    return cfg.get("trained_on") or cfg.get("dataset") or "h36m"


def resolve_model_config(obj: Mapping[str, Any], path: str, config: str | os.PathLike | None) -> Any:
    """The validated config that builds the model of checkpoint ``obj``: its ``model_args`` and/or the YAML
    ``config``; ``ValueError`` when neither is there or when they disagree (naming the keys)."""
    carried = obj.get("model_args")
    if config is None:
        if not isinstance(carried, Mapping):
            raise ValueError(f"{path} does not carry its model config (it was written before checkpoints did); "
                             "pass config=<the YAML file it was trained with>")
        return _config.validate_config(dict(carried), source=f"{path} (model_args)")
    cfg = _config.load_config(config)
    if isinstance(carried, Mapping):
        expected = _config.validate_config(dict(carried), source=f"{path} (model_args)")
        differ = [k for k in _model.MODEL_KEYS if cfg.get(k) != expected.get(k)]
        if joint_order(cfg) != joint_order(expected):
            differ.append("trained_on")
        if differ:
            detail = ", ".join(f"{k}: {cfg.get(k)!r} in the config, {expected.get(k)!r} in the checkpoint"
                               for k in differ)
            raise ValueError(f"{os.fspath(config)} does not match the model of {path} ({detail}); pass the config "
                             "the checkpoint was trained with, or none")
    return cfg
