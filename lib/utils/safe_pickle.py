"""Read data pickles without running code from them.

``pickle.load`` calls whatever global a file names, so a crafted dataset file can run any code on the
machine that opens it. Every data pickle the project reads (the Human3.6M-layout pickle, the clip
pickles) goes through :class:`DataUnpickler`, which resolves only the globals that plain data needs:

* NumPy arrays, dtypes and scalars, as written by NumPy 2 (``numpy._core.*``) and by NumPy 1.x
  (``numpy.core.*``, e.g. MotionBERT's released files), with any pickle protocol;
* Python containers and values: dict, list, tuple, set, str, bytes, numbers, bool, None (most need no
  global at all; protocol 2 names ``set``, ``complex`` and ``_codecs.encode`` for bytes) and
  ``collections.OrderedDict``.

Anything else is refused before it is called, with :class:`UnsafePickleError` naming the file and the
global. Checkpoints are read by ``torch.load(..., weights_only=True)``, not here.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import collections
import importlib
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle names a global outside the data allowlist; the message names the file and the global."""


def _numpy_core(submodule: str) -> Any:
    """``numpy._core.<submodule>`` (NumPy >= 2) or ``numpy.core.<submodule>`` (NumPy 1.x)."""
    for package in ("numpy._core", "numpy.core"):
        try:
            return importlib.import_module(f"{package}.{submodule}")
        except ImportError:
            continue
    raise ImportError(f"numpy has neither numpy._core.{submodule} nor numpy.core.{submodule}")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    multiarray = _numpy_core("multiarray")
    numeric = _numpy_core("numeric")
    numpy_core = {
        ("multiarray", "_reconstruct"): multiarray._reconstruct,  # ndarray, protocols 2-4
        ("multiarray", "scalar"): multiarray.scalar,  # NumPy scalars (np.float64(1.0), np.str_('a'))
        ("numeric", "_frombuffer"): numeric._frombuffer,  # ndarray, protocol 5
    }
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("_codecs", "encode"): codecs.encode,  # bytes in protocol < 3: encode(str, 'latin1')
        ("collections", "OrderedDict"): collections.OrderedDict,
    }
    for package in ("numpy.core", "numpy._core"):  # NumPy 1.x wrote numpy.core, NumPy 2 numpy._core
        for (sub, name), obj in numpy_core.items():
            table[(f"{package}.{sub}", name)] = obj
    return table


_ALLOWED = _allowed_globals()


class DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of :data:`_ALLOWED` (plain data and NumPy arrays).

    Args:
        file: binary file object to read.
        source: the name used in error messages (normally the file's path).
    """

    def __init__(self, file: BinaryIO, source: str = "<pickle>") -> None:
        # latin1 reads NumPy arrays pickled by Python 2 too; Python 3 pickles are unaffected
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (protocol 2 writes builtins as __builtin__), mapped as pickle's own find_class does
        key = _compat_pickle.NAME_MAPPING.get((module, name),
                                              (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        if key in _ALLOWED:
            return _ALLOWED[key]
        raise UnsafePickleError(
            f"{self.source}: refused to load global '{module}.{name}' (a data pickle may hold only NumPy "
            f"arrays and plain Python values; do not open this file with pickle.load either)")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: refused a persistent id (not a plain data pickle)")


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with :class:`DataUnpickler`; ``source`` names it in error messages."""
    return DataUnpickler(io.BytesIO(data), source=source).load()


def load_pickle(path: str | os.PathLike) -> Any:
    """Unpickle the file at ``path`` with :class:`DataUnpickler`.

    Raises :class:`UnsafePickleError` for a global outside the allowlist, and what ``pickle.load`` raises
    for a damaged file (``pickle.UnpicklingError``, ``EOFError``, ...).
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        return DataUnpickler(fh, source=path).load()
