"""render_preview(): the text plus one phrase saying what was left out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmi_magics.context.preview import Preview, preview, render_preview


def _frame(rows: int, cols: int) -> pd.DataFrame:
    return pd.DataFrame(np.arange(rows * cols).reshape(rows, cols))


@pytest.mark.parametrize(
    ("value", "max_chars", "cut"),
    [
        ("x" * 120_311, 4_000, "cut to 3,966 of 120,311 characters"),
        (_frame(10_000, 40), 2000, "sent a preview (10 of 10,000 rows, 20 of 40 columns)"),
        (_frame(10_000, 8), 400, "sent a preview (4 of 10,000 rows)"),
        (_frame(5, 40), 2000, "sent a preview (20 of 40 columns)"),
        (pd.Series(range(1000)), 2000, "sent a preview (10 of 1,000 rows)"),
        (list(range(10_000)), 100, "sent 22 of 10,000 items"),
        ({i: i for i in range(100)}, 60, "sent 7 of 100 items"),
        (["y" * 1000], 80, "some items shortened"),
        ([["z"] * 50] * 2, 100, "sent 1 of 2 items; some items shortened"),
        ([*range(100), "w" * 100], 450, "some items shortened"),
        (np.arange(1000), 2000, "sent a summary (first and last values of 1,000)"),
        (pd.DataFrame({"t": ["w" * 500]}), 2000, "long cells cut to 60 characters"),
        (object(), 48, ""),
    ],
)
def test_cut_names_what_was_left_out(value: object, max_chars: int, cut: str) -> None:
    result = render_preview(value, max_chars=max_chars)
    assert result.cut == cut
    assert result.text == preview(value, max_chars=max_chars)
    assert "\n" not in result.cut


def test_object_repr_cut_is_reported() -> None:
    class Long:
        def __repr__(self) -> str:
            return "L" * 5000

    assert render_preview(Long(), max_chars=100).cut == "cut to 68 of 5,000 characters"


@pytest.mark.parametrize(
    "value",
    ["short", [1, 2, 3], {"a": 1}, _frame(10, 20), pd.Series(range(10)), np.arange(40), None],
)
def test_whole_values_have_no_cut(value: object) -> None:
    assert render_preview(value) == Preview(preview(value), "")


def test_dataframe_cut_by_the_final_clip_says_so() -> None:
    frame = pd.DataFrame({f"col{'x' * 40}{i}": [1] for i in range(20)})
    result = render_preview(frame, max_chars=200)
    assert len(result.text) <= 200
    assert "cut to" in result.cut and "of" in result.cut


@pytest.mark.parametrize("max_chars", [100, 300, 700, 2000])
def test_cut_agrees_with_the_markers_in_the_text(max_chars: int) -> None:
    frame = render_preview(_frame(500, 30), max_chars=max_chars)
    rows = frame.text.count("\n| ") - 1  # table lines minus the header line
    if rows >= 0:
        assert f"({rows} of 500 rows" in frame.cut
        assert f"… {500 - rows} more rows" in frame.text
    items = render_preview(list(range(1000)), max_chars=max_chars)
    shown = items.text.count(",")  # "0, 1, …, … N more items"
    assert f"sent {shown} of 1,000 items" == items.cut
    assert f"… {1000 - shown} more items]" in items.text
