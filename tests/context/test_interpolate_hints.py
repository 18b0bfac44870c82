"""A {call} or {operator} on an existing name says in one line why it was not filled."""

from __future__ import annotations

import pandas as pd
import pytest

from gmi_magics.context.interpolate import interpolate_with_notes

NS: dict[str, object] = {
    "df": pd.DataFrame({"a": [1, 2]}),
    "a": 1,
    "b": 2,
    "xs": [1, 2, 3],
    "d": {"k": 1},
    "n": 0,
    "f": len,
    "done": False,
    "name": "Ada",
}

CALL = "calls are not evaluated"
OPERATOR = "operators are not evaluated"


@pytest.mark.parametrize(
    ("text", "note"),
    [
        (
            "Summarise {df.head()}",
            "{df.head()} was sent as written: calls are not evaluated; "
            "assign it first (`df_head = df.head()`) and use {df_head}",
        ),
        (
            "What is {a + b}?",
            "{a + b} was sent as written: operators are not evaluated; "
            "assign it first (`value = a + b`) and use {value}",
        ),
        (
            "Size {len(df)}",
            "{len(df)} was sent as written: calls are not evaluated; "
            "assign it first (`len_df = len(df)`) and use {len_df}",
        ),
        (
            "Item {xs[n]}",
            "{xs[n]} was sent as written: only constant subscripts are filled in; "
            "assign it first (`value = xs[n]`) and use {value}",
        ),
        (
            'Mean {df["a"].mean()}',
            '{df["a"].mean()} was sent as written: calls are not evaluated; '
            'assign it first (`df_mean = df["a"].mean()`) and use {df_mean}',
        ),
    ],
)
def test_hint_names_the_expression_and_the_way_out(text: str, note: str) -> None:
    result = interpolate_with_notes(text, NS)
    assert result.text == text
    assert result.notes == [note]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{f(xs)}", CALL),
        ("{ df.head() }", CALL),
        ("{df.head().shape}", CALL),
        ("{sum(x for x in xs)}", CALL),
        ("{a+b}", OPERATOR),
        ("{a*2}", OPERATOR),
        ("{-n}", OPERATOR),
        ("{not done}", OPERATOR),
        ("{a > b}", OPERATOR),
        ("{a and b}", OPERATOR),
        ("{xs[a + 1]}", OPERATOR),
        ("{d[name]}", "only constant subscripts"),
        ("Result: {df.describe()}", CALL),
        ("{missing_fn(df)}", CALL),  # df exists
    ],
)
def test_positive_cases(text: str, reason: str) -> None:
    notes = interpolate_with_notes(text, NS).notes
    assert len(notes) == 1 and reason in notes[0], notes


SILENT = [
    # names that do not exist
    "{g(x)}",
    "{p + q}",
    "{len(missing)}",
    # JSON and dict / set literals and comprehensions
    '{"a": 1}',
    '{"a": f(xs)}',
    '{"total": a + b}',
    '{"a": {"b": [1, 2]}}',
    "{a: b}",
    "{a, b}",
    "{a, f(b)}",
    "{*xs}",
    "{**d}",
    "{x for x in xs}",
    "{f(x) for x in xs}",
    "{k: f(v) for k, v in d.items()}",
    "{a if b else n}",
    "{lambda: a}",
    # code
    'print(f"{df.head()}")',
    "print(f'total {a + b} rows')",
    "s = {a + b}",
    "foo({f(xs)})",
    "[{f(xs)}]",
    "return {a + b}",
    "items = [1, {a + b}]",
    "function g() {f(xs)}",
    "`${a + b}`",
    "echo ${a + b}",
    "{a + b:.2f}",
    "{df!r}",
    "{{df.head()}}",
    "{{ a + b }}",
    "```\n{df.head()}\n```",
    "`{len(df)}`",
    "def f():\n    return {a + b}\n",
    # LaTeX
    r"\frac{a+b}{n}",
    r"\sqrt{a^2 + b^2}",
    r"x^{n+1} and x_{a-b}",
    r"e^{-a}",
    r"\sqrt[n]{a + b}",
    r"\left\{a + b\right\}",
    r"\mathbf{f(xs)}",
    # other braces
    "regex a{2,3} and \\d{2}",
    "{}",
    "{ }",
    "{ a }",
    "{0}",
    "{1 + 2}",
    "{'a' + 'b'}",
    "{a +}",
    "{df.head(}",
    "{" + "a + " * 100 + "b}",
]


@pytest.mark.parametrize("text", SILENT)
def test_negative_cases_pass_through_silently(text: str) -> None:
    result = interpolate_with_notes(text, NS)
    assert result.notes == []
    assert result.text == text


def test_each_expression_is_hinted_once_in_order() -> None:
    result = interpolate_with_notes("{a + b} {f(xs)} {a + b}", NS)
    assert [note.split(" was")[0] for note in result.notes] == ["{a + b}", "{f(xs)}"]


def test_suggested_name_avoids_existing_names() -> None:
    ns = {**NS, "df_head": 1, "value": 2}
    (note,) = interpolate_with_notes("{df.head()}", ns).notes
    assert "(`result = df.head()`) and use {result}" in note


def test_long_expressions_are_shortened_in_the_note() -> None:
    text = "{f(" + ", ".join(["xs"] * 60) + ")}"
    (note,) = interpolate_with_notes(text, NS).notes
    assert len(note) < 300
    assert "…" in note


@pytest.mark.parametrize(
    "text",
    [
        'x = "a" + f"{df.head()}"',
        "f'''{a + b}",
        "rf'{f(xs)}'",
    ],
)
def test_fstrings_are_code(text: str) -> None:
    assert interpolate_with_notes(text, NS).notes == []


@pytest.mark.parametrize(
    "text",
    ['Say "{f(xs)}" please', 'f"closed" then {f(xs)}', "It's {a + b}"],
)
def test_quotes_in_prose_do_not_silence_the_hint(text: str) -> None:
    assert len(interpolate_with_notes(text, NS).notes) == 1


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "{a + b} " * 20_000,
        "f'" * 50_000 + "{a + b}" * 1000,
        ("x" * 400 + "{f(xs)}") * 2000,
        "{" * 50_000 + "a + b" + "}" * 50_000,
    ],
)
def test_many_candidates_stay_fast(text: str) -> None:
    interpolate_with_notes(text, NS)
