"""A training run killed with SIGKILL leaves a loadable latest_epoch.bin, and the same command resumes and
finishes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from lib.utils.checkpoint import load_checkpoint_file
from tests._train_data import write_config, write_tiny_h36m
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

EPOCHS = 6


@pytest.fixture(scope="module")
def command(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    keys = write_tiny_h36m(root)
    cfg = write_config(root / "c.yaml", keys, epochs=EPOCHS, checkpoint_frequency=3)

    def make(ck) -> list[str]:
        return [sys.executable, "train.py", "--config", str(cfg), "-c", str(ck), "--workers", "0",
                "--no-progress", "--device", "cpu"]
    return make


def _start(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    # own process group, so that the kill reaches the whole run
    return subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _wait_for(path, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < end, f"no {path} after {timeout} s"
        time.sleep(0.01)


def _finish_and_check(argv: list[str], ck, killed_at: str) -> None:
    """The left checkpoint (if any) loads; the same command resumes from it and completes every epoch."""
    latest = ck / "latest_epoch.bin"
    done_before = load_checkpoint_file(latest)["epoch"] if latest.exists() else 0
    assert 0 <= done_before <= EPOCHS, killed_at
    proc = _start(argv)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{killed_at}: {err}"
    if done_before:
        assert f"resuming {latest} at epoch {done_before + 1}" in out, killed_at
    final = load_checkpoint_file(latest)
    assert final["epoch"] == EPOCHS
    assert {"epoch", "lr", "optimizer", "model_pos", "min_loss", "model_args"} <= set(final)
    epochs_logged = [int(ln[1:].split("]")[0]) for ln in out.splitlines() if ln.startswith("[")]
    assert epochs_logged == list(range(done_before + 1, EPOCHS + 1)), killed_at


@pytest.fixture(scope="module")
def first_checkpoint_s(tmp_path_factory, command):
    """Seconds from the start of a run to its first checkpoint (a run killed right after it appears, then
    resumed, is the first test)."""
    ck = tmp_path_factory.mktemp("first") / "ck"
    t0 = time.monotonic()
    proc = _start(command(ck))
    _wait_for(ck / "latest_epoch.bin", proc)
    _kill(proc)
    return time.monotonic() - t0, ck


def test_kill_after_the_first_checkpoint_then_resume(command, first_checkpoint_s):
    _, ck = first_checkpoint_s
    assert load_checkpoint_file(ck / "latest_epoch.bin")["epoch"] >= 1
    _finish_and_check(command(ck), ck, "after the first checkpoint")


@pytest.fixture(scope="module")
def full_run_s(tmp_path_factory, command) -> float:
    """Seconds an uninterrupted run takes, from its start to its exit."""
    ck = tmp_path_factory.mktemp("full") / "ck"
    t0 = time.monotonic()
    proc = _start(command(ck))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return time.monotonic() - t0


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_at_a_random_early_moment_then_resume(tmp_path, command, full_run_s, seed):
    # the run dies at a random moment in the first 60 % of an uninterrupted run's time: during start-up, an
    # epoch, an evaluation or a save; the kill must reach a running process (else the test proves nothing)
    ck = tmp_path / "ck"
    delay = random.Random(seed).uniform(0, 0.6 * full_run_s)
    proc = _start(command(ck))
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended before the kill at {delay:.2f} s (seed {seed})"
    _kill(proc)
    _finish_and_check(command(ck), ck, f"killed after {delay:.2f} s (seed {seed})")
