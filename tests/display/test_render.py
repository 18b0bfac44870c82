"""Rendering: markdown → sanitized HTML, the XSS corpus, and the live renderers."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from xss_corpus import XSS_PAYLOADS

from gmi_magics.display.markup import (
    footer_text,
    markdown_to_html,
    reply_bundle,
    reply_html,
    reply_text,
    stylesheet,
)
from gmi_magics.display.render import (
    BlockRenderer,
    HtmlRenderer,
    NullRenderer,
    TextRenderer,
    make_renderer,
)
from gmi_magics.types import Reply, Usage

FORBIDDEN_TAGS = {
    *("script", "iframe", "object", "embed", "form", "input", "button", "svg"),
    *("math", "meta", "base", "link", "style", "textarea", "frame", "frameset"),
    *("noscript", "template", "video", "audio", "source", "marquee", "body"),
}
SAFE_URL = re.compile(r"(https?|mailto):")
CONTROL = re.compile(r"[\x00-\x20\x7f]+")


class Inspector(HTMLParser):
    """Collects tags, attributes, URLs and <style> bodies of an HTML string."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)
        if tag == "style":
            self._in_style = True
            self.styles.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles[-1] += data


def inspect(html_text: str) -> Inspector:
    parser = Inspector()
    parser.feed(html_text)
    parser.close()
    return parser


def assert_inert(html_text: str) -> None:
    """The sanitizer contract, checked on the parsed output."""
    found = inspect(html_text)
    assert found.styles == [stylesheet()], "only our single trusted <style>"
    assert found.tags.count("style") == 1
    assert found.tags[:2] == ["div", "style"]
    bad = (set(found.tags) - {"style"}) & FORBIDDEN_TAGS
    assert not bad, bad
    for tag, name, value in found.attrs:
        assert not name.startswith("on"), (tag, name)
        assert name not in {"style", "srcdoc", "formaction", "xlink:href"}, (tag, name)
        if name in {"href", "src", "action", "data", "background", "poster"}:
            url = CONTROL.sub("", value or "").lower()
            assert SAFE_URL.match(url), (tag, name, value)
            if tag == "img":
                assert url.startswith(("http:", "https:")), value


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payload_in_answer_is_inert(payload: str) -> None:
    assert_inert(reply_html(payload))
    assert_inert(reply_html(payload, streaming=True))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payload_in_reasoning_notes_error_footer_is_inert(payload: str) -> None:
    page = reply_html("ok", reasoning=payload, notes=[payload], error=payload, footer=payload)
    assert_inert(page)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_payload_in_reply_bundle_is_inert(payload: str) -> None:
    reply = Reply(text=payload, reasoning=payload, model=payload)
    bundle = reply_bundle(reply, notes=[payload], error=payload)
    assert set(bundle) == {"text/html", "text/plain"}
    assert_inert(bundle["text/html"])


def test_corpus_is_large_enough() -> None:
    assert len(XSS_PAYLOADS) >= 30


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<p style="color:red">x</p>',
        "<style>p{}</style>",
    ],
)
def test_checker_catches_unsanitized_html(raw: str) -> None:
    trusted = f'<div class="gmi-reply"><style>{stylesheet()}</style>'
    with pytest.raises(AssertionError):
        assert_inert(trusted + raw + "</div>")


@pytest.mark.parametrize(
    "payload",
    [
        "`<script>alert(1)</script>`",
        "```\n<script>alert(1)</script>\n```",
        "$<script>alert(1)</script>$",
    ],
)
def test_code_and_math_payloads_are_shown_as_text(payload: str) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown_to_html(payload)


def test_safe_links_survive_and_images_become_links() -> None:
    """A remote image would load by itself (a data leak); it is shown as a link instead."""
    out = markdown_to_html(
        "[a](https://example.com) ![chart](http://example.com/i.png?q=secret) "
        '<img src="https://example.com/raw.png">'
    )
    assert 'href="https://example.com"' in out
    assert 'rel="noopener noreferrer"' in out
    assert (
        '<a href="http://example.com/i.png?q=secret" rel="noopener noreferrer">🖼 chart</a>' in out
    )
    assert "<img" not in out  # a raw <img> is shown as text, never as an element


