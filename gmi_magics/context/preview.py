"""Render any Python value compactly for a model, within a size budget.

``preview(value, max_chars=...)`` never raises for any value and never returns
more than ``max(max_chars, MIN_CHARS)`` characters. ``render_preview`` returns
the same text plus ``cut``: one phrase saying what was left out ("sent a preview
(10 of 10,000 rows)", "cut to 1,950 of 120,311 characters"), empty when nothing
was. pandas and NumPy are optional: they are recognised through ``sys.modules``
and never imported here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

__all__ = ["MIN_CHARS", "Preview", "clip", "holds_text", "preview", "render_preview"]

MIN_CHARS = 48
"""Smallest budget always honoured; below it the truncation marker may exceed it."""

HEAD_ROWS = 10
MAX_COLUMNS = 20
MAX_CELL_CHARS = 60
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Preview:
    """A rendered value and what was left out of it ("" when nothing was)."""

    text: str
    cut: str = ""


@dataclass
class _Cuts:
    """What a rendering left out: phrases about the value, and nested shortening."""

    phrases: list[str] = field(default_factory=list)
    items_shortened: bool = False
    cells_shortened: bool = False

    def summary(self) -> str:
        """One phrase for the user, e.g. "sent 37 of 10,000 items, some shortened"."""
        phrases = list(self.phrases)
        if self.items_shortened:
            phrases.append("some items shortened")
        if self.cells_shortened:
            phrases.append(f"long cells cut to {MAX_CELL_CHARS} characters")
        return "; ".join(phrases)


def preview(value: object, *, max_chars: int = 2000) -> str:
    """Render ``value`` compactly in at most ``max(max_chars, MIN_CHARS)`` chars."""
    return render_preview(value, max_chars=max_chars).text


def render_preview(value: object, *, max_chars: int = 2000) -> Preview:
    """``preview`` plus a phrase saying what was left out to fit the budget."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, not {max_chars}")
    cuts = _Cuts()
    try:
        text = _render(value, max_chars, cuts)
    except Exception:  # a hostile __len__/__iter__/dtype: fall back to repr
        cuts = _Cuts()
        text = _safe_repr(value)
    clipped, kept = _clip(text, max_chars)
    if kept < len(text):
        cuts.phrases.append(f"cut to {kept:,} of {len(text):,} characters")
    return Preview(clipped, cuts.summary())


def clip(text: str, max_chars: int) -> str:
    """Cut ``text`` to ``max_chars``, ending with ``… [truncated, N more chars]``."""
    return _clip(text, max_chars)[0]


def _clip(text: str, max_chars: int) -> tuple[str, int]:
    """``clip`` and how many characters of ``text`` it kept."""
    if len(text) <= max_chars:
        return text, len(text)
    longest = _truncated(len(text))  # the marker can only get shorter than this
    keep = max(0, max_chars - len(longest) - 1)
    marker = _truncated(len(text) - keep)
    if not keep:
        return marker, 0
    head = text[:keep]
    separator = "\n" if "\n" in head else " "
    return f"{head}{separator}{marker}", keep


def _truncated(count: int) -> str:
    """The marker appended to clipped text."""
    return f"{_ELLIPSIS} [truncated, {count:,} more chars]"


def _render(value: object, max_chars: int, cuts: _Cuts) -> str:
    """Dispatch on the value's type."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return _dataframe(value, max_chars, cuts)
    if pd is not None and isinstance(value, pd.Series):
        return _series(value, max_chars, cuts)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return _ndarray(value, np, cuts)
    if np is not None and isinstance(value, np.generic):
        return str(value)  # np.int64(2) → "2"
    if isinstance(value, str):
        return value
    if type(value) in _BRACKETS:
        return _container(value, max_chars, set(), cuts, top=True)
    return _safe_repr(value)


def _safe_repr(value: object) -> str:
    """``repr(value)``, or a placeholder naming the type when repr raises."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object (repr failed: {describe_exception(exc)})>"


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for an exception, without a trailing colon."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# --- looking for text inside a value -------------------------------------------

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


# --- builtin containers -------------------------------------------------------

_BRACKETS: dict[type, tuple[str, str]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
    dict: ("{", "}"),
}


def _container(value: Any, budget: int, seen: set[int], cuts: _Cuts, top: bool = False) -> str:
    """Render a builtin container, showing the leading items that fit the budget."""
    kind = type(value)
    if not value:
        return f"{kind.__name__}()" if kind in (set, frozenset) else repr(value)
    if id(value) in seen:
        return "[...]" if kind is list else "{...}"
    opening, closing = _BRACKETS[kind]
    seen.add(id(value))
    try:
        room = budget - len(opening) - len(closing)
        pieces = _fitting_items(value, room, seen, cuts)
    finally:
        seen.discard(id(value))
    shown = len(pieces)
    if shown < len(value):
        pieces.append(_more_items(len(value) - shown))
        if top:
            cuts.phrases.append(f"sent {shown:,} of {len(value):,} items")
        else:
            cuts.items_shortened = True
    if kind is tuple and len(value) == 1:
        pieces[0] += ","
    return opening + ", ".join(pieces) + closing


def _fitting_items(value: Any, budget: int, seen: set[int], cuts: _Cuts) -> list[str]:
    """Texts of the leading items that fit ``budget`` (leaving room for a marker)."""
    total = len(value)
    reserve = len(_more_items(total)) + 2
    pieces: list[str] = []
    used = 0
    for item in value.items() if isinstance(value, dict) else value:
        room = budget - used - (2 if pieces else 0)
        if len(pieces) < total - 1:
            room -= reserve
        if room < 1:
            break
        shortened = cuts.items_shortened
        text = _item_text(item, isinstance(value, dict), room, seen, cuts)
        if len(text) > room:
            cuts.items_shortened = shortened  # the item is left out, not shortened
            break
        used += len(text) + (2 if pieces else 0)
        pieces.append(text)
    return pieces


