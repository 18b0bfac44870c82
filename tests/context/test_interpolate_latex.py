"""LaTeX is never interpolated, even when the names inside its groups exist."""

from __future__ import annotations

import pytest

from gmi_magics.context.interpolate import find_references, interpolate, interpolate_with_notes

NAMES = ["x", "y", "n", "a", "b", "i", "k", "cases", "pi", "theta", "pmatrix", "align"]
NS: dict[str, object] = {name: f"<{name}>" for name in NAMES}

LATEX = [
    r"\sqrt[n]{x}",
    r"\sqrt[3]{x}",
    r"\sqrt[n+1]{x}",
    r"\sqrt[n]{x} + \sqrt[k]{y}",
    r"\frac{x}{y}",
    r"\dfrac{a}{b}",
    r"\frac {x}{y}",
    r"\mathbf{x}",
    r"\boldsymbol{theta}",
    r"x^{n}",
    r"x_{i}^{n}",
    r"\left\{ x \right\}",
    r"\left\{x\right\}",
    r"\begin{cases} x & y \end{cases}",
    r"\begin{pmatrix} a & b \end{pmatrix}",
    r"\begin{align*}{x}",
    r"e^{i\pi}",
    r"e^{i}",
    r"\hat{y}",
    r"\hat{y}_{i}",
    r"\vec{x}",
    r"\operatorname{x}",
    r"\binom{n}{k}",
    r"\sum_{i}^{n}{x}",
    r"\mathrm{d}{x}",
    r"\newcommand{\norm}[1]{x}",
    r"\\[2pt]{x}",
    r"\overset{a}{b}",
    r"\text {x}",
    r"$\sqrt[n]{x}$ and $$\frac{a}{b}$$",
    r"\[ \sqrt[n]{x} \]",
]


@pytest.mark.parametrize("text", LATEX)
def test_latex_is_sent_verbatim_with_names_defined(text: str) -> None:
    result = interpolate_with_notes(text, NS)
    assert result.text == text
    assert result.notes == []
    assert find_references(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"$\sqrt[n]{x}$ where n is {n}", r"$\sqrt[n]{x}$ where n is <n>"),
        ("x[0]{y}", "x[0]<y>"),  # a subscript, not an optional LaTeX argument
        ("[link]{y}", "[link]<y>"),
        ("see [1] {y}", "see [1] <y>"),
        (r"\frac{a}{b} {y}", r"\frac{a}{b} <y>"),
        (r"\textbf{Note:} {y}", r"\textbf{Note:} <y>"),
        ("{x}^{2}", "<x>^{2}"),
        ("{a}_{b}", "<a>_{b}"),
        ("model_{n}.pt", "model_{n}.pt"),  # after _: treated as LaTeX, as before
    ],
)
def test_interpolation_next_to_latex(text: str, expected: str) -> None:
    assert interpolate(text, NS) == expected


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text", ["]" * 100_000 + "{x}" * 1000, "\\a[" + "b]" * 20_000 + "{x}", "[" * 50_000 + "]{x}"]
)
def test_pathological_brackets_stay_fast(text: str) -> None:
    interpolate(text, NS)
