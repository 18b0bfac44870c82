"""``{name}`` interpolation through a real shell: what the cell sends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import last_user_text, one_error_line


def test_names_attributes_and_items_are_filled_in(shell, server):
    shell.ns.update(
        name="Ada", xs=[10, 20, 30], point=type("P", (), {"label": "origin"})(), cfg={"k": 5}
    )
    result = shell.run("%%gmi\nHi {name}: {xs[0]}, {xs[-1]}, {point.label}, {cfg['k']}.")
    assert result.success, result.error
    assert last_user_text(server) == "Hi Ada: 10, 30, origin, 5."


UNDEFINED_NAMES_CODE_AND_MATH = (
    "def f(d):\n"
    "    return {k: v for k, v in d.items()}\n"
    'payload = {"model": "m", "messages": []}\n'
    'print(f"{undefined_name} and {other.attr}")\n'
    "Math: $\\frac{a}{b}$ and $x^{a}$ and $x_{b}$\n"
    "Empty {} and spaced { a } and {a+b}"
)
EXISTING_NAMES_CODE_JSON_LATEX = (
    'payload = {"total": a + b, "n": f(xs)}\n'
    "squares = {x * x for x in xs}\n"
    'print(f"{f(xs)} items, {a + b} total")\n'
    "$\\frac{a + b}{2}$ and $e^{-a}$\n"
    "```\n{f(xs)}\n```"
)


@pytest.mark.parametrize(
    ("names", "cell", "silent"),
    [
        ({"a": 1, "b": 2, "data": {"x": 1}}, UNDEFINED_NAMES_CODE_AND_MATH, False),
        ({"a": 1, "b": 2, "xs": [1, 2], "f": len}, EXISTING_NAMES_CODE_JSON_LATEX, True),
    ],
    ids=["undefined-names-and-other-braces", "code-json-latex-on-existing-names-silently"],
)
def test_braces_that_are_not_references_are_sent_as_written(shell, server, names, cell, silent):
    shell.ns.update(names)
    result = shell.run("%%gmi\n" + cell)
    assert result.success, result.error
    assert last_user_text(server) == cell
    if silent:
        assert "was sent as written" not in result.everything


@pytest.mark.parametrize(
    ("cell", "sent"),
    [
        (
            "%%gmi\nKeep {{name}}, fill {name}, leave {{nobody}} and {{ {a: 1} }}",
            "Keep {name}, fill Ada, leave {{nobody}} and {{ {a: 1} }}",
        ),
        (
            "%%gmi --no-interpolate\nKeep {name} and {{name}} as written",
            "Keep {name} and {{name}} as written",
        ),
        # `%gmi --no-interpolate ...` must not be undone by IPython's own {var} expansion
        ("%gmi --no-interpolate Keep {name} as written", "Keep {name} as written"),
        ("%gmi Keep {{name}} literally", "Keep {name} literally"),
    ],
    ids=["escape-rule", "no-interpolate", "line-mode-no-interpolate", "line-mode-escape"],
)
def test_escapes_and_no_interpolate(shell, server, cell, sent):
    shell.ns["name"] = "Ada"
    result = shell.run(cell)
    assert result.success, result.error
    assert last_user_text(server) == sent


def test_line_mode_dataframe_gets_the_same_preview_as_a_cell(shell, server):
    shell.ns["df"] = pd.DataFrame({"price": [1.5, 2.5, 3.5], "qty": [1, 2, 3]})
    result = shell.run("%gmi Describe {df}")
    assert result.success, result.error
    assert "DataFrame: 3 rows × 2 columns" in last_user_text(server)


def test_failing_reference_is_one_usage_error_and_nothing_is_sent(shell, server):
    shell.ns["df"] = pd.DataFrame({"a": [1, 2]})
    result = shell.run("%%gmi\nWhat is in {df.colums}?")
    assert not result.success
    text = one_error_line(result)
    assert text.startswith("UsageError:"), text
    assert len(text.splitlines()) == 1, text
    assert "{df.colums}" in text
    assert "colums" in str(result.error)
    assert server.chat_requests == []


def test_dataframe_is_sent_as_shape_dtypes_and_a_markdown_head(shell, server):
    shell.ns["df"] = pd.DataFrame(
        {"city": [f"c{i}" for i in range(25)], "temp": [i / 2 for i in range(25)]}
    )
    result = shell.run("%%gmi\nDescribe this data:\n{df}")
    assert result.success, result.error
    text = last_user_text(server)
    assert text.startswith("Describe this data:\nDataFrame: 25 rows × 2 columns\n")
    assert "columns: city (" in text and "temp (float64)" in text
    assert "|  | city | temp |\n|---|---|---|\n| 0 | c0 | 0 |" in text
    assert "| 9 | c9 | 4.5 |" in text
    assert "| 10 |" not in text
    assert text.endswith("… 15 more rows")


def test_numpy_array_is_sent_as_shape_and_dtype(shell, server):
    shell.ns["arr"] = np.arange(12, dtype=np.float64).reshape(3, 4)
    result = shell.run("%%gmi\nWhat is {arr}?")
    assert result.success, result.error
    text = last_user_text(server)
    assert "ndarray shape=(3, 4) dtype=float64" in text
    assert "[ 8.  9. 10. 11.]]" in text


def test_in_and_out_of_earlier_cells(shell, server):
    assert shell.run("6 * 7", store_history=True).success
    number = shell.ip.execution_count - 1
    assert shell.ns["Out"][number] == 42
    result = shell.run(f"%%gmi\nCell {{In[{number}]}} gave {{Out[{number}]}}.")
    assert result.success, result.error
    assert last_user_text(server) == "Cell 6 * 7 gave 42."
