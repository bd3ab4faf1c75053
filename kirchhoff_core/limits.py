"""The stated limits, and the checks that apply them before any work or allocation.

Every size a file, a flag or a form can declare is compared with one of these numbers before
memory is allocated or a solve starts, so a hostile or mistyped value ends in a ``ValueError``
that names the field and the limit (docs/file-format.md lists them), never in an
``OverflowError``, a ``MemoryError`` or a hang.
"""

from __future__ import annotations

import math
import reprlib
from numbers import Integral, Real
from typing import Any

MAX_FILE_BYTES = 200 * 1024 * 1024
"""A circuit JSON document (and a GraphML file) larger than this is refused before it is read."""
MAX_WEIGHTS_BYTES = 96 * 1024 * 1024
"""A sibling .safetensors weights file larger than this is refused before it is read."""
MAX_NODES = 100_000
"""Non-ground nodes of a circuit (and of each slice)."""
MAX_DEVICES = 8_000_000
"""Devices of a circuit, all slices together (the paper's SVHN/CIFAR circuit, 3 x 2,054,018, fits)."""
MAX_SLICES = 10_000
"""Time slices of a circuit."""
MAX_JSON_DEPTH = 64
"""Nesting of lists and objects in a circuit document's free-form sections (``meta``, ``training``)."""
MAX_STATE_VALUES = 50_000_000
"""Time points x batch x nodes one solve may return (400 MB in float64)."""
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 60, 60, 40
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 6


def show(value: Any) -> str:
    """A short repr of a user-supplied value for an error message: bounded in length and depth, so a
    huge or deeply nested value cannot blow up the message (or the recursion limit) itself."""
    try:
        return _REPR.repr(value)
    except (ValueError, RecursionError):  # e.g. an integer past Python's digit limit
        return f"<{type(value).__name__}>"


def check_int(value: Any, what: str, low: int = INT64_MIN, high: int = INT64_MAX,
              error: type[ValueError] = ValueError) -> int:
    """An integer in [low, high] (a float with an integral value counts); booleans are refused."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise error(f"{what}: must be an integer, got {show(value)}")
    if not low <= value <= high:
        raise error(f"{what}: must be in [{low:,}, {high:,}], got {show(int(value))}")
    return int(value)


def check_number(value: Any, what: str, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, error: type[ValueError] = ValueError) -> float:
    """A finite real number in [low, high] (or (low, high] with ``low_open``). Booleans, NaN,
    infinities and integers too big for a float are refused, naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise error(f"{what}: must be a number, got {show(value)}")
    try:
        x = float(value)
    except OverflowError:
        raise error(f"{what}: {show(value)} is too large for a float") from None
    if not math.isfinite(x):
        raise error(f"{what}: must be a finite number, got {x!r}")
    if x < low or x > high or (low_open and x == low):
        left = "(" if low_open else "["
        raise error(f"{what}: must be in {left}{low:g}, {high:g}], got {x!r}")
    return x


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether lists / objects nest deeper than ``limit`` (iterative, stops at the first too deep)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, (list, tuple)):
            if depth > limit:
                return True
            stack.extend((x, depth + 1) for x in v if isinstance(x, (dict, list, tuple)))
    return False
