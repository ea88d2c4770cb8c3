"""FLOP counting, the benchmark logic and its CLI, on tiny models."""

from __future__ import annotations

import csv
import importlib.util
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from lib.model import build_model
from lib.utils import benchmark as bench
from lib.utils.cpu_inference import onednn_linear_available, prepack_linear_layers
from lib.utils.flops import count_flops, count_linear_macs, count_parameters

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dim_feat=16, dim_rep=16, depth=2, num_heads=2, mlp_ratio=2, maxlen=12, num_joints=17, att_fuse=True)


def _cli():
    """``tools/benchmark.py`` as a module, to call its ``main`` in-process."""
    spec = importlib.util.spec_from_file_location("benchmark_cli", ROOT / "tools" / "benchmark.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_linear_macs_and_flops_by_hand():
    """Two linear layers and one attention call, counted by hand."""

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 6)
            self.b = nn.Linear(6, 8)

        def forward(self, x):  # x: (B, T, 4)
            h = self.b(self.a(x))  # (B, T, 8)
            q = h.view(h.shape[0], h.shape[1], 2, 4).transpose(1, 2)  # (B, 2 heads, T, 4)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    x = torch.randn(3, 5, 4)
    tokens = 3 * 5
    linear = tokens * (4 * 6 + 6 * 8)
    attention = 2 * (2 * 3 * 2 * 5 * 5 * 4)  # QK^T and AV: 2 FLOPs per MAC, B*H*T*T*d MACs each
    count = count_flops(Toy(), x)
    assert count_linear_macs(Toy(), x) == linear == count.linear_macs
    assert count.attention_flops == attention
    assert count.flops == 2 * linear + attention
    assert count.frames == tokens


def test_dstformer_flops_match_closed_form():
    model = build_model({**TINY, "backbone": "DSTformer"})
    T, J, C, H = 12, 17, 16, 2
    count = count_flops(model, torch.randn(1, T, J, 3))
    per_stream_token = 2 * (C * 3 * C + C * C + C * 2 * C + 2 * C * C)  # two sub-layers: qkv, proj, fc1, fc2
    tokens = T * J
    expected_linear = tokens * (2 * 2 * per_stream_token + 3 * C + C * 16 + 16 * 3)  # 2 layers, 2 streams
    assert count.linear_macs == expected_linear
    d = C // H
    spatial = 4 * T * H * J * J * d
    temporal = 4 * J * H * T * T * d
    assert count.attention_flops == 2 * 2 * (spatial + temporal)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_compression_reduces_flops():
    plain = count_flops(build_model({**TINY, "backbone": "DSTformer"}), torch.randn(1, 12, 17, 3))
    plugged = count_flops(build_model({**TINY, "backbone": "DSTformer", "dct_ratio": 0.5,
                                       "freq_prune_layer": [0, 1]}), torch.randn(1, 12, 17, 3))
    assert plugged.flops < 0.75 * plain.flops


def test_standard_variants_and_pareto_front():
    variants = bench.standard_variants(TINY, reference_factory=None)
    keys = [v.key for v in variants]
    assert keys[0] == "dstformer" and "sct" in keys and "dstformer_sc0.6" in keys
    assert "reference_sct" not in keys
    model = dict((v.key, v) for v in variants)["dstformer_sc0.6"].factory()
    assert model.compress_ratios == [0.6, 0.6]
    # speed up, error down: (1, 40) and (3, 39) are dominated by (3, 38)
    assert bench.pareto_front([(1.0, 40.0), (3.0, 38.0), (2.0, 37.0), (3.0, 39.0), (5.0, 45.0)]) == [2, 1, 4]


def _tiny_report() -> bench.BenchmarkReport:
    variants = [v for v in bench.standard_variants(TINY) if v.key in ("dstformer", "dstformer_sc0.6", "sct")]
    settings = [bench.Setting("cpu", p, 1, 12) for p in ("fp32", "bf16")]
    return bench.run_benchmark(variants, settings, warmup=1, repeats=3)