def test_terminal_text_has_no_escape_sequences() -> None:
    from gmi_magics.display.markup import reply_text
    from gmi_magics.types import Reply

    text = reply_text(Reply(text="ok\x1b[2J\x1b]8;;http://evil\x07link\rover", model="m"))
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "oklinkover" in text  # whole sequences go, their parameters too


def test_model_cannot_spoof_our_classes() -> None:
    out = markdown_to_html('<div class="gmi-error">fake</div>')
    assert "gmi-error" not in out and "fake" in out


# --- markdown features ---------------------------------------------------------


def test_headings_lists_emphasis() -> None:
    out = markdown_to_html("# Title\n\n- one\n- **two**\n\n1. a\n2. *b*\n\n> q")
    for piece in ["<h1>Title</h1>", "<ul>", "<ol>", "<strong>two</strong>"]:
        assert piece in out
    assert "<em>b</em>" in out and "<blockquote>" in out


def test_table() -> None:
    out = markdown_to_html("| a | b |\n|:--|--:|\n| 1 | 2 |")
    assert "<table>" in out and "<th" in out and "<td" in out
    assert 'align="right"' in out


def test_fenced_python_is_highlighted_with_classes() -> None:
    out = markdown_to_html("```python\ndef f(x):\n    return 1\n```")
    assert '<div class="codehilite">' in out
    assert '<span class="k">def</span>' in out
    assert "style=" not in out


def test_inline_code() -> None:
    assert "<code>x = 1</code>" in markdown_to_html("use `x = 1` here")


def test_unclosed_fence_renders_as_code() -> None:
    assert '<div class="codehilite">' in markdown_to_html("```python\nx = 1")


@pytest.mark.parametrize(
    "math",
    [
        "$a_1 + b_1$",
        "$$\\frac{a}{b}$$",
        "\\(x^2\\)",
        "\\[y_1 *z*_2\\]",
        "$$\na_1 *b* c_1\n$$",
        "$x$",
    ],
)
def test_math_is_kept_for_mathjax(math: str) -> None:
    out = markdown_to_html(f"Here {math} there")
    assert math in out
    assert "<em>" not in out


def test_math_with_markup_chars_is_escaped() -> None:
    assert "$a &lt; b$" in markdown_to_html("$a < b$")


def test_math_in_table_cell() -> None:
    out = markdown_to_html("| a |\n|---|\n| $x_1$ |")
    assert "<td>$x_1$</td>" in out


def test_prices_are_not_math() -> None:
    out = markdown_to_html("It costs $5 and $6 in *total*.")
    assert "$5 and $6" in out
    assert "<em>total</em>" in out


def test_math_inside_code_is_left_as_code() -> None:
    out = markdown_to_html("```python\ns = '$a_1$'\n```\n\nand `$b_1$` too")
    assert "$a_1$" in out and "<code>$b_1$</code>" in out
    assert "GMIMATH" not in out


def test_escaped_dollar_is_not_math() -> None:
    out = markdown_to_html(r"a \$x_1\$ b")
    assert "GMIMATH" not in out


# --- reply_html / footer / text / bundle ----------------------------------------


def test_reply_html_layout() -> None:
    page = reply_html("answer", reasoning="ponder", footer="m · 1 s", notes=["n<1>"], error="e&")
    assert page.startswith(f'<div class="gmi-reply"><style>{stylesheet()}</style>')
    assert page.endswith("</div>")
    assert '<details class="gmi-thinking"><summary>Thinking</summary>' in page
    assert '<div class="gmi-note">n&lt;1&gt;</div>' in page
    assert '<div class="gmi-error">e&amp;</div>' in page
    assert '<div class="gmi-footer">m · 1 s</div>' in page
    marks = ("ponder", "answer", 'class="gmi-note"', 'class="gmi-error"')
    order = [page.index(mark) for mark in marks]
    assert order == sorted(order)


def test_streaming_cursor_and_open_thinking() -> None:
    assert "▌" in reply_html("partial", streaming=True)
    assert "▌" not in reply_html("done")
    assert 'gmi-thinking" open>' in reply_html("", reasoning="r", streaming=True)


def test_stylesheet_is_scoped() -> None:
    css = stylesheet()
    assert ".gmi-reply .codehilite .k" in css
    rules = [line for line in css.splitlines() if "{" in line]
    assert all(line.lstrip().startswith(".gmi-reply") for line in rules)


