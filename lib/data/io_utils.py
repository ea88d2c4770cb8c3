"""Small file helpers for the data tools: atomic writes."""

from __future__ import annotations

import os
import pickle

from lib.utils.atomic_io import atomic_open


def atomic_pickle_dump(obj: object, path: str | os.PathLike) -> None:
    """Pickle ``obj`` to ``path`` through a temporary file in the same folder, renamed when complete."""
    with atomic_open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
