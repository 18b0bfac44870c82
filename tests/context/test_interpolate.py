"""interpolate(): {reference} filling that leaves code, JSON and LaTeX alone."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import heavy_modules_after

from gmi_magics.context.interpolate import find_references, interpolate
from gmi_magics.context.references import InterpolationError, evaluate


class Touchy:
    """Records attribute access so tests can prove refusal happens first."""

    touched = False

    @property
    def _secret(self) -> str:
        Touchy.touched = True
        return "leak"


FRAME = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
NS: dict[str, object] = {
    "name": "Ada",
    "n": 3,
    "a": 1,
    "b": 2,
    "x": [10, 20, 30, 40],
    "grid": [[1, 2], [3, 4]],
    "d": {"key": "value", 1: "one", None: "none", (1, 2): "pair"},
    "obj": SimpleNamespace(attr=SimpleNamespace(items=["p", "q", "r"]), text="hi"),
    "df": FRAME,
    "In": ["", "df.describe()", "x = 1"],
    "Out": {2: 42},
    "_": "last",
    "données": "unicode",
    "touchy": Touchy(),
    "f": print,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello {name}!", "Hello Ada!"),
        ("{n} items", "3 items"),
        ("{x[0]} {x[-1]}", "10 40"),
        ("{x[1:3]} {x[::2]} {x[:-3]}", "[20, 30] [10, 30] [10]"),
        ("{grid[1][0]}", "3"),
        ("{d[\"key\"]} {d['key']}", "value value"),
        ("{d[1]} {d[None]} {d[1, 2]}", "one none pair"),
        ("{obj.text} {obj.attr.items[1:3]}", "hi ['q', 'r']"),
        ("{In[1]}", "df.describe()"),
        ("{Out[2]}", "42"),
        ("{_}", "last"),
        ("{données}", "unicode"),
        ("{df.a[1]} {df.iloc[0, 1]} {df.b.iloc[-1]}", "2 0.5 2.5"),
        ("{a}{b}", "12"),
        ("{{name}} and {name}", "{name} and Ada"),
        ("{{x[0]}}", "{x[0]}"),
    ],
)
def test_fills_references(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


def test_dataframe_renders_as_preview() -> None:
    text = interpolate("Data:\n{df}\nSummarise.", NS)
    assert "DataFrame: 3 rows × 2 columns\ncolumns: a (int64), b (float64)" in text
    assert "| 2 | 3 | 2.5 |\nSummarise." in text
    assert "Series 'a': 3 rows" in interpolate('{df["a"]}', NS)


def test_max_chars_bounds_each_value() -> None:
    long = {"s": "z" * 10_000}
    text = interpolate("{s}", long, max_chars=100)
    assert len(text) <= 100
    assert text.endswith("more chars]")


LEFT_AS_WRITTEN = [
    "{missing}",
    "{missing.attr[0]}",
    "{{missing}}",
    "{}",
    "{ name }",
    "{name }",
    "{x: 1}",
    "{a+b}",
    "{a + b}",
    "{f()}",
    "{name.upper()}",
    "{x[n]}",
    "{x[a+1]}",
    "{-n}",
    "{None} {True}",
    "{0}",
    "{name!r}",
    "{name:>10}",
    '{"a": 1}',
    '{"a": {"b": {"c": [1, 2]}}}',
    '[{"name": "x"}, {"n": 1}]',
    "{i for i in x}",
    "{k: v for k, v in d.items()}",
    "d = {name: 1, n: 2}",
    "def f():\n    return {**d}\n",
    'print(f"{undefined}")',
    "x = {{1: 2}}",
    r"\frac{a}{b}",
    r"\frac{a+1}{b}",
    r"\frac{1}{2}{n}",
    r"$x^{n}$ and $x_{n}$ and $e^{a}{b}$",
    r"\mathbf{x} \text{name} \begin{align*}{n}",
    r"\section*{name}",
    r"\{n\} and \{n}",
    r"\frac{{a}}{b}",
    "regex a{2,3} and \\d{n}",
    "",
    "no braces at all",
]


@pytest.mark.parametrize("text", LEFT_AS_WRITTEN)
def test_leaves_text_alone(text: str) -> None:
    assert interpolate(text, NS) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('print(f"{name}")', 'print(f"Ada")'),  # inherent: documented caveat
        ("s = {n}", "s = 3"),
        ('{"k": {n}}', '{"k": 3}'),
        (r"\frac{a}{b} costs {n}", r"\frac{a}{b} costs 3"),
        (r"x^{n} = {n}", r"x^{n} = 3"),
        ("{{n}} {{missing}}", "{n} {{missing}}"),
        ("{{{n}}}", "{{n}}"),
    ],
)
def test_code_and_latex_neighbours(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{df.colums}", "'DataFrame' object has no attribute 'colums'"),
        ("{name.nope}", "'str' object has no attribute 'nope'"),
        ('{d["nope"]}', "KeyError: 'nope'"),
        ("{x[9]}", "IndexError: list index out of range"),
        ("{Out[7]}", "KeyError: 7"),
        ("{n[0]}", "TypeError: 'int' object is not subscriptable"),
        ("{x.__class__}", "attribute '__class__' starts with '_' and is not allowed"),
        ("{obj._private}", "attribute '_private' starts with '_'"),
        ("{df.a._values}", "attribute '_values' starts with '_'"),
    ],
)
def test_errors_name_the_expression(text: str, reason: str) -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate(f"before {text} after", NS)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.expression == text[1:-1]
    assert reason in error.reason
    assert str(error) == f"Could not fill in {text}: {error.reason}"
    assert "\n" not in str(error)


def test_underscore_attribute_refused_before_access() -> None:
    with pytest.raises(InterpolationError, match="_secret"):
        interpolate("{touchy._secret}", NS)
    assert not Touchy.touched


def test_error_renders_one_line_and_hint() -> None:
    lines = InterpolationError("df.x", "nope")._render_traceback_()
    assert lines[0] == "InterpolationError: Could not fill in {df.x}: nope"
    assert "--no-interpolate" in lines[1]


@pytest.mark.parametrize(
    "expression",
    ["f()", "a + b", "x[n]", "(lambda: 1)()", "x[0](1)", "[x][0]", "d[{1}]", "x if"],
)
def test_evaluate_refuses_non_references(expression: str) -> None:
    with pytest.raises(InterpolationError, match=r"not a simple reference|literals"):
        evaluate(expression, NS)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("x[-1]", 40), ("x[1:-1:1]", [20, 30]), ("d[1, 2]", "pair"), ("obj.text", "hi")],
)
def test_evaluate(expression: str, expected: object) -> None:
    assert evaluate(expression, NS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{a} {b.c} {a} {d['k']} {x[1:2]}", ["a", "b.c", "d['k']", "x[1:2]"]),
        ("{{escaped}} {ok}", ["ok"]),
        (r"\frac{a}{b} x^{n} {y}", ["y"]),
        ('{"a": 1} {i for i in x} {} { z } {f()}', []),
        ("{None} {if}", []),
        ("{In[3]} {Out[2]}", ["In[3]", "Out[2]"]),
    ],
)
def test_find_references(text: str, expected: list[str]) -> None:
    assert find_references(text) == expected


def test_does_not_import_heavy_modules() -> None:
    statement = "import gmi_magics.context.interpolate as i; i.interpolate('{a}', {'a': [1]})"
    assert heavy_modules_after(statement) == "[]"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text", ["{a}" * 20_000, "}" * 100_000 + "{a}" * 1000, "x{" + "y}" * 20_000 + "{a}"]
)
def test_pathological_text_stays_fast(text: str) -> None:
    assert interpolate(text, {"a": 1}).count("1") >= 1
