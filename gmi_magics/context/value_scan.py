"""Whether a value is or holds some text anywhere inside it (e.g. the API key)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from itertools import chain, islice
from typing import Any

__all__ = ["MAX_SCANNED", "holds_text"]

MAX_SCANNED = 100_000
"""Most items ``holds_text`` looks at (strings, container items, cells, attributes)."""
_MAX_DEPTH = 12


def holds_text(value: object, needles: Sequence[str]) -> bool:
    """True when ``value`` is or holds a string containing one of ``needles``: inside
    builtin containers (keys too), bytes, pandas and NumPy text, and object attributes
    (``__dict__``), looking at no more than ``MAX_SCANNED`` items. Never raises."""
    stack: list[tuple[object, int]] = [(value, 0)]
    seen: set[int] = set()
    scanned = 0
    while stack and scanned < MAX_SCANNED:
        item, depth = stack.pop()
        scanned += 1
        text = _as_text(item)
        if text is not None:
            if any(needle in text for needle in needles):
                return True
            continue
        if depth >= _MAX_DEPTH or id(item) in seen:
            continue
        seen.add(id(item))
        room = MAX_SCANNED - scanned
        stack.extend((child, depth + 1) for child in _children(item, room))
    return False


def _as_text(item: object) -> str | None:
    """The text of a ``str`` or bytes-like item, else None."""
    if isinstance(item, str):
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item).decode("utf-8", "replace")
    return None


def _children(item: object, limit: int) -> list[object]:
    """At most ``limit`` values held by ``item`` (none for scalars or on any error)."""
    try:
        return list(islice(_held(item), limit))
    except Exception:  # a hostile __iter__ / __dict__ / dtype: nothing to look at
        return []


def _held(item: Any) -> Iterable[object]:
    """The values ``item`` holds, by kind."""
    if isinstance(item, dict):
        return (part for pair in item.items() for part in pair)
    if isinstance(item, (list, tuple, set, frozenset)):
        return item
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(item, pd.DataFrame):
        columns = (item.iloc[:, i] for i in range(item.shape[1]))
        return chain([item.columns, item.index], columns)
    if pd is not None and isinstance(item, (pd.Series, pd.Index)):
        name = [item.name] if isinstance(item, pd.Series) else []
        return chain(name, item if item.dtype.kind in "OSU" else [])
    np = sys.modules.get("numpy")
    if np is not None and isinstance(item, np.ndarray):
        return item.flat if item.dtype.kind in "OSU" else []
    attributes = getattr(item, "__dict__", None)
    return attributes.values() if isinstance(attributes, dict) else []
