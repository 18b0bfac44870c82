"""Previews of NumPy arrays and pandas frames and series: a header, a markdown head
table dropping rows until the budget fits, and what was left out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gmi_magics.context.clipping import ELLIPSIS, MAX_CELL_CHARS, Cuts, safe_repr

__all__ = ["HEAD_ROWS", "MAX_COLUMNS", "dataframe_preview", "ndarray_preview", "series_preview"]

HEAD_ROWS = 10
MAX_COLUMNS = 20
_ARRAY_THRESHOLD = 40  # larger arrays are summarised by their edges


def ndarray_preview(array: Any, np: Any, cuts: Cuts) -> str:
    """Shape/dtype header plus a summarised ``array2string``."""
    header = f"ndarray shape={tuple(array.shape)} dtype={array.dtype}"
    body = np.array2string(
        array, threshold=_ARRAY_THRESHOLD, edgeitems=3, precision=4, max_line_width=100
    )
    if array.size > _ARRAY_THRESHOLD:
        cuts.phrases.append(f"sent a summary (first and last values of {array.size:,})")
    return f"{header}\n{body}"


def dataframe_preview(frame: Any, max_chars: int, cuts: Cuts) -> str:
    """Shape line, dtypes line, a markdown head table and what was left out."""
    n_rows, n_cols = frame.shape
    shown = frame.iloc[:HEAD_ROWS, :MAX_COLUMNS]
    more_cols = n_cols - shown.shape[1]
    dtypes = [f"{_cell(name, cuts)} ({dtype})" for name, dtype in shown.dtypes.items()]
    head = [
        f"DataFrame: {n_rows:,} rows × {n_cols:,} columns",
        "columns: " + ", ".join(dtypes + [ELLIPSIS] * bool(more_cols)),
    ]
    header = [_cell(frame.index.name or "", cuts), *(_cell(c, cuts) for c in shown.columns)]
    rows = [[_cell(i, cuts), *(_cell(v, cuts) for v in row)] for i, row in _rows(shown)]
    notes = [f"{ELLIPSIS} {more_cols:,} more columns"] if more_cols else []
    text, sent = _fit_table(head, header, rows, n_rows, notes, max_chars)
    left_out = [f"{sent:,} of {n_rows:,} rows"] * (sent < n_rows)
    left_out += [f"{n_cols - more_cols:,} of {n_cols:,} columns"] * bool(more_cols)
    if left_out:
        cuts.phrases.append(f"sent a preview ({', '.join(left_out)})")
    return text


def series_preview(series: Any, max_chars: int, cuts: Cuts) -> str:
    """Name, length, dtype and the head as a two-column table."""
    name = "" if series.name is None else f" {safe_repr(series.name)}"
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
        tail = [f"{ELLIPSIS} {more:,} more rows"] if more else []
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


def _cell(value: Any, cuts: Cuts) -> str:
    """One table cell: floats to 4 significant digits, one line, ``|`` escaped."""
    if _is_float(value):
        text = format(float(value), ".4g")
    elif isinstance(value, str):
        text = value
    else:
        text = _safe_str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + ELLIPSIS
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
        return safe_repr(value)
