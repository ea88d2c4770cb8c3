"""torch.profiler tables of a forward pass and of a training step (tools/profile_model.py)."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lib.model import build_model
from lib.perf.profiling import ProfileSetting, profile_table
from lib.perf.timing import Setting, random_clip
from lib.perf.training import make_train_step

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("train", [False, True])
def test_profile_table_of_a_tiny_model(tiny_sct_config, train):
    model = build_model(tiny_sct_config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    table = profile_table(model, ProfileSetting(batch=1, frames=27, train=train, warmup=0, steps=1), row_limit=50)
    assert "Self CPU" in table and "aten::addmm" in table
    assert ("autograd::engine" in table) == train  # a training step runs backward
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert changed == train  # and an optimizer step


def test_profiled_training_step_is_the_benchmarks(tiny_sct_config):
    # the profile explains the benchmark's --train numbers: the same inputs, loss and AdamW update
    torch.manual_seed(0)
    profiled = build_model(tiny_sct_config)
    timed = copy.deepcopy(profiled)
    profile_table(profiled, ProfileSetting(batch=2, frames=27, train=True, warmup=0, steps=1))  # one step
    setting = Setting(device="cpu", precision="fp32", batch=2, frames=27)
    step, _ = make_train_step(timed, random_clip(setting, 17), random_clip(setting, 17, seed=1), setting)
    step()
    for (name, a), b in zip(profiled.state_dict().items(), timed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


@pytest.mark.slow
def test_cli_profiles_and_refuses_bad_input(tmp_path):
    tool = str(ROOT / "tools" / "profile_model.py")
    small = ["--override", "dim_feat=16", "--override", "dim_rep=16", "--override", "depth=1",
             "--override", "num_heads=2", "--override", "freq_prune_layer=[0]"]
    done = subprocess.run([sys.executable, tool, *small, "--frames", "9", "--steps", "1", "--warmup", "0",
                           "--train", "--rows", "5"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("SCT training step, batch 1, 9 frames, fp32, cpu")
    assert "Self CPU time total" in done.stdout
    bad = subprocess.run([sys.executable, tool, "--frames", "999"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --frames must be between 1 and the config's maxlen 243"
