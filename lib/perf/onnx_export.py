"""Export a lifting model to ONNX, check it against PyTorch with ONNX Runtime, and time both.

The export uses :func:`torch.onnx.export` with the ``torch.export``-based (dynamo) exporter. The batch
size is always dynamic. The number of frames is fixed (``T = frames``), or dynamic (any
``1 <= T <= maxlen`` in one file) with ``dynamic_frames``, for every model, spectral compression included:

- fixed ``T``: each compression operator is the ``(T', T)`` float32 constant that eager PyTorch uses;
- dynamic ``T``: the graph computes each operator from ``T`` (the same float64 formulas as eager PyTorch,
  then cast to float32; :mod:`lib.model.spectral`) and each ``T' = ceil(T * sigma)`` in int64 arithmetic
  that reproduces the eager lengths exactly (:mod:`lib.model.dynamic_length`), and builds each
  ``(T, T')`` interpolation matrix back to ``T`` frames from the symbolic lengths (a ``Resize`` of the
  ``T'`` unit vectors, :mod:`lib.model.interpolation`). Building the operators costs a few small matrix
  products per call (not measurable next to the model at 243 frames); the file is slightly smaller than a
  fixed-``T`` one, which stores the operators.

:func:`check_lengths` lists the frame counts a dynamic file is verified on (the shortest ones, odd ones,
``maxlen``).
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..engine.lifting import predict_with_flip
from ..model.dynamic_length import LENGTH_CHECKED_UP_TO, integer_ratio
from ..utils.atomic_io import atomic_path

INPUT_NAME = "keypoints_2d"
OUTPUT_NAME = "pose_3d"


class OnnxExportError(RuntimeError):
    """The model cannot be exported as asked, or the exported graph disagrees with PyTorch."""


def compresses_time(model: nn.Module) -> bool:
    """Whether any layer of ``model`` applies spectral compression (``compress_ratios`` below 1)."""
    return any(float(r) < 1.0 for r in getattr(model, "compress_ratios", ()))


def check_lengths(frames: int, maxlen: int, dynamic_frames: bool) -> list[int]:
    """Frame counts to verify an export on: ``[frames]``, or for a dynamic one the shortest clips (1, 2, 3),
    odd ones (7, about ``frames / 2``), ``frames``, ``maxlen - 1`` and ``maxlen``."""
    if not dynamic_frames:
        return [frames]
    return sorted(t for t in {1, 2, 3, 7, (frames // 2) | 1, frames, maxlen - 1, maxlen} if 1 <= t <= maxlen)


def export_onnx(model: nn.Module, path: str | os.PathLike, frames: int, dynamic_frames: bool = False,
                opset: int | None = None, optimize: bool = True, quiet: bool = True) -> None:
    """Export ``model`` (eval mode, CPU, float32) to ``path``, written atomically.

    The graph takes ``keypoints_2d`` ``(B, T, J, 3)`` and returns ``pose_3d`` ``(B, T, J, 3)`` with a dynamic
    ``B``; ``T = frames`` unless ``dynamic_frames`` (then any ``1 <= T <= maxlen``, spectral compression
    included: see the module docstring).

    Raises:
        OnnxExportError: ``frames`` out of range, or ``dynamic_frames`` for a compressing model whose
            frame counts ``ceil(T * sigma)`` have no exact integer formula (a few ratios such as 0.14, see
            :func:`lib.model.spectral.integer_ratio`) or whose ``maxlen`` is above the 4096 frames that
            formula is checked for. A fixed ``frames`` works for them.
    """
    maxlen = int(getattr(model, "maxlen", frames))
    joints = int(getattr(model, "num_joints", 17))
    if not 1 <= frames <= maxlen:
        raise OnnxExportError(f"frames={frames} must be between 1 and maxlen={maxlen}")
    if dynamic_frames and compresses_time(model):
        _check_dynamic_compression(model, maxlen)
    model = model.eval().cpu().float()
    example = torch.randn(2, max(frames, 2) if dynamic_frames else frames, joints, 3)
    batch = torch.export.Dim("batch", min=1, max=4096)
    axes = {0: batch}
    if dynamic_frames:
        axes[1] = torch.export.Dim("frames", min=1, max=maxlen)
    with torch.inference_mode():  # fill the per-length operator caches, so export sees them as constants
        model(example)
    sink = io.StringIO()
    with atomic_path(path, suffix=".onnx") as tmp, \
            contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        torch.onnx.export(model, (example,), tmp, dynamo=True, dynamic_shapes={"x": axes},
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset,
                          external_data=False, optimize=optimize)


def _check_dynamic_compression(model: nn.Module, maxlen: int) -> None:
    """Refuse a dynamic frame count where the exported T' = ceil(T * sigma) could differ from PyTorch's."""
    if maxlen > LENGTH_CHECKED_UP_TO:
        raise OnnxExportError(f"a dynamic frame count with spectral compression is checked up to "
                              f"{LENGTH_CHECKED_UP_TO} frames, but maxlen={maxlen}; export a fixed number of frames")
    for ratio in sorted({float(r) for r in model.compress_ratios if float(r) < 1.0}):
        try:
            integer_ratio(ratio)
        except ValueError as exc:
            raise OnnxExportError(f"compression ratio {ratio}: {exc}; export a fixed number of frames") from exc


def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU inference session for ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])


def max_abs_difference(session, model: nn.Module, x: torch.Tensor) -> float:
    """Largest ``|ONNX Runtime - PyTorch|`` for the input ``x`` ``(B, T, J, 3)``, over the plain output and
    over the flip-averaged prediction every lifting caller makes (:func:`lib.engine.lifting.predict_with_flip`)."""

    def onnx_model(inputs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: inputs.numpy()})[0])

    worst = 0.0
    model = model.eval()
    for flip in (False, True):
        onnx_out = predict_with_flip(onnx_model, x, flip=flip)
        with torch.inference_mode():
            torch_out = predict_with_flip(model, x, flip=flip)
        if onnx_out.shape != torch_out.shape:
            raise OnnxExportError(f"ONNX output shape {tuple(onnx_out.shape)} != PyTorch {tuple(torch_out.shape)}")
        worst = max(worst, float((onnx_out - torch_out).abs().max()))
    return worst


@dataclass(frozen=True)
class SpeedComparison:
    """Frames per second of the same clip in PyTorch and in ONNX Runtime (both CPU, float32)."""

    torch_fps: float
    onnx_fps: float
    torch_ms: float
    onnx_ms: float


def compare_speed(session, model: nn.Module, x: torch.Tensor, warmup: int = 2, repeats: int = 10
                  ) -> SpeedComparison:
    """Median time of ``model(x)`` and of the ONNX session on ``x``, interleaved call by call."""
    feed = {INPUT_NAME: x.numpy()}
    model = model.eval()
    times = {"torch": [], "onnx": []}

    def run_torch() -> None:
        with torch.inference_mode():
            model(x)

    def run_onnx() -> None:
        session.run([OUTPUT_NAME], feed)

    for _ in range(warmup):
        run_torch()
        run_onnx()
    for _ in range(repeats):
        for name, fn in (("torch", run_torch), ("onnx", run_onnx)):
            begin = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - begin)
    frames = x.shape[0] * x.shape[1]
    t_torch, t_onnx = statistics.median(times["torch"]), statistics.median(times["onnx"])
    return SpeedComparison(torch_fps=frames / t_torch, onnx_fps=frames / t_onnx, torch_ms=t_torch * 1e3,
                           onnx_ms=t_onnx * 1e3)
