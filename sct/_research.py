"""Where the research code under the public API lives.

In a checkout it is the top-level ``lib`` package (MotionBERT's layout, which ``train.py``, ``tools/`` and
``demo/`` import). An installed wheel carries the same files as ``sct._lib``, so that ``pip install .`` puts no
generic top-level name such as ``lib`` into site-packages. ``lib`` uses relative imports only, so both names
work; :func:`research_module` returns whichever is present.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def _root() -> str:
    try:
        importlib.import_module("sct._lib")
    except ModuleNotFoundError:
        return "lib"
    return "sct._lib"


RESEARCH_PACKAGE = _root()


def research_module(name: str) -> ModuleType:
    """The research module ``name`` (e.g. ``"model"``, ``"utils.skeleton"``) of this installation."""
    return importlib.import_module(f"{RESEARCH_PACKAGE}.{name}")
