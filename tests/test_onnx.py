"""ONNX export round trips on tiny models (ONNX Runtime vs PyTorch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from lib.model import build_model  # noqa: E402
from lib.utils.onnx_export import (  # noqa: E402
    OnnxExportError,
    compare_speed,
    compresses_time,
    export_onnx,
    max_abs_difference,
    onnx_session,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dim_feat=16, dim_rep=16, depth=2, num_heads=2, mlp_ratio=2, maxlen=10, num_joints=17, att_fuse=True)


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


def test_dstformer_dynamic_frames_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model({**TINY, "backbone": "DSTformer"}).eval()
    path = tmp_path / "dst.onnx"
    export_onnx(model, path, frames=10, dynamic_frames=True, optimize=False)
    session = onnx_session(path, threads=1)
    for batch, frames in ((1, 1), (2, 4), (1, 10)):
        assert max_abs_difference(session, model, torch.randn(batch, frames, 17, 3)) < 1e-4


def test_dynamic_frames_refused_for_compressing_model(tmp_path):
    model = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [0]})
    with pytest.raises(OnnxExportError, match="fixed number of frames"):
        export_onnx(model, tmp_path / "x.onnx", frames=10, dynamic_frames=True)
    with pytest.raises(OnnxExportError, match="between 1 and maxlen=10"):
        export_onnx(model, tmp_path / "x.onnx", frames=11)
    assert not list(tmp_path.iterdir())


def test_cli_rejects_dynamic_frames_for_sct(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("dim_feat: 16\ndim_rep: 16\ndepth: 2\nnum_heads: 2\nmaxlen: 10\n")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "export_onnx.py"), "--config", str(config),
                           "--override", "freq_prune_layer=[1]", "--dynamic-frames", "--out",
                           str(tmp_path / "m.onnx")], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: --dynamic-frames needs a model without spectral compression (this "
                                   "config compresses layers [1]); export with a fixed --frames instead")
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.yaml"]


def test_cli_exports_checks_and_times(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("dim_feat: 16\ndim_rep: 16\ndepth: 2\nnum_heads: 2\nmaxlen: 10\nbackbone: DSTformer\n"
                      "freq_prune_layer: []\n")
    out = tmp_path / "sub" / "dst.onnx"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "export_onnx.py"), "--config", str(config),
                           "--dynamic-frames", "--repeats", "1", "--threads", "1", "--no-optimize", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    checks = [line for line in proc.stdout.splitlines() if line.startswith("check:")]
    assert len(checks) == 6  # lengths 1, 5, 10 at batch 1 and 3
    assert all(float(line.rsplit("=", 1)[1]) < 1e-4 for line in checks)
    assert "ONNX Runtime" in proc.stdout and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["dst.onnx"]
