"""FLOP counting, the benchmark logic and its CLI, on tiny models."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from lib.model import build_model
from lib.perf import benchmark as bench
from lib.perf.cpu_inference import onednn_linear_available, prepack_linear_layers
from lib.perf.flops import count_flops, count_linear_macs, count_parameters

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


def test_default_rows_cover_the_study():
    """σ ∈ {0.4, 0.5, 0.6, 0.7, 0.8, 1} for SCT, other sets of compressed layers, DSTformer with and without the
    plug-in, the plain reference."""
    keys = bench.default_variant_keys(5)
    assert keys == ["dstformer", "dstformer_sc0.8", "dstformer_sc0.6", "dstformer_sc0.4", "dstformer_sc0.6_layers3+4",
                    "sct_sigma1", "sct_sigma0.8", "sct_sigma0.7", "sct", "sct_sigma0.5", "sct_sigma0.4",
                    "sct_sigma0.6_layers0+1", "sct_sigma0.6_layers3+4", "reference_sct"]
    variants = bench.standard_variants(dict(TINY, depth=5), reference_factory=lambda c: nn.Identity())
    assert [v.key for v in variants] == keys
    labels = {v.key: v.label for v in variants}
    assert labels["sct_sigma0.6_layers0+1"] == "SCT σ=0.6 (layers 0, 1)"
    assert labels["dstformer_sc0.6_layers3+4"] == "DSTformer + SC σ=0.6 (layers 3, 4)"
    assert labels["sct_sigma1"] == "SCT σ=1 (no compression)"


@pytest.mark.parametrize("key, backbone, ratios", [
    ("sct", "SCTformer", [0.6, 0.6]),
    ("sct_sigma0.45", "SCTformer", [0.45, 0.45]),
    ("sct_sigma.3_layers1", "SCTformer", [1.0, 0.3]),
    ("sct_sigma1", "SCTformer", [1.0, 1.0]),
    ("dstformer", "DSTformer", [1.0, 1.0]),
    ("dstformer_sc0.7_layers0", "DSTformer", [0.7, 1.0]),
    ("dstformer_sc0.5_layers1+0", "DSTformer", [0.5, 0.5]),
])
def test_variant_keys_build_what_they_say(key, backbone, ratios):
    model = bench.variant_from_key(key, TINY).factory()
    assert type(model).__name__ == backbone
    assert [float(r) for r in model.compress_ratios] == ratios
    assert model(torch.randn(1, 12, 17, 3)).shape == (1, 12, 17, 3)


@pytest.mark.parametrize("key, message", [
    ("sct_sigma1.5", "σ must be in (0, 1]"),
    ("sct_sigma0", "σ must be in (0, 1]"),
    ("sct_sigma0.6_layers2", "layer 2 does not exist (the model has layers 0..1)"),
    ("motionbert", "unknown model key 'motionbert'"),
    ("sct_sigma0.6_layers", "unknown model key"),
    ("reference_sct", "needs the plain reference"),
])
def test_variant_keys_reject_nonsense(key, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        bench.variant_from_key(key, TINY)


def _tiny_report() -> bench.BenchmarkReport:
    variants = bench.standard_variants(TINY, keys=["dstformer", "dstformer_sc0.6", "sct"])
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
    for table, columns in ((bench.speed_table(report, "cpu", 1), 7), (bench.cost_table(report), 10)):
        lines = table.splitlines()
        assert len(lines) == 2 + 3
        assert all(line.count("|") == columns + 1 for line in lines)
        assert lines[2].startswith("| DSTformer (MotionBERT) |") and lines[2].count("1.00×") >= 1
    # cost conventions: MACs = FLOPs / 2, per frame = per clip / 12 frames
    cost = report.costs["sct"]
    assert math.isclose(cost.gmacs * 2, cost.gflops)
    assert math.isclose(cost.mflops_per_frame, cost.gflops * 1e3 / 12)
    assert math.isclose(cost.linear_mmacs_per_frame, cost.linear_gmacs * 1e3 / 12)
    assert report.costs["dstformer_sc0.6"].gflops < report.costs["dstformer"].gflops


def _run_cli(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    config = tmp_path / "tiny.yaml"
    config.write_text("\n".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in TINY.items()))
    cmd = [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--config", str(config), "--frames", "12",
           "--warmup", "0", "--repeats", "2", "--no-progress", "--device", "cpu", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.mark.slow
def test_cli_writes_markdown_csv_and_figure(tmp_path):
    accuracy = tmp_path / "acc.csv"
    accuracy.write_text("model,mpjpe_mm,source\ndstformer,39.2,paper\nsct,37.7,paper\n")
    out_md, out_csv, fig = tmp_path / "b.md", tmp_path / "b.csv", tmp_path / "p.png"
    proc = _run_cli(tmp_path, "--models", "dstformer,sct,reference_sct", "--batch-sizes", "1",
                    "--out-md", str(out_md), "--out-csv", str(out_csv), "--figure", str(fig),
                    "--accuracy", str(accuracy))
    assert proc.returncode == 0, proc.stderr
    md = out_md.read_text()
    assert "### Cost — one clip of 12 frames, batch 1" in md
    assert "### Speed — CPU, batch 1, 12 frames" in md and "### Implementation" in md
    assert "SCT fp32 vs ReferenceSCT fp32" in md
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    # dstformer and sct at fp32 and bf16, the reference at fp32 only
    assert sorted((r["model"], r["precision"]) for r in rows) == [
        ("dstformer", "bf16"), ("dstformer", "fp32"), ("reference_sct", "fp32"), ("sct", "bf16"), ("sct", "fp32")]
    assert all(float(r["fps"]) > 0 and int(r["repeats"]) == 2 for r in rows)
    sct = next(r for r in rows if r["model"] == "sct")
    assert math.isclose(float(sct["gmacs_per_clip"]), float(sct["gflops_per_clip"]) / 2, rel_tol=1e-3)
    assert next(r for r in rows if r["model"] == "reference_sct")["params"] == ""  # FFTs are not counted
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp*"))
    # the figure can be redrawn from the CSV alone
    old = bench.read_csv_report(out_csv)
    assert [r.median_ms for r in old.results] == [float(r["median_ms"]) for r in rows]
    assert old.costs["sct"].params == int(sct["params"])
    assert old.cpu_clock == "wall"
    replot = tmp_path / "replot.png"
    assert _cli().main(["--replot", str(out_csv), "--figure", str(replot), "--accuracy", str(accuracy)]) == 0
    assert replot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_cli_default_batches_and_results_json(tmp_path):
    """Latency and throughput batches by default; --results puts a trained model on the accuracy panel."""
    results = tmp_path / "best_epoch_results.json"
    results.write_text(json.dumps({"epoch": 3, "p1": 73.8, "p2": 54.5, "per_action": {}}))
    out_csv, fig = tmp_path / "b.csv", tmp_path / "p.png"
    proc = _run_cli(tmp_path, "--models", "dstformer,sct_sigma0.5_layers1", "--precisions", "fp32",
                    "--out-md", str(tmp_path / "b.md"), "--out-csv", str(out_csv), "--figure", str(fig),
                    "--results", f"sct_sigma0.5_layers1={results}")
    assert proc.returncode == 0, proc.stderr
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted({int(r["batch"]) for r in rows}) == list(bench.DEFAULT_BATCHES["cpu"])
    assert {r["label"] for r in rows} == {"DSTformer (MotionBERT)", "SCT σ=0.5 (layers 1)"}
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert bench.read_results_json(results) == (73.8, "best_epoch_results.json, epoch 3")
    results.write_text(json.dumps({"checkpoint": "checkpoint/best_epoch.bin", "p1": 37.7}))
    assert bench.read_results_json(results) == (37.7, "checkpoint/best_epoch.bin")


def test_figure_setting_prefers_gpu_throughput_else_cpu_latency():
    variant = bench.Variant("dstformer", "DSTformer", nn.Identity)
    results = [bench.Result("dstformer", "DSTformer", bench.Setting(d, p, b, 12), [1.0])
               for d, batches in (("cpu", (1, 4)), ("cuda", (1, 64))) for b in batches for p in ("bf16", "fp32")]
    report = bench.BenchmarkReport([variant], {}, results, {})
    assert bench.figure_setting(report) == ("cuda", "fp32", 64)
    report.results = [r for r in results if r.setting.device == "cpu" and r.setting.precision == "bf16"]
    assert bench.figure_setting(report) == ("cpu", "bf16", 1)


@pytest.mark.parametrize("args, message", [
    (["--frames", "300"], "--frames 300 must be between 1 and maxlen=243"),
    (["--models", "nope"], "--models: unknown model key 'nope'"),
    (["--models", "sct_sigma0.6_layers5"], "--models: sct_sigma0.6_layers5: layer 5 does not exist"),
    (["--models", "sct,sct"], "--models: model keys repeat"),
    (["--precisions", "fp8"], "--precisions"),
    (["--batch-sizes", "0"], "--batch-sizes must list positive integers"),
    (["--device", "tpu"], "--device: unknown tpu"),
    (["--compile", "--warmup", "0"], "--compile compiles during the warm-up"),
    (["--replot", "x.csv"], "--replot needs --figure"),
    (["--results", "sct"], "--results expects NAME=PATH"),
    (["--results", "sct=missing.json"], "missing.json"),
])
def test_cli_rejects_bad_input(args, message, capsys):
    assert _cli().main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_rejects_results_for_unknown_row_or_without_mpjpe(tmp_path, capsys):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"p1": 40.0}))
    bad.write_text(json.dumps({"mpjpe": 40.0}))
    assert _cli().main(["--models", "dstformer,sct,reference_sct", "--results", f"sct_sigma0.5={good}"]) == 2
    assert "--results: sct_sigma0.5 is not a row of this run; rows: dstformer, sct\n" in capsys.readouterr().err
    assert _cli().main(["--models", "sct", "--results", f"sct={bad}"]) == 2
    assert "no MPJPE; expected the evaluation JSON of train.py with a number under 'p1'" in capsys.readouterr().err


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
