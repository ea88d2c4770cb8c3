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
from lib.perf import accuracy, figure, reports, timing, training
from lib.perf import benchmark as bench
from lib.perf import variants as bench_rows
from lib.perf.cpu_inference import onednn_linear_available, prepack_linear_layers
from lib.perf.flops import count_flops, count_linear_macs, count_parameters
from tests.tiny_models import tiny_config

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_config(dim_rep=16, maxlen=12, dct_ratio=None, freq_prune_layer=None)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run on one thread: on a loaded machine two threads of a tiny model mostly wait on each other
    (the CLI's --threads changes the setting for the whole process, so it is restored after every test)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    variants = bench_rows.standard_variants(TINY, reference_factory=None)
    keys = [v.key for v in variants]
    assert keys[0] == "dstformer" and "sct" in keys and "dstformer_sc0.6" in keys
    assert "reference_sct" not in keys
    model = dict((v.key, v) for v in variants)["dstformer_sc0.6"].factory()
    assert model.compress_ratios == [0.6, 0.6]
    # speed up, error down: (1, 40) and (3, 39) are dominated by (3, 38)
    assert figure.pareto_front([(1.0, 40.0), (3.0, 38.0), (2.0, 37.0), (3.0, 39.0), (5.0, 45.0)]) == [2, 1, 4]


def test_default_rows_cover_the_study():
    """σ ∈ {0.4, 0.5, 0.6, 0.7, 0.8, 1} for SCT, other sets of compressed layers, DSTformer with and without the
    plug-in, the plain reference."""
    keys = bench_rows.default_variant_keys(5)
    assert keys == ["dstformer", "dstformer_sc0.8", "dstformer_sc0.6", "dstformer_sc0.4", "dstformer_sc0.6_layers3+4",
                    "sct_sigma1", "sct_sigma0.8", "sct_sigma0.7", "sct", "sct_sigma0.5", "sct_sigma0.4",
                    "sct_sigma0.6_layers0+1", "sct_sigma0.6_layers3+4", "reference_sct"]
    variants = bench_rows.standard_variants(dict(TINY, depth=5), reference_factory=lambda c: nn.Identity())
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
    """Every key builds its model; an @compile / @cudagraphs suffix keeps the model and names a compiled path."""
    row = bench_rows.variant_from_key(key, TINY)
    model = row.factory()
    assert type(model).__name__ == backbone and row.compile_mode is None
    for path, mode in (("compile", "default"), ("cudagraphs", "reduce-overhead")):
        compiled = bench_rows.variant_from_key(f"{key}@{path}", TINY)
        assert (compiled.key, compiled.label, compiled.compile_mode) == (f"{key}@{path}", f"{row.label} [{path}]", mode)
        assert type(compiled.factory()).__name__ == backbone
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
        bench_rows.variant_from_key(key, TINY)


def _tiny_report() -> bench.BenchmarkReport:
    variants = bench_rows.standard_variants(TINY, keys=["dstformer", "dstformer_sc0.6", "sct"])
    settings = [timing.Setting("cpu", p, 1, 12) for p in ("fp32", "bf16")]
    return bench.run_benchmark(variants, settings, warmup=1, repeats=3)


def test_run_benchmark_measures_every_row_and_setting():
    report = _tiny_report()
    assert len(report.results) == 6
    for r in report.results:
        assert len(r.times_ms) == 3 and r.median_ms > 0
        assert math.isclose(r.fps, 12 / (r.median_ms / 1e3))
    rows = reports.csv_rows(report)
    assert {row["speedup_vs_baseline"] for row in rows if row["model"] == "dstformer"} == {1.0}
    for table, columns in ((reports.speed_table(report, "cpu", 1), 7), (reports.cost_table(report), 10)):
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
    targets = tmp_path / "targets.csv"
    targets.write_text("model,precision,versus,versus_precision,device,batch,at_least\n"
                       "sct,fp32,reference_sct,fp32,cpu,1,1e-9\nsct,fp32,dstformer,fp32,cpu,1,1e9\n")
    proc = _run_cli(tmp_path, "--models", "dstformer,sct,reference_sct", "--batch-sizes", "1",
                    "--out-md", str(out_md), "--out-csv", str(out_csv), "--figure", str(fig),
                    "--accuracy", str(accuracy), "--targets", str(targets))
    assert proc.returncode == 0, proc.stderr
    md = out_md.read_text()
    assert "### Cost — one clip of 12 frames, batch 1" in md
    assert "### Speed — CPU, batch 1, 12 frames" in md and "### Implementation" in md
    assert re.search(r"- SCT \(released, σ=0.6\) fp32 vs ReferenceSCT \(plain\) fp32 \(CPU, batch 1\): "
                     r"[0-9.]+× \(target ≥ 1e-09×\) — met\n", md)
    assert re.search(r"- SCT \(released, σ=0.6\) fp32 vs DSTformer \(MotionBERT\) fp32 \(CPU, batch 1\): "
                     r"[0-9.]+× \(target ≥ 1e\+09×\) — MISSED\n", md)
    assert "### SCT's frames per second over DSTformer's (inference)" in md
    assert re.search(r"\| CPU, batch 1 \| [0-9.]+× \| [0-9.]+× \|", md)
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
    old = reports.read_csv_report(out_csv)
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
    assert accuracy.read_results_json(results) == (73.8, "best_epoch_results.json, epoch 3")
    results.write_text(json.dumps({"checkpoint": "checkpoint/best_epoch.bin", "p1": 37.7}))
    assert accuracy.read_results_json(results) == (37.7, "checkpoint/best_epoch.bin")


def test_figure_setting_prefers_gpu_throughput_else_cpu_latency():
    variant = bench_rows.Variant("dstformer", "DSTformer", nn.Identity)
    results = [timing.Result("dstformer", "DSTformer", timing.Setting(d, p, b, 12), [1.0])
               for d, batches in (("cpu", (1, 4)), ("cuda", (1, 64))) for b in batches for p in ("bf16", "fp32")]
    report = bench.BenchmarkReport([variant], {}, results, {})
    assert figure.figure_setting(report) == ("cuda", "fp32", 64)
    report.results = [r for r in results if r.setting.device == "cpu" and r.setting.precision == "bf16"]
    assert figure.figure_setting(report) == ("cpu", "bf16", 1)


@pytest.mark.parametrize("args, message", [
    (["--frames", "300"], "--frames 300 must be between 1 and maxlen=243"),
    (["--models", "nope"], "--models: unknown model key 'nope'"),
    (["--models", "sct_sigma0.6_layers5"], "--models: sct_sigma0.6_layers5: layer 5 does not exist"),
    (["--models", "sct,sct"], "--models: model keys repeat"),
    (["--precisions", "fp8"], "--precisions"),
    (["--batch-sizes", "0"], "--batch-sizes must list positive integers"),
    (["--device", "tpu"], "--device: unknown tpu"),
    (["--compile", "--warmup", "0"], "compile during the warm-up: use --warmup 1 or more"),
    (["--models", "sct@compile", "--warmup", "0"], "compile during the warm-up: use --warmup 1 or more"),
    (["--models", "dstformer,sct@cudagraphs", "--device", "cpu"], "@cudagraphs rows need --device cuda"),
    (["--models", "sct@jit"], "--models: sct@jit: unknown inference path @jit; use @compile or @cudagraphs"),
    (["--replot", "x.csv"], "--replot needs --figure"),
    (["--results", "sct"], "--results expects NAME=PATH"),
    (["--results", "sct=missing.json"], "missing.json"),
    (["--targets", "missing.csv"], "missing.csv"),
    (["--precisions", "tf32", "--device", "cpu"], "--precisions tf32 is a CUDA setting"),
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
    assert timing.time_call(lambda: time.sleep(0.1), "cpu", clock="wall") >= 100.0
    assert timing.time_call(lambda: time.sleep(0.1), "cpu", clock="process") < 20.0
    with pytest.raises(ValueError, match="unknown clock"):
        timing.time_call(lambda: None, "cpu", clock="gpu")


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


def test_training_loss_is_the_release_objective():
    """The benchmark's loss equals the trainer's total loss with the release's weights."""
    from lib.engine.trainer import compute_losses
    from lib.utils.config import load_config

    cfg = load_config(str(ROOT / "configs" / "MB_train_h36m.yaml"))
    torch.manual_seed(0)
    pred, target = torch.randn(2, 12, 17, 3), torch.randn(2, 12, 17, 3)
    expected = compute_losses(pred, target, cfg)["total"]
    torch.testing.assert_close(training.training_loss(pred, target), expected)


def test_train_step_is_one_adamw_update():
    """One timed step equals forward, loss, backward and torch's AdamW step done by hand; gradients are freed."""
    torch.manual_seed(0)
    model = build_model({**TINY, "backbone": "SCT", "dct_ratio": 0.6, "freq_prune_layer": [0, 1]})
    twin = build_model({**TINY, "backbone": "SCT", "dct_ratio": 0.6, "freq_prune_layer": [0, 1]})
    twin.load_state_dict(model.state_dict())
    setting = timing.Setting("cpu", "fp32", 2, 12)
    x, target = torch.randn(2, 12, 17, 3), torch.randn(2, 12, 17, 3)
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    step, optimizer = training.make_train_step(model, x, target, setting)
    step()
    assert all(p.grad is None for p in model.parameters())
    assert len(optimizer.state) == len(list(model.parameters()))
    twin.train()
    manual = torch.optim.AdamW(twin.parameters(), lr=2e-4, weight_decay=0.01)
    training.training_loss(twin(x), target).backward()
    manual.step()
    changed = 0
    for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, msg=name)
        changed += not torch.equal(p, initial[name])
    assert changed == len(initial)


def test_run_benchmark_train_mode_on_cpu():
    variants = bench_rows.standard_variants(TINY, keys=["dstformer", "sct"])
    settings = [timing.Setting("cpu", p, 2, 12) for p in ("fp32", "bf16")]
    report = bench.run_benchmark(variants, settings, warmup=1, repeats=2, mode="train", count_cost=False)
    assert report.mode == "train" and report.environment["mode"] == "training step (AdamW)"
    assert len(report.results) == 4
    for r in report.results:
        assert len(r.times_ms) == 2 and r.median_ms > 0 and r.peak_bytes is None  # no peak memory on the CPU
        assert math.isclose(r.clips_per_s, 2 / (r.median_ms / 1e3))
        assert math.isclose(r.fps, r.clips_per_s * 12)
    table = reports.speed_table(report, "cpu", 2)
    head = table.splitlines()[0]
    assert head == ("| Model | fp32 ms/step | fp32 clips/s | fp32 FPS | fp32 × DSTformer | bf16 ms/step | bf16 clips/s "
                    "| bf16 FPS | bf16 × DSTformer |")
    with pytest.raises(ValueError, match="unknown mode"):
        bench.run_benchmark(variants, settings, mode="serve")


def test_cli_train_mode_writes_training_tables(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("\n".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in TINY.items()))
    out_md, out_csv = tmp_path / "t.md", tmp_path / "t.csv"
    assert _cli().main(["--config", str(config), "--frames", "12", "--warmup", "1", "--repeats", "2", "--no-progress",
                        "--device", "cpu", "--train", "--models", "dstformer,sct", "--precisions", "fp32",
                        "--no-flops", "--out-md", str(out_md), "--out-csv", str(out_csv)]) == 0
    md = out_md.read_text()
    batch = bench.DEFAULT_TRAIN_BATCHES["cpu"][0]
    assert f"### Training step (AdamW) — CPU, batch {batch}, 12 frames" in md
    assert "### SCT's frames per second over DSTformer's (train)" in md
    assert "### Implementation" not in md  # only where the plain reference was timed
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["mode"] for r in rows} == {"train"} and {r["peak_mib"] for r in rows} == {""}
    for r in rows:
        assert math.isclose(float(r["clips_per_s"]) * 12, float(r["fps"]), rel_tol=1e-3)
    assert reports.read_csv_report(out_csv).mode == "train"


def test_plan_settings_and_default_rows_per_device():
    settings, notes = bench.plan_settings(["cpu", "cuda"], 243)
    assert [(s.device, s.precision, s.batch) for s in settings if s.device == "cuda"] == [
        ("cuda", p, b) for b in (1, 64, 256) for p in ("fp32", "tf32", "bf16")]
    assert [(s.precision, s.batch) for s in settings if s.device == "cpu"] == [
        ("fp32", 1), ("bf16", 1), ("fp32", 4), ("bf16", 4)]
    assert notes == []
    settings, notes = bench.plan_settings(["cpu"], 12, ["fp32", "tf32"], [3], mode="train")
    assert [(s.precision, s.batch, s.frames) for s in settings] == [("fp32", 3, 12)]
    assert notes == ["tf32 is a CUDA setting; the CPU is timed without it"]
    settings, _ = bench.plan_settings(["cuda"], 243, mode="train", bf16_on_cuda=False)
    assert {s.batch for s in settings} == {16, 64} and {s.precision for s in settings} == {"fp32", "tf32"}
    assert bench_rows.default_keys_for_device("cuda", 5) == ["dstformer", "sct", "reference_sct"]
    assert bench_rows.default_keys_for_device("cpu", 5) == bench_rows.default_variant_keys(5)
    # rows limited per device: only the listed rows are timed (and counted for the progress bar)
    variants = bench_rows.standard_variants(TINY, keys=["dstformer", "sct", "dstformer_sc0.6"])
    cpu = [timing.Setting("cpu", "fp32", 1, 12)]
    only = {"cpu": ["dstformer", "sct"]}
    assert [v.key for v in bench.rows_in_setting(variants, cpu[0], only)] == ["dstformer", "sct"]
    assert bench.count_calls(variants, cpu, warmup=1, repeats=2, count_cost=True, keys_by_device=only) == 2 * 3 + 2
    report = bench.run_benchmark(variants, cpu, warmup=0, repeats=1, keys_by_device=only)
    assert [r.key for r in report.results] == ["dstformer", "sct"] and set(report.costs) == {"dstformer", "sct"}


def test_precision_context_rejects_tf32_on_cpu():
    with pytest.raises(ValueError, match="tf32 is a CUDA setting"), timing.precision_context("cpu", "tf32"):
        pass
    with pytest.raises(ValueError, match="unknown precision 'fp16'"), timing.precision_context("cpu", "fp16"):
        pass
    with timing.precision_context("cpu", "bf16"):
        assert torch.is_autocast_enabled("cpu")


@pytest.mark.slow
def test_cli_compile_times_compiled_models(tmp_path):
    out_md = tmp_path / "c.md"
    proc = _run_cli(tmp_path, "--compile", "--warmup", "1", "--models", "sct", "--precisions", "fp32",
                    "--batch-sizes", "1", "--no-flops", "--out-md", str(out_md), "--out-csv", str(tmp_path / "c.csv"))
    assert proc.returncode == 0, proc.stderr
    md = out_md.read_text()
    assert "compile True (mode default)" in md
    assert re.search(r"\| SCT \(released, σ=0.6\) \| [0-9.]+ ± [0-9.]+ \| [0-9,]+ \|", md)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_rows_report_peak_memory_and_tf32_flags():
    variants = bench_rows.standard_variants(TINY, keys=["dstformer", "sct"])
    settings = [timing.Setting("cuda", p, 2, 12) for p in ("fp32", "tf32", "bf16")]
    before = torch.backends.cuda.matmul.allow_tf32
    for mode in ("inference", "train"):
        report = bench.run_benchmark(variants, settings, warmup=1, repeats=2, mode=mode, count_cost=False)
        for r in report.results:
            weights = sum(p.numel() * 4 for p in build_model({**TINY, "backbone": "SCT"}).parameters())
            assert r.peak_bytes is not None and r.peak_bytes > 0.5 * weights
        assert "peak MiB" in reports.speed_table(report, "cuda", 2)
    with timing.precision_context("cuda", "tf32"):
        assert torch.backends.cuda.matmul.allow_tf32
    with timing.precision_context("cuda", "fp32"):
        assert not torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cuda.matmul.allow_tf32 == before


def test_targets_file_and_checks(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# comment\nmodel,precision,versus,versus_precision,device,batch,at_least,mode\n"
                    "sct,fp32,dstformer,fp32,cpu,1,2.5,inference\nsct,bf16,dstformer,bf16,cpu,2,1.8,train\n")
    targets = reports.read_targets(path)
    assert targets == [reports.Target("sct", "fp32", "dstformer", "fp32", "cpu", 1, 2.5),
                       reports.Target("sct", "bf16", "dstformer", "bf16", "cpu", 2, 1.8, "train")]
    variants = [bench_rows.Variant("sct", "SCT", nn.Identity), bench_rows.Variant("dstformer", "DST", nn.Identity)]
    results = [timing.Result("sct", "SCT", timing.Setting("cpu", "fp32", 1, 10), [10.0]),
               timing.Result("dstformer", "DST", timing.Setting("cpu", "fp32", 1, 10), [30.0])]
    report = bench.BenchmarkReport(variants, {}, results, {})
    [(target, text, ratio)] = reports.target_checks(report, targets)  # the train target is for --train runs
    assert target is targets[0] and text == "SCT fp32 vs DST fp32 (CPU, batch 1)" and math.isclose(ratio, 3.0)
    assert "- SCT fp32 vs DST fp32 (CPU, batch 1): 3.00× (target ≥ 2.5×) — met" in reports.markdown_report(
        report, targets=targets)
    path.write_text("model,precision,versus,versus_precision,device,batch,at_least\nsct,fp32,x,fp32,cpu,one,2\n")
    with pytest.raises(ValueError, match="target 1: batch must be an integer and at_least a number"):
        reports.read_targets(path)
    path.write_text("model,precision,versus\n")
    with pytest.raises(ValueError, match="missing column"):
        reports.read_targets(path)
