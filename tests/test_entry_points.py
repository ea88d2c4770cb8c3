"""Every entry script starts both ways a user runs it: installed (``pip install -e .``, modelled here by the
repository on PYTHONPATH, as conftest sets for all subprocesses) and from a plain checkout as a module."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["train.py", "demo/vis.py"] + sorted(f"tools/{p.name}" for p in (ROOT / "tools").glob("*.py")
                                                if p.name != "__init__.py")


def _help(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_script_help_from_any_folder(script, tmp_path):
    done = _help([sys.executable, str(ROOT / script), "--help"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


@pytest.mark.slow
@pytest.mark.parametrize("script", [s for s in SCRIPTS if s != "train.py"])
def test_module_help_from_a_plain_checkout(script):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    module = script.removesuffix(".py").replace("/", ".")
    done = _help([sys.executable, "-m", module, "--help"], cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


@pytest.mark.slow
def test_train_script_from_a_plain_checkout():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = _help([sys.executable, "train.py", "--help"], cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr


def _installed_scripts() -> list[str]:
    try:
        dist = importlib.metadata.distribution("sct")
    except importlib.metadata.PackageNotFoundError:
        return []
    return sorted(ep.name for ep in dist.entry_points if ep.group == "console_scripts")


@pytest.mark.slow
@pytest.mark.skipif(not _installed_scripts(), reason="the project is not installed (make install)")
@pytest.mark.parametrize("name", _installed_scripts())
def test_console_scripts(name, tmp_path):
    exe = shutil.which(name, path=str(Path(sys.executable).parent))
    assert exe, f"{name} is declared but not installed beside {sys.executable}"
    done = _help([exe, "--help"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
