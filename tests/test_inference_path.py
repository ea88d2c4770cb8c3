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
