"""prepare_for_inference: the path evaluation and the demo run their model on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lib.model import build_model
from lib.perf.cpu_inference import PrepackedLinear, onednn_linear_available
from lib.perf.inference import prepare_for_inference


@pytest.mark.skipif(not onednn_linear_available(), reason="this PyTorch build has no oneDNN linear kernels")
def test_cpu_path_packs_linear_layers_and_keeps_outputs(tiny_sct_config):
    torch.manual_seed(0)
    model = build_model(tiny_sct_config).train()
    plain = build_model(tiny_sct_config).eval()
    plain.load_state_dict(model.state_dict())
    names = list(model.state_dict())
    ready = prepare_for_inference(model, "cpu")
    assert ready is model and not model.training
    assert list(model.state_dict()) == names
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears and all(type(m) is PrepackedLinear for m in linears)
    x = torch.randn(2, 30, 17, 3)
    with torch.inference_mode():
        torch.testing.assert_close(ready(x), plain(x), atol=1e-5, rtol=1e-5)


def test_rejects_unknown_path_and_cudagraphs_without_cuda(tiny_sct_config):
    model = build_model(tiny_sct_config)
    with pytest.raises(ValueError, match="unknown inference path 'fast'; choose from eager, compile, cudagraphs"):
        prepare_for_inference(model, "cpu", "fast")
    with pytest.raises(ValueError, match="cudagraphs inference path needs a CUDA device"):
        prepare_for_inference(model, "cpu", "cudagraphs")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("path", ["eager", pytest.param("compile", marks=pytest.mark.slow),
                                  pytest.param("cudagraphs", marks=pytest.mark.slow)])
def test_cuda_paths_match_eager(tiny_sct_config, path):
    torch.manual_seed(0)
    model = build_model(tiny_sct_config)
    reference = build_model(tiny_sct_config).eval().cuda()
    reference.load_state_dict(model.state_dict())
    ready = prepare_for_inference(model, "cuda", path)
    assert not any(isinstance(m, PrepackedLinear) for m in model.modules())
    x = torch.randn(2, 30, 17, 3, device="cuda")
    with torch.inference_mode():
        expected = reference(x)
        for _ in range(3):  # compiled paths record on their first calls
            out = ready(x)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_cpu_path_falls_back_to_eager_with_one_warning_when_the_private_op_is_missing(tiny_sct_config, monkeypatch):
    import lib.perf.cpu_inference as cpu_inference

    torch.manual_seed(0)
    model = build_model(tiny_sct_config)
    plain = build_model(tiny_sct_config).eval()
    plain.load_state_dict(model.state_dict())
    monkeypatch.setattr(cpu_inference, "_onednn_ops", lambda: None)  # a PyTorch build without the operators
    with pytest.warns(RuntimeWarning, match="no oneDNN packed linear operators; running the model on plain PyTorch"):
        ready = prepare_for_inference(model, "cpu")
    assert not any(isinstance(m, PrepackedLinear) for m in ready.modules())
    x = torch.randn(2, 30, 17, 3)
    with torch.inference_mode():
        torch.testing.assert_close(ready(x), plain(x))


@pytest.mark.skipif(not onednn_linear_available(), reason="this PyTorch build has no oneDNN linear kernels")
def test_cpu_path_falls_back_when_the_private_op_fails(tiny_sct_config, monkeypatch):
    import lib.perf.cpu_inference as cpu_inference

    torch.manual_seed(0)
    model = build_model(tiny_sct_config)
    plain = build_model(tiny_sct_config).eval()
    plain.load_state_dict(model.state_dict())

    def broken(*_args):
        raise RuntimeError("mkldnn: unsupported on this CPU")

    reorder, _ = cpu_inference._onednn_ops()
    monkeypatch.setattr(cpu_inference, "_onednn_ops", lambda: (reorder, broken))
    with pytest.warns(RuntimeWarning, match="failed on a trial input \\(mkldnn: unsupported on this CPU\\)"):
        prepare_for_inference(model, "cpu")
    assert not any(isinstance(m, PrepackedLinear) for m in model.modules())

    # a layer packed before the operator broke falls back on its first failing call, with one warning
    monkeypatch.undo()
    packed = build_model(tiny_sct_config)
    packed.load_state_dict(plain.state_dict())
    prepare_for_inference(packed, "cpu")
    monkeypatch.setattr(cpu_inference, "_onednn_ops", lambda: (reorder, broken))
    x = torch.randn(2, 30, 17, 3)
    with pytest.warns(RuntimeWarning, match="this layer runs on plain PyTorch from now on"):
        with torch.inference_mode():
            out = packed(x)
    with torch.inference_mode():
        torch.testing.assert_close(out, plain(x), atol=1e-5, rtol=1e-5)