USAGE = Usage(prompt_tokens=12, completion_tokens=230, total_tokens=242)


def test_footer_text() -> None:
    reply = Reply(text="x", model="deepseek-ai/DeepSeek-V3.2-Exp", usage=USAGE, latency=1.84)
    assert footer_text(reply) == ("deepseek-ai/DeepSeek-V3.2-Exp · 12 in / 230 out tokens · 1.8 s")
    assert footer_text(Reply(model="m", latency=2.0)) == "m · 2.0 s"
    assert footer_text(Reply(model="m", interrupted=True)).endswith(" · interrupted")


def test_reply_text() -> None:
    reply = Reply(text="**hi**", reasoning="hmm", model="m", latency=1.0)
    assert reply_text(reply) == "[Thinking]\nhmm\n[/Thinking]\n\n**hi**\n\nm · 1.0 s"


def test_reply_bundle_and_repr() -> None:
    reply = Reply(text="# Hi", model="m", usage=USAGE, latency=0.5)
    bundle = reply_bundle(reply, notes=["cut"], error="boom")
    assert set(bundle) == {"text/html", "text/plain"}
    assert "<h1>Hi</h1>" in bundle["text/html"] and "boom" in bundle["text/html"]
    assert bundle["text/plain"].startswith("# Hi")
    assert "cut" in bundle["text/plain"] and "boom" in bundle["text/plain"]


# --- renderers ------------------------------------------------------------------


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    yield InteractiveShell.instance()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_stream(renderer: HtmlRenderer, deltas: list[str], step: float, clock: FakeClock) -> None:
    renderer.start()
    for delta in deltas:
        renderer.update(delta, "")
        clock.now += step


def test_html_renderer_outputs(shell: InteractiveShell) -> None:
    renderer = HtmlRenderer()
    with capture_output() as cap:
        renderer.start()
        renderer.update("", "thinking…")
        renderer.update("Hello **wor", "")
        renderer.finish(Reply(text="Hello **world**", reasoning="thinking…", model="m"))
    assert cap.outputs and len(cap.outputs) == renderer.updates
    for out in cap.outputs:
        assert set(out.data) == {"text/html", "text/plain"}
        assert "text/markdown" not in out.data
    ids = {out.transient.get("display_id") for out in cap.outputs}
    assert len(ids) == 1 and None not in ids
    assert all(out.update for out in cap.outputs[1:])
    final = cap.outputs[-1].data
    assert "<strong>world</strong>" in final["text/html"]
    assert '<div class="gmi-footer">m</div>' in final["text/html"]
    assert final["text/plain"].startswith("[Thinking]")


def test_html_renderer_streaming_plain_text_is_raw(shell: InteractiveShell) -> None:
    renderer = HtmlRenderer()
    with capture_output() as cap:
        renderer.start()
        renderer.update("a *b*", "")
    assert cap.outputs[-1].data["text/plain"] == "a *b*"
    assert "<em>b</em>" in cap.outputs[-1].data["text/html"]


def test_html_renderer_throttles_fast_deltas(shell: InteractiveShell) -> None:
    clock = FakeClock()
    renderer = HtmlRenderer(min_interval=0.08, clock=clock)
    with capture_output() as cap:
        run_stream(renderer, ["tok "] * 1000, 0.01 / 1000, clock)
        renderer.finish(Reply(text="tok " * 1000, model="m"))
    assert renderer.updates <= 3
    assert len(cap.outputs) == renderer.updates
    assert cap.outputs[-1].data["text/plain"].startswith("tok tok")


def test_html_renderer_repaints_when_slow(shell: InteractiveShell) -> None:
    clock = FakeClock()
    renderer = HtmlRenderer(min_interval=0.08, clock=clock)
    with capture_output() as cap:
        run_stream(renderer, [f"w{i} " for i in range(20)], 0.1, clock)
    assert renderer.updates == 21  # start + every delta
    assert "w19" in cap.outputs[-1].data["text/html"]


