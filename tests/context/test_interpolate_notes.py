"""interpolate_with_notes(): the filled text plus one line per thing the user should know."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gmi_magics.context.interpolate import Interpolated, interpolate, interpolate_with_notes

BIG = pd.DataFrame(np.zeros((10_000, 40)))
NS: dict[str, object] = {
    "df": BIG,
    "small": pd.DataFrame({"a": [1, 2]}),
    "log": "line\n" * 24_063,
    "name": "Ada",
    "xs": list(range(10_000)),
}


def test_a_cut_value_is_announced_naming_the_variable() -> None:
    result = interpolate_with_notes("Look at {df} and {log}", NS)
    assert result.notes == [
        "{df}: sent a preview (10 of 10,000 rows, 20 of 40 columns)",
        "{log}: cut to 1,966 of 120,315 characters",
    ]
    assert result.text == interpolate("Look at {df} and {log}", NS)


def test_the_budget_is_the_callers() -> None:
    result = interpolate_with_notes("{xs}", NS, max_chars=100)
    assert result.notes == ["{xs}: sent 22 of 10,000 items"]


def test_whole_values_and_plain_text_have_no_notes() -> None:
    assert interpolate_with_notes("{name} {small} {missing} `{df}`", NS).notes == []
    assert interpolate_with_notes("no braces", NS) == Interpolated("no braces", [])


def test_each_expression_is_noted_once() -> None:
    result = interpolate_with_notes("{df} {df} {df[0]}", NS)
    assert result.notes == [
        "{df}: sent a preview (10 of 10,000 rows, 20 of 40 columns)",
        "{df[0]}: sent a preview (10 of 10,000 rows)",
    ]


@pytest.mark.parametrize("text", ["```\n{df}\n```", "{{df}}", r"\frac{df}{2}"])
def test_nothing_sent_nothing_noted(text: str) -> None:
    assert interpolate_with_notes(text, NS).notes == []
