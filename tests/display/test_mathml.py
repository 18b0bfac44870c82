"""Math as MathML (VS Code): converted, cleaned to presentation MathML, TeX as the fallback."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from conftest import Shell
from test_render import FORBIDDEN_TAGS, SAFE_URL, inspect
from xss_corpus import XSS_PAYLOADS

from gmi_magics.display import mathml
from gmi_magics.display.markup import markdown_to_html, reply_html, stylesheet
from gmi_magics.display.mathml import (
    MATHML_ATTRIBUTES,
    MATHML_TAGS,
    MAX_TEX_CHARS,
    math_html,
    tex_to_mathml,
)
from gmi_magics.testing import reply

HOSTILE_TEX = [
    r"$\text{<script>alert(1)</script>}$",
    r"$$\text{</mtext></math><img src=x onerror=alert(1)>}$$",
    r"$\href{javascript:alert(1)}{x}$",
    r"$\href{https://evil.example}{click}$",
    r"$\style{position:fixed;top:0;left:0;width:100%}{x}$",
    r"$\class{jp-OutputArea-output}{x}$",
    r"$\color{white}{hidden}$",
    r"$\mathrm{<img src=x onerror=alert(1)>}$",
    r"\(\text{<svg onload=alert(1)>}\)",
    r"\[\text{<a href=javascript:alert(1)>x</a>}\]",
    r"$\text{<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>}$",
    r"$\unicode{x3C}script\unicode{x3E}$",
    r"$\operatorname{<b onclick=alert(1)>}x$",
]


@pytest.fixture
def as_mathml() -> Iterator[None]:
    mathml.set_math_markup("mathml")
    try:
        yield
    finally:
        mathml.set_math_markup("tex")


def assert_clean_mathml(page: str) -> None:
    """Only presentation MathML (and our HTML) with allow-listed attributes; nothing active."""
    found = inspect(page)
    assert len(found.styles) <= 1 and all(s.startswith(stylesheet()) for s in found.styles)
    bad = (set(found.tags) - {"style", "math"}) & FORBIDDEN_TAGS
    assert not bad, bad
    for tag, name, value in found.attrs:
        assert not name.startswith("on"), (tag, name)
        if tag in MATHML_TAGS:
            assert name in MATHML_ATTRIBUTES.get(tag, set()), (tag, name, value)
        if name in {"href", "src"}:
            assert SAFE_URL.match((value or "").lower()), (tag, name, value)


@pytest.mark.parametrize(
    ("source", "display", "element"),
    [
        (r"$\frac{a}{b}$", "inline", "mfrac"),
        (r"$$\sum_{i=1}^n i = \frac{n(n+1)}{2}$$", "block", "munderover"),
        (r"\(x^2 + \sqrt{y}\)", "inline", "msqrt"),
        (r"\[\begin{pmatrix}1&2\\3&4\end{pmatrix}\]", "block", "mtable"),
        (r"$\hat{\beta} = (X^\top X)^{-1} X^\top y$", "inline", "mover"),
    ],
)
def test_tex_becomes_mathml(source: str, display: str, element: str) -> None:
    converted = tex_to_mathml(source)
    assert converted is not None
    assert converted.startswith(f'<math display="{display}">') and f"<{element}" in converted
    assert_clean_mathml(converted)


@pytest.mark.parametrize("source", HOSTILE_TEX)
def test_hostile_tex_becomes_inert_mathml_or_text(source: str, as_mathml: None) -> None:
    page = math_html(source)
    assert_clean_mathml(page)
    for tag in ("script", "img", "svg", "a", "style", "table", "mglyph", "b"):
        assert f"<{tag} " not in page and f"<{tag}>" not in page  # shown as text if at all
    assert not [a for a in inspect(page).attrs if a[1] in {"href", "src", "style", "class"}]
    assert "jp-OutputArea" not in page.replace("\\class{jp-OutputArea-output}", "")
    assert "mathcolor" not in page and "style=" not in page


@pytest.mark.parametrize(
    "source",
    [
        r"$\frac{$",  # the converter fails
        r"$\left( x \right$",
        "$" + "x+" * (MAX_TEX_CHARS // 2) + "x$",  # too long
        "$" + "{" * 60 + "x" + "}" * 60 + "$",  # too deep
        "$" + "\\sqrt" * 3_000 + "x$",  # would recurse past the limit
    ],
)
def test_what_cannot_be_converted_stays_escaped_tex(source: str, as_mathml: None) -> None:
    assert math_html(source) == html.escape(source)


def test_tex_markup_leaves_math_for_mathjax() -> None:
    assert math_html(r"$a<b$") == "$a&lt;b$"
    assert "<math" not in markdown_to_html(r"The area is $\pi r^2$.")


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_the_xss_corpus_stays_inert_as_mathml(payload: str, as_mathml: None) -> None:
    for page in (reply_html(payload), reply_html(payload, streaming=True)):
        assert_clean_mathml(page)


@pytest.mark.usefixtures("as_mathml")
def test_math_in_markdown_becomes_mathml_and_code_stays_code() -> None:
    page = markdown_to_html(
        "The area is $\\pi r^2$.\n\n$$\\int_0^1 x\\,dx = \\frac{1}{2}$$\n\n"
        "Code `$x$` and \\$5 and \\$6 stay.\n\n```python\nprint('$y$')\n```"
    )
    assert '<math display="inline">' in page and '<math display="block">' in page
    assert "<code>$x$</code>" in page and "$5" in page and "$y$" in page
    assert "\\pi" not in page and "\\frac" not in page


def _math_reply(shell: Shell, server, *, cell_id: str | None = None, **config: str):
    shell.config(**config)
    pieces = ["Euler: ", "$e^{i", "\\pi} + 1 = 0$", ".\n\n$$\\sum_{k=0}^", "n k$$\n\nDone."]
    server.enqueue(reply(pieces, chunk_delay=0.01))
    result = shell.run("%%gmi\nShow Euler", cell_id=cell_id)
    assert result.success, result.error
    return result


def test_a_vscode_cell_gets_mathml_and_other_cells_tex(shell: Shell, server) -> None:
    vscode = _math_reply(shell, server, cell_id="vscode-notebook-cell:/w/a.ipynb#W1sZmlsZQ%3D%3D")
    assert '<math display="inline">' in vscode.last_html
    assert '<math display="block">' in vscode.last_html
    assert "$e^{i\\pi} + 1 = 0$" not in vscode.last_html
    assert_clean_mathml(vscode.last_html)
    lab = _math_reply(shell, server, cell_id="2f6f1c7e-lab-cell")
    assert "$e^{i\\pi} + 1 = 0$" in lab.last_html and "<math" not in lab.last_html
    assert "$e^{i\\pi} + 1 = 0$" in vscode.plain  # the text/plain keeps the TeX


@pytest.mark.parametrize(("setting", "expected"), [("mathml", True), ("tex", False)])
def test_the_math_setting_overrides_the_frontend(
    shell: Shell, server, setting: str, expected: bool
) -> None:
    vscode = "vscode-notebook-cell:/w/a.ipynb#W1"
    for cell_id in (None, vscode):
        result = _math_reply(shell, server, cell_id=cell_id, math=setting)
        assert ("<math" in result.last_html) is expected, (setting, cell_id)


def test_history_in_a_vscode_cell_shows_mathml(shell: Shell, server) -> None:
    _math_reply(shell, server, cell_id="lab-cell")
    result = shell.run("%gmi history", cell_id="vscode-notebook-cell:/w/a.ipynb#W2")
    assert result.success, result.error
    assert "<math" in result.html


@pytest.mark.parametrize(
    "source",
    [r"\text{<script>alert(1)</script>}", r"\href{javascript:alert(1)}{x}", r"\style{top:0}{x}"],
)
def test_the_converters_own_output_would_fail_the_check(source: str) -> None:
    """The cleaning is what makes it safe: latex2mathml copies these through."""
    from latex2mathml.converter import convert

    with pytest.raises(AssertionError):
        assert_clean_mathml(convert(source))


def test_angle_brackets_in_text_are_shown_not_dropped() -> None:
    converted = tex_to_mathml(r"$\text{if a<b>c then}\ x$")
    assert converted is not None and "<mtext>if&nbsp;a&lt;b&gt;c&nbsp;then</mtext>" in converted
    # where they cannot be kept (nested braces), cleaning would drop words: the TeX stays
    assert tex_to_mathml(r"$\text{x {<b>} y}$") is None


def test_everyday_formulas_all_convert() -> None:
    formulas = [
        *(r"\lim_{x\to 0}\frac{\sin x}{x}=1", r"\mathcal{N}(\mu, \sigma^2)", r"\binom{n}{k}"),
        *(r"f(x) = \begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}", r"\|x\|_2"),
        *(r"\operatorname*{arg\,max}_\theta L(\theta)", r"\langle x, y \rangle", r"\pm 1.96"),
        *(r"\begin{aligned} a &= b \\ c &= d \end{aligned}", r"\mathbb{E}[X^2]", r"\$5"),
    ]
    assert [f for f in formulas if tex_to_mathml(f"${f}$") is None] == []
