"""``loads_bounded``: ``json.loads`` for hostile text (server replies, model output, files).

Deeply nested JSON makes ``json.loads`` raise ``RecursionError`` (a traceback wall) or,
if it parses, breaks later recursive code; huge inputs exhaust memory. Here depth is
checked cheaply before parsing (brackets outside strings), size up front, and the
non-standard constants ``NaN``/``Infinity`` are refused. Every failure is a
``JSONLimitError``, a ``ValueError``, so existing ``except ValueError`` handlers catch it.
Stdlib only; imports nothing from the package.
"""

from __future__ import annotations

import functools
import json
import re
from itertools import accumulate
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "JSONLimitError", "json_depth_exceeds", "loads_bounded"]

DEFAULT_MAX_DEPTH = 200
MAX_INT_DIGITS = 4300  # Python's default int/str conversion limit
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONLimitError(ValueError):
    """JSON text that is too deep, too large or otherwise not acceptable."""


def loads_bounded(
    data: str | bytes | bytearray,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_bytes: int | None = None,
) -> Any:
    """Parse JSON that may be hostile; ``max_bytes`` counts bytes (characters for str).

    Raises ``JSONLimitError`` (a ``ValueError``) for nesting deeper than ``max_depth``,
    input longer than ``max_bytes``, ``NaN``/``Infinity`` or numbers that overflow to
    infinity; ``json.JSONDecodeError`` (also a ``ValueError``) for invalid JSON.
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise JSONLimitError(f"JSON text longer than {max_bytes} bytes")
    text = _as_text(data)
    _check_depth(text, max_depth)
    try:
        return _decoder().decode(text)
    except RecursionError:  # unreachable after the depth check; kept as a backstop
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as error:  # int(): over sys.get_int_max_str_digits() digits
        if "digits" not in str(error) or isinstance(error, json.JSONDecodeError):
            raise
    raise JSONLimitError(f"JSON number has more than {MAX_INT_DIGITS} digits")


@functools.cache
def _decoder() -> json.JSONDecoder:
    """One decoder with our hooks (``json.loads`` with hooks builds one per call: ~10 us)."""
    return json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True if brackets outside strings nest deeper than ``max_depth``."""
    if text.count("[") + text.count("{") <= max_depth:  # fast path: cannot be deeper
        return False
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > max_depth


def _check_depth(text: str, max_depth: int) -> None:
    if json_depth_exceeds(text, max_depth):
        raise JSONLimitError(f"JSON nested deeper than {max_depth} levels")


def _as_text(data: str | bytes | bytearray) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as error:
        raise JSONLimitError(f"JSON text is not valid UTF-8 ({error.reason})") from None


def _refuse_constant(name: str) -> Any:
    raise JSONLimitError(f"JSON contains {name}, which is not standard JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONLimitError(f"JSON number {text[:20]}… is too large")
    return value
