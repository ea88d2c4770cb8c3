"""Accuracies to place rows on the Pareto figure: a CSV of known numbers and ``train.py``'s evaluation JSON."""

from __future__ import annotations

import csv
import json
import math
import os


def read_accuracy(path: str | os.PathLike) -> dict[str, tuple[float, str]]:
    """Read ``model,mpjpe_mm,source`` rows (``model`` = a row key) into ``{key: (mpjpe, source)}``."""
    table = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"model", "mpjpe_mm"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                             "expected a header 'model,mpjpe_mm,source'")
        for line in reader:
            try:
                value = float(line["mpjpe_mm"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: mpjpe_mm of {line['model']!r} is not a number") from exc
            if math.isfinite(value):
                table[line["model"]] = (value, line.get("source") or "")
    return table


def read_results_json(path: str | os.PathLike) -> tuple[float, str]:
    """MPJPE (protocol 1, mm) of an evaluation JSON written by ``train.py`` (``<checkpoint>_results.json`` or
    ``--evaluate``'s output), and a short source label (the evaluated checkpoint when recorded, else the file
    name; the epoch when recorded)."""
    try:
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a JSON file ({exc.msg} at line {exc.lineno})") from None
    value = payload.get("p1") if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{path}: no MPJPE; expected the evaluation JSON of train.py with a number under 'p1'")
    checkpoint = payload.get("checkpoint")
    source = checkpoint if isinstance(checkpoint, str) and checkpoint else os.path.basename(os.fspath(path))
    if isinstance(payload.get("epoch"), int):
        source += f", epoch {payload['epoch']}"
    return float(value), source
