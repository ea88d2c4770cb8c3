"""One place that readies a lifting model for inference on its device, on the fastest exact path measured.

- CPU: the linear layers run on oneDNN with packed weights for float32 inference
  (:func:`lib.perf.cpu_inference.prepack_linear_layers`; outputs equal to ~1e-6, same state dict), the path
  ``docs/BENCHMARKS.md`` measures as the fastest there.
- CUDA: eager PyTorch by default. ``path='compile'`` wraps the model in ``torch.compile``,
  ``path='cudagraphs'`` in ``torch.compile(mode='reduce-overhead')`` (CUDA graphs, for launch-bound small
  batches). Neither is the default until a GPU run of the benchmark shows it is faster (``docs/BENCHMARKS.md``
  gives the command); both compile on their first call for each input shape and precision.

Evaluation (``train.py --evaluate``) and the demo's lifting step call :func:`prepare_for_inference`.
"""

from __future__ import annotations

import torch
from torch import nn

from .cpu_inference import prepack_linear_layers

INFERENCE_PATHS = ("eager", "compile", "cudagraphs")


def prepare_for_inference(model: nn.Module, device: torch.device | str, path: str = "eager") -> nn.Module:
    """``model`` in eval mode on ``device``, readied for inference; returns the module to call.

    With ``path='eager'`` the returned module is ``model`` itself (its weights stay shared, its state dict
    unchanged); the compiled paths return a ``torch.compile`` wrapper around it.

    Raises:
        ValueError: an unknown ``path``, or ``'cudagraphs'`` on a device other than CUDA.
    """
    if path not in INFERENCE_PATHS:
        raise ValueError(f"unknown inference path {path!r}; choose from {', '.join(INFERENCE_PATHS)}")
    device = torch.device(device)
    if path == "cudagraphs" and device.type != "cuda":
        raise ValueError("the cudagraphs inference path needs a CUDA device")
    model = model.to(device).eval()
    if device.type == "cpu":
        prepack_linear_layers(model)
    if path == "compile":
        return torch.compile(model)
    if path == "cudagraphs":
        return torch.compile(model, mode="reduce-overhead")
    return model
