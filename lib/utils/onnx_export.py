"""Export a lifting model to ONNX, check it against PyTorch with ONNX Runtime, and time both.

The export uses :func:`torch.onnx.export` with the ``torch.export``-based (dynamo) exporter. The batch
size is always dynamic. The number of frames is fixed, except for models without spectral compression
(plain DSTformer, SCT with ``dct_ratio: 1``), which can also be exported with a dynamic frame count
``1 <= T <= maxlen``: the compression operator is a ``(T', T)`` constant chosen in Python for each ``T``
(``T' = ceil(T * sigma)``), so a compressing model is exported for one ``T``.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .atomic_io import atomic_path

INPUT_NAME = "keypoints_2d"
OUTPUT_NAME = "pose_3d"


class OnnxExportError(RuntimeError):
    """The model cannot be exported as asked, or the exported graph disagrees with PyTorch."""


def compresses_time(model: nn.Module) -> bool:
    """Whether any layer of ``model`` applies spectral compression (``compress_ratios`` below 1)."""
    return any(float(r) < 1.0 for r in getattr(model, "compress_ratios", ()))


def export_onnx(model: nn.Module, path: str | os.PathLike, frames: int, dynamic_frames: bool = False,
                opset: int | None = None, optimize: bool = True, quiet: bool = True) -> None:
    """Export ``model`` (eval mode, CPU, float32) to ``path``, written atomically.

    The graph takes ``keypoints_2d`` ``(B, T, J, 3)`` and returns ``pose_3d`` ``(B, T, J, 3)`` with a dynamic
    ``B``; ``T = frames`` unless ``dynamic_frames`` (then any ``1 <= T <= maxlen``).

    Raises:
        OnnxExportError: ``dynamic_frames`` for a model that compresses time, or ``frames`` out of range.
    """
    maxlen = int(getattr(model, "maxlen", frames))
    joints = int(getattr(model, "num_joints", 17))
    if not 1 <= frames <= maxlen:
        raise OnnxExportError(f"frames={frames} must be between 1 and maxlen={maxlen}")
    if dynamic_frames and compresses_time(model):
        raise OnnxExportError("a model with spectral compression can only be exported for a fixed number of "
                              "frames (its DCT operator depends on T); drop the dynamic-frames option and "
                              "export one file per frame count")
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


def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An ONNX Runtime CPU inference session for ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])


def max_abs_difference(session, model: nn.Module, x: torch.Tensor) -> float:
    """Largest ``|ONNX Runtime - PyTorch|`` over the output for the input ``x`` ``(B, T, J, 3)``."""
    onnx_out = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
    with torch.inference_mode():
        torch_out = model.eval()(x).numpy()
    if onnx_out.shape != torch_out.shape:
        raise OnnxExportError(f"ONNX output shape {onnx_out.shape} != PyTorch {torch_out.shape}")
    return float(np.abs(onnx_out - torch_out).max())


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