def test_run_benchmark_measures_every_row_and_setting():
    report = _tiny_report()
    assert len(report.results) == 6
    for r in report.results:
        assert len(r.times_ms) == 3 and r.median_ms > 0
        assert math.isclose(r.fps, 12 / (r.median_ms / 1e3))
    rows = bench.csv_rows(report)
    assert {row["speedup_vs_baseline"] for row in rows if row["model"] == "dstformer"} == {1.0}
    table = bench.efficiency_table(report, "cpu", 1)
    lines = table.splitlines()
    assert len(lines) == 2 + 3
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "| DSTformer (MotionBERT) |" in lines[2] and "1.00×" in lines[2]


def test_cli_writes_markdown_csv_and_figure(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("\n".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in TINY.items()))
    accuracy = tmp_path / "acc.csv"
    accuracy.write_text("model,mpjpe_mm,source\ndstformer,39.2,paper\nsct,37.7,paper\n")
    out_md, out_csv, fig = tmp_path / "b.md", tmp_path / "b.csv", tmp_path / "p.png"
    cmd = [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--config", str(config), "--frames", "12",
           "--warmup", "0", "--repeats", "2", "--models", "dstformer,sct,reference_sct", "--no-progress",
           "--out-md", str(out_md), "--out-csv", str(out_csv), "--figure", str(fig), "--accuracy", str(accuracy)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = out_md.read_text()
    assert "### Efficiency — CPU, batch 1, 12 frames" in md and "### Implementation" in md
    assert "SCT fp32 vs ReferenceSCT fp32" in md
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    # dstformer and sct at fp32 and bf16, the reference at fp32 only
    assert sorted((r["model"], r["precision"]) for r in rows) == [
        ("dstformer", "bf16"), ("dstformer", "fp32"), ("reference_sct", "fp32"), ("sct", "bf16"), ("sct", "fp32")]
    assert all(float(r["fps"]) > 0 and int(r["repeats"]) == 2 for r in rows)
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp*"))
    # the figure can be redrawn from the CSV alone
    old = bench.read_csv_report(out_csv)
    assert [r.median_ms for r in old.results] == [float(r["median_ms"]) for r in rows]
    assert old.costs["sct"].params == int(next(r["params"] for r in rows if r["model"] == "sct"))
    replot = tmp_path / "replot.png"
    assert _cli().main(["--replot", str(out_csv), "--figure", str(replot), "--accuracy", str(accuracy)]) == 0
    assert replot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--frames", "300"], "--frames 300 must be between 1 and maxlen=243"),
    (["--models", "nope"], "--models: unknown nope"),
    (["--precisions", "fp8"], "--precisions"),
    (["--batch-sizes", "0"], "--batch-sizes must list positive integers"),
    (["--replot", "x.csv"], "--replot needs --figure"),
])
def test_cli_rejects_bad_input(args, message, capsys):
    assert _cli().main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_process_clock_ignores_waiting():
    """A sleeping call takes wall time but (almost) no CPU time."""
    assert bench.time_call(lambda: time.sleep(0.1), "cpu", clock="wall") >= 100.0
    assert bench.time_call(lambda: time.sleep(0.1), "cpu", clock="process") < 20.0
    with pytest.raises(ValueError, match="unknown clock"):
        bench.time_call(lambda: None, "cpu", clock="gpu")


@pytest.mark.skipif(not onednn_linear_available(), reason="this PyTorch build has no oneDNN linear kernels")
def test_prepacked_linear_matches_default_and_keeps_names():
    torch.manual_seed(0)
    model = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [0, 1]}).eval()
    names = list(model.state_dict())
    x = torch.randn(2, 12, 17, 3)
    with torch.inference_mode():
        expected = model(x)
    assert prepack_linear_layers(model) == sum(isinstance(m, nn.Linear) for m in model.modules()) > 0
    assert list(model.state_dict()) == names
    with torch.inference_mode():
        assert torch.allclose(model(x), expected, atol=1e-5)
    # new weights are picked up (the packed copy is rebuilt), and training still has gradients
    other = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [0, 1]}).eval()
    model.load_state_dict(other.state_dict())
    with torch.inference_mode():
        assert torch.allclose(model(x), other(x), atol=1e-5)
    trained = build_model(TINY)  # training takes the default path and has gradients
    assert prepack_linear_layers(trained) > 0
    trained(x).square().mean().backward()
    assert trained.head.weight.grad is not None