def _more_items(count: int) -> str:
    """The marker standing for items left out."""
    return f"{_ELLIPSIS} {count:,} more item{'' if count == 1 else 's'}"


def _item_text(item: Any, is_pair: bool, room: int, seen: set[int], cuts: _Cuts) -> str:
    """One item's inline text; ``key: value`` for dict entries."""
    if not is_pair:
        return _inline(item, room, seen, cuts)
    key = _inline(item[0], room, seen, cuts)
    return f"{key}: {_inline(item[1], room - len(key) - 2, seen, cuts)}"


def _inline(item: object, room: int, seen: set[int], cuts: _Cuts) -> str:
    """An item inside a container: nested builtins recurse, the rest is repr."""
    if type(item) in _BRACKETS:
        return _container(item, room, seen, cuts)
    whole = _safe_repr(item)
    text, kept = _clip(whole, max(room, 1))
    cuts.items_shortened |= kept < len(whole)
    return text


# --- NumPy -------------------------------------------------------------------


_ARRAY_THRESHOLD = 40  # larger arrays are summarised by their edges


def _ndarray(array: Any, np: Any, cuts: _Cuts) -> str:
    """Shape/dtype header plus a summarised ``array2string``."""
    header = f"ndarray shape={tuple(array.shape)} dtype={array.dtype}"
    body = np.array2string(
        array, threshold=_ARRAY_THRESHOLD, edgeitems=3, precision=4, max_line_width=100
    )
    if array.size > _ARRAY_THRESHOLD:
        cuts.phrases.append(f"sent a summary (first and last values of {array.size:,})")
    return f"{header}\n{body}"


# --- pandas -------------------------------------------------------------------


def _dataframe(frame: Any, max_chars: int, cuts: _Cuts) -> str:
    """Shape line, dtypes line, a markdown head table and what was left out."""
    n_rows, n_cols = frame.shape
    shown = frame.iloc[:HEAD_ROWS, :MAX_COLUMNS]
    more_cols = n_cols - shown.shape[1]
    dtypes = [f"{_cell(name, cuts)} ({dtype})" for name, dtype in shown.dtypes.items()]
    head = [
        f"DataFrame: {n_rows:,} rows × {n_cols:,} columns",
        "columns: " + ", ".join(dtypes + [_ELLIPSIS] * bool(more_cols)),
    ]
    header = [_cell(frame.index.name or "", cuts), *(_cell(c, cuts) for c in shown.columns)]
    rows = [[_cell(i, cuts), *(_cell(v, cuts) for v in row)] for i, row in _rows(shown)]
    notes = [f"{_ELLIPSIS} {more_cols:,} more columns"] if more_cols else []
    text, sent = _fit_table(head, header, rows, n_rows, notes, max_chars)
    left_out = [f"{sent:,} of {n_rows:,} rows"] * (sent < n_rows)
    left_out += [f"{n_cols - more_cols:,} of {n_cols:,} columns"] * bool(more_cols)
    if left_out:
        cuts.phrases.append(f"sent a preview ({', '.join(left_out)})")
    return text


def _series(series: Any, max_chars: int, cuts: _Cuts) -> str:
    """Name, length, dtype and the head as a two-column table."""
    name = "" if series.name is None else f" {_safe_repr(series.name)}"
    head = [f"Series{name}: {len(series):,} rows, dtype {series.dtype}"]
    label = "value" if series.name is None else series.name
    header = [_cell(series.index.name or "", cuts), _cell(label, cuts)]
    items = series.head(HEAD_ROWS).items()
    rows = [[_cell(index, cuts), _cell(item, cuts)] for index, item in items]
    text, sent = _fit_table(head, header, rows, len(series), [], max_chars)
    if sent < len(series):
        cuts.phrases.append(f"sent a preview ({sent:,} of {len(series):,} rows)")
    return text


def _rows(frame: Any) -> Iterator[tuple[object, list[object]]]:
    """Yield ``(index, values)`` per row, keeping each column's own scalar type."""
    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    for position, index in enumerate(frame.index):
        yield index, [column.iloc[position] for column in columns]


def _fit_table(
    head: list[str],
    header: list[str],
    rows: list[list[str]],
    total_rows: int,
    notes: list[str],
    max_chars: int,
) -> tuple[str, int]:
    """Join the parts, dropping table rows from the end until the budget fits;
    the text and how many rows it shows."""
    text, count = "", 0
    for count in range(len(rows), -1, -1):
        more = total_rows - count
        tail = [f"{_ELLIPSIS} {more:,} more rows"] if more else []
        table = _markdown_table(header, rows[:count]) if len(header) > 1 else []
        text = "\n".join([*head, *table, *tail, *notes])
        if len(text) <= max_chars:
            break
    return text, count


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _cell(value: Any, cuts: _Cuts) -> str:
    """One table cell: floats to 4 significant digits, one line, ``|`` escaped."""
    if _is_float(value):
        text = format(float(value), ".4g")
    elif isinstance(value, str):
        text = value
    else:
        text = _safe_str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + _ELLIPSIS
        cuts.cells_shortened = True
    return text


def _is_float(value: object) -> bool:
    """True for ``float`` and NumPy floating scalars (``np.float32`` included)."""
    if isinstance(value, float):
        return True
    if not type(value).__module__.startswith("numpy"):
        return False
    return getattr(getattr(value, "dtype", None), "kind", "") == "f"


def _safe_str(value: object) -> str:
    """``str(value)``, falling back to the safe repr when it raises."""
    try:
        return str(value)
    except Exception:
        return _safe_repr(value)
