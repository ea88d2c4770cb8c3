"""The error type the training entry point turns into one line and exit code 2."""

from __future__ import annotations


class InputError(RuntimeError):
    """Bad input a user can fix (missing data, empty dataset, NaN loss, ...); the message says how."""
