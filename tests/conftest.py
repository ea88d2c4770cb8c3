"""Shared fixtures: reference material shipped with the tests and a tiny model configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.tiny_models import tiny_config

REFERENCE_DIR = Path(__file__).parent / "data" / "reference"
REPO_ROOT = Path(__file__).resolve().parents[1]

TINY_SCT = tiny_config()


@pytest.fixture(scope="session", autouse=True)
def _subprocesses_import_this_checkout():
    """Scripts started by the tests import ``lib`` from the checkout under test, installed or not."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
        yield


@pytest.fixture
def tiny_sct_config() -> dict:
    return dict(TINY_SCT)


@pytest.fixture(scope="session")
def sct_case() -> dict:
    return torch.load(REFERENCE_DIR / "sct_equivalence_case.pt", weights_only=True)


def read_key_manifest(name: str) -> dict[str, tuple[int, ...]]:
    """``name<TAB>AxBxC`` lines -> {name without 'module.': shape}."""
    shapes = {}
    for line in (REFERENCE_DIR / name).read_text().splitlines():
        if line.strip():
            key, shape = line.split("\t")
            shapes[key.removeprefix("module.")] = tuple(int(s) for s in shape.split("x"))
    return shapes
