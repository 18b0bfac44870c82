"""Hostile markdown: every shape renders, in time linear in its size, and never breaks a turn."""

from __future__ import annotations

import re
import time

import pytest
from hostile_corpus import MARKDOWN_SHAPES, markdown_shape

from gmi_magics.display import markup
from gmi_magics.display.markup import markdown_to_html
from gmi_magics.display.mdprep import MAX_DEPTH, split_blocks
from gmi_magics.display.streaming_markdown import StreamingMarkdown
from gmi_magics.testing import reply

# Shapes that took seconds (quadratic) or raised RecursionError before the fix.
WORST = [
    "repeat '1. '",
    "repeat '+ '",
    "repeat '- 1. '",
    "repeat '['",
    "repeat '[a'",
    "repeat '[^'",
    "repeat '[a]['",
    "repeat '[a]('",
    "repeat '<a '",
    "nested list by 2",
    "links with unbalanced parens",
]


@pytest.mark.parametrize("name", MARKDOWN_SHAPES)
def test_every_shape_renders_without_raising(name: str) -> None:
    page = markdown_to_html(markdown_shape(name, 3_000))
    assert isinstance(page, str)
    assert "<script" not in page.lower()


@pytest.mark.parametrize("name", WORST)
def test_worst_shapes_render_quickly_at_16_kb(name: str) -> None:
    """16 KB of each took 3 s to minutes (or crashed); linear work is well under 2 s."""
    text = markdown_shape(name, 16_000)
    started = time.perf_counter()
    page = markdown_to_html(text)
    assert time.perf_counter() - started < 2.0
    assert "shown as plain text" not in page  # rendered, not given up on


@pytest.mark.parametrize("unit", ["1. ", "+ ", "- 1. ", "> - "])
def test_markers_past_the_depth_limit_are_text(unit: str) -> None:
    page = markdown_to_html(unit * 700 + "end")
    assert "end" in page
    assert page.count("<li>") <= MAX_DEPTH + 1
    assert "shown as plain text" not in page


def test_deep_indentation_nests_only_to_the_limit() -> None:
    text = "".join("  " * depth + f"- level {depth}\n" for depth in range(250))
    page = markdown_to_html(text)
    assert _deepest(page, "ul") == MAX_DEPTH
    assert "level 0<" in page and "level 249<" in page


def _deepest(page: str, tag: str) -> int:
    depth = deepest = 0
    for match in re.finditer(f"<(/?){tag}>", page):
        depth += -1 if match.group(1) else 1
        deepest = max(deepest, depth)
    return deepest


def test_shallow_nesting_is_untouched() -> None:
    text = "- a\n  - b\n    - c\n\n> > quoted twice\n\n1. one\n2. two"
    page = markdown_to_html(text)
    assert page.count("<ul>") == 3 and page.count("<blockquote>") == 2 and "\\" not in page


def test_a_renderer_failure_shows_plain_text_and_the_next_render_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def deep(*_args: object) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(markup, "protect_math", deep)
    page = markdown_to_html("some *text* <b>&</b>")
    assert "shown as plain text: it nests too deeply" in page
    assert "some *text* &lt;b&gt;&amp;&lt;/b&gt;" in page
    monkeypatch.undo()
    assert markdown_to_html("hello *x*") == "<p>hello <em>x</em></p>"


def test_a_real_recursion_error_does_not_break_later_renders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A RecursionError inside Python-Markdown left the shared converter broken."""
    monkeypatch.setattr("gmi_magics.display.mdprep.MAX_DEPTH", 10_000)
    page = markdown_to_html("1. " * 1_500)
    assert "shown as plain text: it nests too deeply" in page
    monkeypatch.undo()
    assert markdown_to_html("hello *x* [a](http://b.example)") == (
        '<p>hello <em>x</em> <a href="http://b.example" rel="noopener noreferrer">a</a></p>'
    )


def test_past_the_time_budget_the_rest_is_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter(range(1_000))
    monkeypatch.setattr(markup, "_clock", lambda: float(next(ticks)))
    text = "".join(f"Paragraph *{i}*.\n\n" for i in range(2_000))
    page = markdown_to_html(text)
    assert "<em>0</em>" in page
    assert page.count("shown as plain text: it took too long to render") == 1
    assert "Paragraph *1999*." in page


def test_pieces_join_back_to_the_text() -> None:
    for name in MARKDOWN_SHAPES:
        text = markdown_shape(name, 20_000)
        pieces = split_blocks(text, 4_000)
        assert "".join(pieces) == text, name
        assert max(map(len, pieces)) <= 40_000, name


def test_long_documents_render_like_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    section = (
        "## Part {i}\n\nText with a [ref link][r{i}] and `code`.\n\n1. one\n\n2. two\n\n"
        "```python\nx = {i}\n\n\ny = 2\n```\n\n| a | b |\n|---|---|\n| {i} | x |\n\n"
        "$$\nx^{i}\n\ny\n$$\n\n"
    )
    text = "".join(section.format(i=i) for i in range(200))
    text += "".join(f"[r{i}]: https://example.com/{i}\n" for i in range(200))
    assert len(split_blocks(text, markup.CHUNK_CHARS)) > 3
    page = markdown_to_html(text)
    assert page.count('href="https://example.com/') == 200
    assert "shown as plain text" not in page
    monkeypatch.setattr(markup, "CHUNK_CHARS", 10**9)
    assert _normal(page) == _normal(markdown_to_html(text))


def _normal(html: str) -> str:
    return re.sub(r"GMIMATH\w+|>\s+<", "><", html).strip()


@pytest.mark.parametrize("name", WORST)
def test_streaming_renderer_handles_hostile_shapes(name: str) -> None:
    text = markdown_shape(name, 8_000)
    live = StreamingMarkdown()
    started = time.perf_counter()
    for cut in (1, 10, len(text) // 3, len(text) // 2, len(text) - 1, len(text)):
        assert isinstance(live.render(text[:cut]), str)
    assert time.perf_counter() - started < 3.0


@pytest.mark.parametrize("name", ["repeat '1. '", "repeat '+ '", "repeat '[a'"])
def test_hostile_reply_in_a_cell_and_in_history(shell, server, tmp_path, name) -> None:
    """The cell shows the reply, the turn is kept, and %gmi history works (also after load)."""
    text = markdown_shape(name, 8_000)
    server.enqueue(reply(text))
    started = time.perf_counter()
    result = shell.run("%%gmi\nBe hostile")
    assert result.success, result.error
    assert shell.conversation.turns[-1].reply.text == text.strip()
    history = shell.run("%gmi history")
    assert history.success, history.error
    assert "Be hostile" in history.html
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save {path}").success
    assert shell.run("%gmi reset").success
    assert shell.run(f"%gmi load {path}").success
    again = shell.run("%gmi history")
    assert again.success, again.error
    assert "Be hostile" in again.html
    assert time.perf_counter() - started < 10.0
