"""Fallbacks for PyTorch releases older than the one CI runs (requirements allow torch >= 2.1): the calls
whose API changed after 2.1 are simulated in their old form."""

from __future__ import annotations

import types
import warnings

import pytest
import torch
import torch._dynamo

from lib.engine.trainer import make_grad_scaler
from lib.perf import cpu_inference
from lib.perf.onnx_export import OnnxExportError, export_onnx


def _old_is_autocast_enabled():  # torch < 2.4 takes no device argument
    return False


def test_packed_linear_checks_autocast_and_compiling_on_old_torch(monkeypatch):
    monkeypatch.setattr(torch, "is_autocast_enabled", _old_is_autocast_enabled)
    monkeypatch.setattr(torch, "is_autocast_cpu_enabled", lambda: True, raising=False)
    assert cpu_inference._cpu_autocast_enabled() is True
    monkeypatch.setattr(torch, "is_autocast_cpu_enabled", lambda: False, raising=False)
    assert cpu_inference._cpu_autocast_enabled() is False
    monkeypatch.setattr(torch, "compiler", types.SimpleNamespace())  # torch < 2.3: no torch.compiler.is_compiling
    monkeypatch.setattr(torch._dynamo, "is_compiling", lambda: True)
    assert cpu_inference._compiling() is True
    monkeypatch.setattr(torch._dynamo, "is_compiling", lambda: False)
    assert cpu_inference._compiling() is False
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    x = torch.randn(2, 4)
    with torch.inference_mode():
        expected = model(x)
    cpu_inference.prepack_linear_layers(model)
    with torch.inference_mode():
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_grad_scaler_without_torch_amp_grad_scaler(monkeypatch):
    monkeypatch.delattr(torch.amp, "GradScaler")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # newer torch marks torch.cuda.amp.GradScaler deprecated
        scaler = make_grad_scaler("cpu", enabled=False)
    assert not scaler.is_enabled()
    loss = torch.tensor(2.0, requires_grad=True)
    assert scaler.scale(loss) is loss  # disabled: a pass-through


def test_onnx_export_explains_missing_dynamo_exporter(monkeypatch, tmp_path):
    def old_export(model, args, f, export_params=True, verbose=False):  # torch < 2.5
        raise AssertionError("must not be called")

    monkeypatch.setattr(torch.onnx, "export", old_export)
    with pytest.raises(OnnxExportError, match=r"needs the torch.export-based exporter of PyTorch >= 2.5"):
        export_onnx(torch.nn.Linear(3, 3), tmp_path / "m.onnx", frames=1)
    assert not list(tmp_path.iterdir())
