"""Hostile JSON: deep nesting, long strings, huge numbers, non-standard constants.

Every entry point that parses JSON from the server, the model or a file must turn
each of these into a value or one clear error line, never a ``RecursionError``.
"""

from __future__ import annotations

from collections.abc import Callable


def _deep(opener: str, closer: str, depth: int, *, closed: bool = True) -> str:
    return opener * depth + ("1" + closer * depth if closed else "")


JSON_CORPUS: dict[str, Callable[[], str]] = {
    "arrays-10k": lambda: _deep("[", "]", 10_000),
    "arrays-1M-unclosed": lambda: _deep("[", "]", 1_000_000, closed=False),
    "objects-100k": lambda: _deep('{"a":', "}", 100_000),
    "mixed-50k-unclosed": lambda: _deep('[{"a":', "", 50_000, closed=False),
    "brackets-in-strings": lambda: '["' + "[" * 100_000 + '"]',  # valid: depth 1
    "long-string": lambda: '"' + "x" * (1 << 20) + '"',
    "huge-float": lambda: "1e999999",
    "huge-int": lambda: "9" * 100_000,
    "nan": lambda: "NaN",
    "negative-infinity": lambda: "[-Infinity]",
    "nested-in-a-chunk": lambda: '{"choices":[{"delta":{"content":' + "[" * 100_000 + "}}]}",
}
