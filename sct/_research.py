"""Where the research code under the public API lives.

In a checkout it is the top-level ``lib`` package (MotionBERT's layout, which ``train.py``, ``tools/`` and
``demo/`` import). An installed wheel carries the same files as ``sct._lib``, so that ``pip install .`` puts no
generic top-level name such as ``lib`` into site-packages. ``lib`` uses relative imports only, so both names
work. :func:`research_module` picks one name per process (the checkout's ``lib`` when it is on the path), so
that no module is imported twice under two names.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

_PACKAGE = Path(__file__).resolve().parent


def _root() -> str:
    if (_PACKAGE / "_lib").is_dir():  # an installed wheel
        return "sct._lib"
    spec = importlib.util.find_spec("lib")
    if spec is not None and spec.origin and Path(spec.origin).resolve().parent == _PACKAGE.parent / "lib":
        return "lib"  # a checkout on the path: the same modules that train.py and the tests import
    return "sct._lib"  # an editable install used from elsewhere: the install maps sct._lib to the checkout's lib


RESEARCH_PACKAGE = _root()


def research_module(name: str) -> ModuleType:
    """The research module ``name`` (e.g. ``"model"``, ``"utils.skeleton"``) of this installation."""
    return importlib.import_module(f"{RESEARCH_PACKAGE}.{name}")
