"""preview(): compact, budgeted renderings of pandas, NumPy and builtin values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import heavy_modules_after

from gmi_magics.context.clipping import clip
from gmi_magics.context.preview import MIN_CHARS, preview


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("boom")


class BadLen(list[int]):
    def __len__(self) -> int:
        raise RuntimeError("no len")


def _frame(rows: int = 1000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": range(rows),
            "b": [i * 1.23456789 for i in range(rows)],
            "c": ["x"] * rows,
            "d": [True] * rows,
            "e": np.full(rows, 1 / 3, dtype="float32"),
        }
    )


WIDE = pd.DataFrame(np.arange(3 * 32).reshape(3, 32))
PIPES = pd.DataFrame({"a|b": ["x|y", "line\nbreak"]})


# --- DataFrame ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (_frame(), "DataFrame: 1,000 rows × 5 columns"),
        (
            _frame(),
            "columns: a (int64), b (float64), c (str), d (bool), e (float32)",
        ),
        (_frame(), "|  | a | b | c | d | e |\n|---|---|---|---|---|---|"),
        (_frame(), "| 3 | 3 | 3.704 | x | True | 0.3333 |"),
        (_frame(), "| 9 | 9 | 11.11 | x | True | 0.3333 |\n… 990 more rows"),
        (_frame(3), "| 2 | 2 | 2.469 | x | True | 0.3333 |"),
        (WIDE, "DataFrame: 3 rows × 32 columns"),
        (WIDE, "| 19 |\n|---|"),
        (WIDE, "… 12 more columns"),
        (WIDE, "19 (int64), …\n"),
        (PIPES, "| a\\|b |"),
        (PIPES, "| 0 | x\\|y |\n| 1 | line break |"),
        (pd.DataFrame(), "DataFrame: 0 rows × 0 columns"),
    ],
)
def test_dataframe_contains(frame: pd.DataFrame, expected: str) -> None:
    assert expected in preview(frame)


@pytest.mark.parametrize(
    ("frame", "absent"),
    [
        (_frame(3), "more rows"),
        (_frame(), "| 10 |"),
        (WIDE, "| 20 |"),
        (_frame(), "1.2345678"),
        (pd.DataFrame(), "|"),
    ],
)
def test_dataframe_leaves_out(frame: pd.DataFrame, absent: str) -> None:
    assert absent not in preview(frame)


def test_dataframe_drops_rows_to_fit_budget() -> None:
    text = preview(_frame(), max_chars=300)
    assert len(text) <= 300
    assert text.endswith("more rows")
    assert "| 0 | 0 | 0 |" in text
    assert "| 9 |" not in text


def test_dataframe_named_index() -> None:
    frame = pd.DataFrame({"v": [1.5]}, index=pd.Index(["r"], name="key"))
    assert "| key | v |\n|---|---|\n| r | 1.5 |" in preview(frame)


def test_dataframe_long_cells_are_cut() -> None:
    text = preview(pd.DataFrame({"t": ["w" * 500]}))
    assert "w" * 59 + "…" in text
    assert "w" * 61 not in text


# --- Series -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (pd.Series([1.0, 2.5], name="price"), "Series 'price': 2 rows, dtype float64"),
        (pd.Series([1.0, 2.5], name="price"), "|  | price |\n|---|---|\n| 0 | 1 |"),
        (pd.Series([1, 2]), "Series: 2 rows, dtype int64\n|  | value |"),
        (pd.Series(range(50)), "| 9 | 9 |\n… 40 more rows"),
        (pd.Series([2 / 3]), "| 0 | 0.6667 |"),
        (pd.Series(["a|b"], index=["i|j"]), "| i\\|j | a\\|b |"),
    ],
)
def test_series(series: pd.Series, expected: str) -> None:
    assert expected in preview(series)


# --- NumPy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.arange(5), "ndarray shape=(5,) dtype=int64\n[0 1 2 3 4]"),
        (np.array([[1 / 3, 2.0]]), "ndarray shape=(1, 2) dtype=float64\n[[0.3333 2."),
        (np.zeros((100, 3)), "ndarray shape=(100, 3) dtype=float64"),
        (np.arange(10_000), "[   0    1    2 ... 9997 9998 9999]"),
        (np.array(7), "ndarray shape=() dtype=int64\n7"),
    ],
)
def test_ndarray(array: np.ndarray, expected: str) -> None:
    assert expected in preview(array)


def test_large_ndarray_is_summarised() -> None:
    text = preview(np.random.default_rng(0).random((1000, 1000)))
    assert "..." in text
    assert len(text) < 1000


@pytest.mark.parametrize(
    ("value", "expected"),
    [(np.int64(2), "2"), (np.float64(0.5), "0.5"), (np.str_("s"), "s")],
)
def test_numpy_scalars_read_plainly(value: object, expected: str) -> None:
    assert preview(value) == expected


# --- strings, containers, anything else --------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello", "hello"),
        ([1, 2, 3], "[1, 2, 3]"),
        ((1,), "(1,)"),
        ((1, "a"), "(1, 'a')"),
        ({"k": [1, 2]}, "{'k': [1, 2]}"),
        ({1}, "{1}"),
        (set(), "set()"),
        (frozenset(), "frozenset()"),
        (frozenset({1}), "frozenset({1})"),
        ([], "[]"),
        ({}, "{}"),
        ([[1, [2]], (3,)], "[[1, [2]], (3,)]"),
        (None, "None"),
        (3.5, "3.5"),
        (BadRepr(), "<BadRepr object (repr failed: RuntimeError: boom)>"),
        ([BadRepr()], "[<BadRepr object (repr failed: RuntimeError: boom)>]"),
    ],
)
def test_short_values_read_as_repr(value: object, expected: str) -> None:
    assert preview(value) == expected


def test_self_containing_list() -> None:
    value: list[object] = [1]
    value.append(value)
    assert preview(value) == "[1, [...]]"


@pytest.mark.parametrize(
    ("value", "max_chars", "start", "end"),
    [
        ("x" * 5000, 100, "xxxx", " … [truncated, 4,932 more chars]"),
        (list(range(10_000)), 100, "[0, 1, 2,", ", … 9,978 more items]"),
        (tuple(range(1000)), 60, "(0, 1,", "more items)"),
        ({str(i): i for i in range(1000)}, 100, "{'0': 0, '1': 1,", "more items}"),
        (set(range(1000)), 80, "{0, 1,", "more items}"),
        (["y" * 1000], 80, "['yyy", "more chars]]"),
        ([["z" * 200] * 5] * 5, 150, "[['zzz", "… 4 more items]"),
        (BadLen([1, 2]), 50, "[1, 2]", "[1, 2]"),
    ],
)
def test_long_values_are_cut_with_markers(
    value: object, max_chars: int, start: str, end: str
) -> None:
    text = preview(value, max_chars=max_chars)
    assert text.startswith(start)
    assert text.endswith(end)
    assert len(text) <= max_chars


def test_one_more_item_is_singular() -> None:
    assert preview(["a" * 30, "b" * 30], max_chars=50).endswith("… 1 more item]")


VALUES: list[object] = [
    "s" * 10_000,
    "multi\nline\n" * 500,
    list(range(5000)),
    {i: str(i) * 20 for i in range(500)},
    [{"k": list(range(100))}] * 50,
    _frame(),
    WIDE,
    pd.DataFrame({"t": ["w" * 100] * 50}),
    pd.Series(range(1000), name="n"),
    np.arange(100_000).reshape(1000, 100),
    np.array(["q" * 300] * 50),
    BadRepr(),
    object(),
    range(10**9),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("max_chars", [1, 10, 47, 48, 49, 60, 100, 250, 777, 2000])
def test_budget_is_never_exceeded(value: object, max_chars: int) -> None:
    assert len(preview(value, max_chars=max_chars)) <= max(max_chars, MIN_CHARS)


@pytest.mark.parametrize("max_chars", [0, -5])
def test_budget_must_be_positive(max_chars: int) -> None:
    with pytest.raises(ValueError, match="max_chars must be positive"):
        preview("x", max_chars=max_chars)


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("short", 10, "short"),
        ("a" * 100, 50, "a" * 20 + " … [truncated, 80 more chars]"),
        ("a\nb" * 40, 60, "a\nb" * 10 + "\n… [truncated, 90 more chars]"),
        ("a" * 100, 5, "… [truncated, 100 more chars]"),
    ],
)
def test_clip(text: str, max_chars: int, expected: str) -> None:
    assert clip(text, max_chars) == expected


def test_does_not_import_pandas_or_numpy() -> None:
    statement = "import gmi_magics.context.preview as p; p.preview([1, {'a': 2}])"
    assert heavy_modules_after(statement) == "[]"