def test_html_renderer_finish_keeps_partial_text_under_error(
    shell: InteractiveShell,
) -> None:
    clock = FakeClock()
    renderer = HtmlRenderer(clock=clock)
    with capture_output() as cap:
        run_stream(renderer, ["partial ", "answer"], 0.0, clock)
        renderer.finish(Reply(text="partial answer"), error="connection lost")
    html_text = cap.outputs[-1].data["text/html"]
    assert "partial answer" in html_text and "connection lost" in html_text
    assert "▌" not in html_text


def test_html_renderer_finish_without_start(shell: InteractiveShell) -> None:
    renderer = HtmlRenderer()
    with capture_output() as cap:
        renderer.finish(Reply(text="x"))
    assert len(cap.outputs) == 1 and renderer.updates == 1


def test_text_renderer(shell: InteractiveShell) -> None:
    renderer = TextRenderer()
    with capture_output() as cap:
        renderer.start()
        renderer.update("", "let me ")
        renderer.update("", "think")
        renderer.update("The **answer** ", "")
        renderer.update("is <b>42</b>", "")
        reply = Reply(text="The **answer** is <b>42</b>", model="m", latency=1.0)
        renderer.finish(reply, notes=["a note"], error="")
    assert cap.stdout == (
        "[Thinking] let me think\n\nThe **answer** is <b>42</b>\n\na note\nm · 1.0 s\n"
    )
    assert not cap.outputs


def test_text_renderer_never_writes_html() -> None:
    stream = io.StringIO()
    renderer = TextRenderer(stream)
    renderer.update("# Title\n\n- item", "")
    renderer.finish(Reply(text="# Title\n\n- item"), error="boom")
    out = stream.getvalue()
    assert not re.search(r"<[a-z/]", out)
    assert out.endswith("- item\n\nError: boom\n")


def test_text_renderer_finish_only() -> None:
    stream = io.StringIO()
    TextRenderer(stream).finish(Reply(text="hi", reasoning="r", model="m"))
    assert stream.getvalue() == "[Thinking] r\n\nhi\n\nm\n"


def test_null_renderer_is_silent(shell: InteractiveShell) -> None:
    renderer = NullRenderer()
    with capture_output() as cap:
        renderer.start()
        renderer.update("x", "y")
        renderer.finish(Reply(text="x"))
    assert not cap.outputs and not cap.stdout


def test_make_renderer() -> None:
    assert isinstance(make_renderer("html"), BlockRenderer)
    assert isinstance(make_renderer("text"), TextRenderer)
    assert isinstance(make_renderer("none"), NullRenderer)
    with pytest.raises(ValueError, match="unknown renderer"):
        make_renderer("bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tag", ["script", "style", "template", "textarea", "title", "iframe", "noscript", "xmp"]
)
def test_prose_that_mentions_a_raw_text_tag_keeps_the_rest_of_the_reply(tag: str) -> None:
    """Models name tags without backticks; the sanitizer must not swallow what follows."""
    text = f"Put it in a <{tag}> element.\n\nThis sentence must survive."
    out = markdown_to_html(text)
    assert f"&lt;{tag}&gt;" in out
    assert "This sentence must survive." in out
    assert f"<{tag}" not in out


def test_a_raw_html_block_mentioning_script_keeps_its_text() -> None:
    out = markdown_to_html("<details><summary>x</summary>y</details> `<script>` and after")
    assert "after" in out and "<script" not in out


def test_generic_type_parameters_are_kept_as_text() -> None:
    assert "List&lt;String&gt;" in markdown_to_html("Use a List<String> here.")


@pytest.mark.parametrize(
    "text",
    [
        "1. one\n  - sub a\n  - sub b\n2. two",  # 2 spaces, as many models write
        "1. **Item**\n   - sub a\n   - sub b\n2. two",  # 3 spaces under a numbered item
        "1. one\n    - sub a\n    - sub b\n2. two",  # 4 spaces, Python-Markdown's own rule
    ],
)
def test_nested_lists_nest_however_the_model_indents_them(text: str) -> None:
    out = markdown_to_html(text)
    assert re.search(r"<ol>\s*<li>(<strong>)?(one|Item)(</strong>)?<ul>", out), out
    assert out.count("<li>") == 4


def test_list_like_lines_inside_code_fences_are_untouched() -> None:
    out = markdown_to_html("```\n- a\n  - b\n```")
    assert "- a\n  - b" in out and "<li>" not in out
