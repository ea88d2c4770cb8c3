"""ONNX export round trips on tiny models (ONNX Runtime vs PyTorch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from lib.model import build_model  # noqa: E402
from lib.model.dynamic_length import integer_ratio  # noqa: E402
from lib.model.spectral import SpectralCompression, compressed_length, spectral_compress  # noqa: E402
from lib.perf.onnx_export import (  # noqa: E402
    OnnxExportError,
    check_lengths,
    compare_speed,
    compresses_time,
    export_onnx,
    max_abs_difference,
    onnx_session,
)
from tests.tiny_models import tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_config(dim_rep=16, maxlen=10, dct_ratio=None, freq_prune_layer=None)


@pytest.mark.slow
def test_sct_fixed_frames_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [0, 1]}).eval()
    assert compresses_time(model)
    path = tmp_path / "sct.onnx"
    export_onnx(model, path, frames=10, optimize=False)
    session = onnx_session(path, threads=1)
    for batch in (1, 3):  # the batch axis is dynamic
        x = torch.randn(batch, 10, 17, 3)
        assert max_abs_difference(session, model, x) < 1e-4
    with pytest.raises(Exception, match="(?i)dimension|shape|index"):
        session.run(None, {"keypoints_2d": torch.randn(1, 7, 17, 3).numpy()})  # T is fixed
    speed = compare_speed(session, model, torch.randn(1, 10, 17, 3), warmup=1, repeats=2)
    assert speed.torch_fps > 0 and speed.onnx_fps > 0
    assert not [p for p in tmp_path.iterdir() if p.name != "sct.onnx"]  # no temporary files left


@pytest.mark.slow
def test_sct_dynamic_frames_round_trip(tmp_path):
    """SCT, one file for every frame count 1..maxlen. Layer 0 keeps T frames (its output is summed as it
    is), layer 1 compresses (its output is resampled to T); the CLI test below compresses every layer."""
    torch.manual_seed(0)
    model = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [1]}).eval()
    assert model.compress_ratios == [1.0, 0.6]
    path = tmp_path / "sct_dynamic.onnx"
    export_onnx(model, path, frames=10, dynamic_frames=True, optimize=False)
    session = onnx_session(path, threads=1)
    for frames in range(1, 11):  # every length, 1 and maxlen included
        assert max_abs_difference(session, model, torch.randn(1, frames, 17, 3)) < 1e-5, frames
    assert max_abs_difference(session, model, torch.randn(3, 7, 17, 3)) < 1e-5
    assert not [p for p in tmp_path.iterdir() if p.name != "sct_dynamic.onnx"]


@pytest.mark.slow
def test_dstformer_with_compression_plugin_dynamic_frames_round_trip(tmp_path):
    """DSTformer (input residuals, last layer's output) with compression in its second layer only."""
    torch.manual_seed(0)
    model = build_model({**TINY, "backbone": "DSTformer", "dct_ratio": 0.5, "freq_prune_layer": [1]}).eval()
    assert model.compress_ratios == [1.0, 0.5]
    path = tmp_path / "dst.onnx"
    export_onnx(model, path, frames=10, dynamic_frames=True, optimize=False)
    session = onnx_session(path, threads=1)
    for batch, frames in ((1, 1), (2, 2), (1, 3), (2, 4), (1, 9), (1, 10)):
        assert max_abs_difference(session, model, torch.randn(batch, frames, 17, 3)) < 1e-5


RATIOS = (0.4, 0.5, 0.6, 0.7, 0.8)


def test_integer_length_formula_matches_compressed_length():
    """The integer T' of a symbolic length equals the eager floating-point one for every T <= 243."""
    assert [integer_ratio(r) for r in RATIOS] == [(2, 5), (1, 2), (3, 5), (7, 10), (4, 5)]
    for ratio in RATIOS:
        p, q = integer_ratio(ratio)
        assert [(t * p + q - 1) // q for t in range(1, 244)] == [compressed_length(t, ratio) for t in range(1, 244)]


class _CompressEach(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList(SpectralCompression(r, dim=1) for r in RATIOS)

    def forward(self, x):
        return tuple(layer(x) for layer in self.layers)


@pytest.mark.slow
def test_exported_compression_every_length(tmp_path):
    """In ONNX Runtime, every T in 1..243 gives T' = compressed_length(T, ratio) frames and the eager values."""
    path = tmp_path / "compress.onnx"
    with open(path, "wb") as f:  # the bare exporter (export_onnx wants a lifting model)
        torch.onnx.export(_CompressEach().eval(), (torch.randn(1, 243, 2, 3),), f, dynamo=True,
                          dynamic_shapes={"x": {1: torch.export.Dim("frames", min=1, max=243)}},
                          external_data=False, optimize=False)
    session = onnx_session(path, threads=1)
    name = session.get_inputs()[0].name
    generator = torch.Generator().manual_seed(0)
    for frames in range(1, 244):
        x = torch.randn(1, frames, 2, 3, generator=generator)
        for ratio, got in zip(RATIOS, session.run(None, {name: x.numpy()}), strict=True):
            assert got.shape == (1, compressed_length(frames, ratio), 2, 3), (frames, ratio)
            # eager float32; the in-graph operator is built in float64 like the eager one (within 1e-6)
            np.testing.assert_allclose(got, spectral_compress(x, ratio).numpy(), rtol=0, atol=1e-5)


def test_check_lengths():
    assert check_lengths(243, 243, dynamic_frames=False) == [243]
    assert check_lengths(243, 243, dynamic_frames=True) == [1, 2, 3, 7, 121, 242, 243]
    assert check_lengths(27, 243, dynamic_frames=True) == [1, 2, 3, 7, 13, 27, 242, 243]
    assert check_lengths(2, 2, dynamic_frames=True) == [1, 2]


@pytest.mark.slow
def test_export_refusals(tmp_path):
    model = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [0]})
    with pytest.raises(OnnxExportError, match="between 1 and maxlen=10"):
        export_onnx(model, tmp_path / "x.onnx", frames=11)
    # 50 * 0.14 == 7.000000000000001, so ceil gives 8 frames there: no fraction p/q reproduces that
    odd = build_model({**TINY, "dct_ratio": 0.14, "freq_prune_layer": [0]})
    with pytest.raises(OnnxExportError, match=r"compression ratio 0.14: no integer fraction reproduces"):
        export_onnx(odd, tmp_path / "x.onnx", frames=10, dynamic_frames=True)
    long = build_model({**TINY, "maxlen": 5000, "dct_ratio": 0.6, "freq_prune_layer": [0]})
    with pytest.raises(OnnxExportError, match="checked up to 4096 frames, but maxlen=5000"):
        export_onnx(long, tmp_path / "x.onnx", frames=10, dynamic_frames=True)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_exports_sct_with_dynamic_frames(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("dim_feat: 16\ndim_rep: 16\ndepth: 2\nnum_heads: 2\nmaxlen: 10\n")  # SCT, 0.6 everywhere
    out = tmp_path / "sub" / "sct.onnx"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "export_onnx.py"), "--config", str(config),
                           "--dynamic-frames", "--repeats", "1", "--threads", "1", "--no-optimize", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "compression ratio per layer [0.6, 0.6]; dynamic frames" in proc.stderr
    checks = [line for line in proc.stdout.splitlines() if line.startswith("check:")]
    assert [line.split(":")[1].strip() for line in checks[::2]] == [
        f"batch 1, {t} frames" for t in (1, 2, 3, 5, 7, 9, 10)]
    assert len(checks) == 14  # at batch 1 and 3
    assert all(float(line.rsplit("=", 1)[1]) < 1e-4 for line in checks)
    assert "ONNX Runtime" in proc.stdout and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["sct.onnx"]
