r"""Frame counts that are symbolic sizes: ``torch.export`` and the ONNX export with a dynamic frame count.

In eager PyTorch (and in an export with a fixed frame count) every length is an ``int`` and the time
operators are cached constants. When the frame axis is exported as dynamic, ``x.shape[1]`` is a
``torch.SymInt`` and three things change, all of them here or called from here:

- the compressed length :math:`T' = \lceil T\sigma \rceil` is computed in integers as ``(T p + q - 1) // q``
  with ``p / q`` the ratio as a fraction (:func:`integer_ratio`, equal to the floating-point ceiling for
  every ``T <= 4096``), so the exported graph has no floating-point rounding of its own;
- the time operators (spectral compression, interpolation back to ``T`` frames) are built inside the
  graph from the symbolic lengths on every call instead of being cached (:mod:`lib.model.time_operator`);
- two lengths count as equal only when they are the same expression (:func:`known_equal`), since a test
  that depends on the value of the length would specialise the export to one length.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import torch
from torch.fx.experimental.symbolic_shapes import statically_known_true

LENGTH_CHECKED_UP_TO = 4096  # integer_ratio reproduces the floating-point ceiling for every T up to this


def is_symbolic(length) -> bool:
    """Whether ``length`` is a traced symbolic size (``torch.SymInt``) and not an ``int``."""
    return isinstance(length, torch.SymInt)


def known_equal(a, b) -> bool:
    """``a == b`` for ints; for symbolic lengths, whether they are equal for every value of the length."""
    return statically_known_true(a == b)


@functools.cache
def integer_ratio(ratio: float) -> tuple[int, int]:
    """``(p, q)`` with ``(T * p + q - 1) // q == math.ceil(T * ratio)`` (Python's floating-point ceiling, the
    eager compressed length) for every ``1 <= T <= 4096``.

    ``p / q`` is the simplest fraction near ``ratio`` that reproduces the floating-point ceiling for all
    those lengths (``0.6 -> (3, 5)``). Every ratio with one decimal has one; a few with more do not, because
    the product rounds up past an integer (``50 * 0.14 == 7.000000000000001``, whose ceiling is 8).

    Raises:
        ValueError: ``ratio`` outside ``(0, 1]``, or no such fraction with a denominator up to 10**6.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"compression ratio must be in (0, 1], got {ratio}")
    expected = [math.ceil(t * ratio) for t in range(1, LENGTH_CHECKED_UP_TO + 1)]
    for max_denominator in (10, 100, 1000, 10_000, 1_000_000):
        fraction = Fraction(ratio).limit_denominator(max_denominator)
        p, q = fraction.numerator, fraction.denominator
        if all((t * p + q - 1) // q == e for t, e in enumerate(expected, start=1)):
            return p, q
    raise ValueError(f"no integer fraction reproduces ceil(T * {ratio}) for every T <= {LENGTH_CHECKED_UP_TO}; "
                     "a dynamic sequence length is not supported for this ratio")


def symbolic_compressed_length(length: torch.SymInt, ratio: float) -> torch.SymInt:
    """``ceil(length * ratio)`` of a symbolic length, in integer arithmetic (see :func:`integer_ratio`)."""
    numerator, denominator = integer_ratio(ratio)
    return (length * numerator + denominator - 1) // denominator
