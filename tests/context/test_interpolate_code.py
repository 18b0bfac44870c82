"""Braces inside markdown code (fenced blocks, inline spans) are sent verbatim."""

from __future__ import annotations

import pytest

from gmi_magics.context.interpolate import interpolate
from gmi_magics.context.markdown_code import code_spans

NS: dict[str, object] = {"name": "Ada", "n": 3, "x": [1, 2], "d": {"k": 1}}

VERBATIM = [
    '```python\nprint(f"{name}")\n```',
    '```\nprint(f"{name}")\n```',
    "~~~\n{name} {{name}}\n~~~",
    "````md\n```\n{name}\n```\n{n}\n````",
    "   ```py title='x'\n{name}\n   ```",
    "~~~~~ {.python}\n{name}\n~~~~~~~",
    "```python\nunclosed {name} {x[0]}\nstill code {n}",
    "~~~\n{name}\n```\nstill code {n}",
    "`{name}`",
    "``{name} has a ` inside``",
    "```{name}```",
    '`f"{name}"` and `{x[0]}`',
    "`{{name}}`",
]


@pytest.mark.parametrize("text", VERBATIM)
def test_code_is_sent_verbatim(text: str) -> None:
    assert interpolate(text, NS) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {name}\n```\n{name}\n```\nBye {n}", "Hi Ada\n```\n{name}\n```\nBye 3"),
        ("`{name}` is {name}", "`{name}` is Ada"),
        ("``{n}`` {n} `{n}` {n}", "``{n}`` 3 `{n}` 3"),
        ("a ` lone backtick {name}", "a ` lone backtick Ada"),
        ("``` not closed by ` {name}", "``` not closed by ` Ada"),
        ("``a`` ` {n}", "``a`` ` 3"),
        ("    ```\n{name}", "    ```\nAda"),  # 4 spaces: not a fence
        (
            "```\ncode {n}\n```\n\n{n} `{n}`\n~~~\n{n}\n~~~\n{n}",
            "```\ncode {n}\n```\n\n3 `{n}`\n~~~\n{n}\n~~~\n3",
        ),
        ("`start\n\n{name} end`", "`start\n\nAda end`"),  # a blank line ends a code span
        ("``` `{name}` ```x", "``` `{name}` ```x"),  # inline span of three backticks
        ("~~~ and `{n}`", "~~~ and `{n}`"),
    ],
)
def test_outside_code_is_filled_in(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("a `b` c", [(2, 5)]),
        ("```\nx\n```\ny", [(0, 9)]),
        ("```\nx", [(0, 5)]),
        ("no code", []),
        ("`a`b`c`", [(0, 3), (4, 7)]),
    ],
)
def test_code_spans(text: str, spans: list[tuple[int, int]]) -> None:
    assert code_spans(text) == spans


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "`" + "``" * 30_000 + "{n}",
        "```\n" * 20_000 + "{n}",
        "`a` " * 20_000 + "{n}",
        ("`" * 50 + " ") * 2_000 + "{n}",
    ],
)
def test_many_backticks_stay_fast(text: str) -> None:
    interpolate(text, NS)
