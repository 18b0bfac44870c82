"""What %%gmi shows: thinking blocks, terminal text, live HTML updates, safety, math, code."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from html.parser import HTMLParser
from typing import Any

import pytest
from helpers import XSS_TEXT, enqueue_xss_stream

from gmi_magics.display.blocks import EMPTY
from gmi_magics.testing import DONE, chunk, reply, sse

USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
FOOTER = re.compile(r"\S+ · \d+ in / \d+ out tokens · \d+\.\d s")
THINKING = '<details class="gmi-thinking"><summary>Thinking</summary>'


def _raw_delta(**fields: Any) -> dict[str, Any]:
    """A chunk with exactly ``fields`` in its delta (e.g. the bare ``reasoning`` key)."""
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "stand-in",
        "choices": [{"index": 0, "delta": fields, "finish_reason": None}],
    }


def _reasoning_field_stream() -> Any:
    return sse(
        _raw_delta(role="assistant"),
        _raw_delta(reasoning="Weigh the "),
        _raw_delta(reasoning="options carefully."),
        _raw_delta(content="The final "),
        _raw_delta(content="answer."),
        chunk(finish_reason="stop"),
        chunk(usage=USAGE, empty_choices=True),
        DONE,
    )


REASONING_SCRIPTS = {
    "reasoning_content": lambda: reply(
        ["The final ", "answer."], reasoning=["Weigh the ", "options carefully."]
    ),
    "reasoning": _reasoning_field_stream,
    "inline-think": lambda: reply(
        ["<thi", "nk>Weigh the ", "options care", "fully.</th", "ink>\n\nThe final ", "answer."]
    ),
}


def _answer_part(page: str) -> str:
    """The HTML after the thinking block (and after our stylesheet)."""
    body = page.split("</style>", 1)[1]
    return body.split("</details>", 1)[1] if "</details>" in body else body


@pytest.mark.parametrize("style", list(REASONING_SCRIPTS))
def test_reasoning_is_a_collapsed_block_above_the_answer(shell, server, style):
    server.enqueue(REASONING_SCRIPTS[style]())
    result = shell.run("%%gmi\nDecide")
    assert result.success, result.error
    page = result.last_html
    assert page.count(THINKING) == 1, page
    assert '<details class="gmi-thinking" open' not in page
    assert page.index(THINKING) < page.index("The final answer.")
    assert "Weigh the options carefully." in page.split(THINKING, 1)[1].split("</details>")[0]
    answer = _answer_part(page)
    assert "The final answer." in answer
    assert "Weigh" not in answer
    assert "think&gt;" not in page and "<think>" not in page

    turn = shell.conversation.turns[-1]
    assert turn.reply.text == "The final answer."
    assert turn.reply.reasoning == "Weigh the options carefully."

    server.enqueue(reply("ok"))
    shell.run("%%gmi\nNext")
    body = server.last_request.json
    assert body["messages"][1] == {"role": "assistant", "content": "The final answer."}
    assert "Weigh" not in json.dumps(body)


@pytest.mark.parametrize("style", ["reasoning_content", "inline-think"])
def test_reasoning_without_streaming(shell, server, style):
    server.enqueue(REASONING_SCRIPTS[style]())
    result = shell.run("%%gmi --no-stream\nDecide")
    assert result.success, result.error
    assert server.last_request.json["stream"] is False
    page = result.last_html
    assert page.count(THINKING) == 1
    assert "Weigh" not in _answer_part(page)
    assert shell.conversation.turns[-1].reply.text == "The final answer."


def test_thinking_block_is_open_while_only_reasoning_has_arrived(shell, server):
    server.enqueue(
        reply(["Answer ", "text."], reasoning=["Thinking ", "hard ", "now."], chunk_delay=0.05)
    )
    result = shell.run("%%gmi\nQ")
    live = [o.get("text/html", "") for o in result.outputs[:-1]]
    assert any('<details class="gmi-thinking" open>' in page for page in live), live
    assert '<details class="gmi-thinking" open' not in result.last_html


# -- terminal text ------------------------------------------------------------------

TERMINAL_JUNK = ("<Markdown object>", "<IPython.core.display", "<div", "<span", "<p>", "<details")


def test_text_display_prints_plain_reply_and_footer(shell, server):
    shell.config(display="text")
    server.enqueue(reply("Some **bold** text\n\n- item", usage=USAGE))
    result = shell.run("%%gmi\nQ")
    assert result.success, result.error
    assert result.outputs == []
    assert "Some **bold** text\n\n- item" in result.stdout
    for junk in TERMINAL_JUNK:
        assert junk not in result.stdout
    footer = result.stdout.rstrip().splitlines()[-1]
    assert FOOTER.fullmatch(footer), footer
    assert "12 in / 7 out tokens" in footer
    assert result.stdout.index("- item") < result.stdout.index(footer)


def test_text_display_shows_reasoning_and_notes(shell, server):
    shell.config(display="text")
    server.enqueue(reply("Cut", reasoning="ponder", finish_reason="length"))
    result = shell.run("%%gmi --max-tokens 3\nQ")
    assert result.outputs == []
    out = result.stdout
    assert out.index("[Thinking]") < out.index("ponder") < out.index("Cut")
    assert "max_tokens=3" in out
    for junk in TERMINAL_JUNK:
        assert junk not in out


def test_auto_display_in_a_plain_shell_is_text(shell, server):
    shell.config(display="auto")
    server.enqueue(reply("Plain *answer*"))
    result = shell.run("%%gmi\nQ")
    assert result.success, result.error
    assert result.outputs == []
    assert "Plain *answer*" in result.stdout
    for junk in TERMINAL_JUNK:
        assert junk not in result.stdout


class _Writes(io.StringIO):
    """A stdout that remembers each write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_text_display_streams_piece_by_piece(shell, server):
    shell.config(display="text")
    pieces = ["alpha ", "beta ", "gamma ", "delta"]
    server.enqueue(reply(pieces, chunk_delay=0.05))  # at a model's pace
    out = _Writes()
    with contextlib.redirect_stdout(out):
        shell.ip.run_cell_magic("gmi", "", "Q")
    for piece in pieces:
        assert piece in out.writes, out.writes
    assert out.getvalue().startswith("alpha beta gamma delta")


class _Pipe(_Writes):
    """A stdout that is not a terminal and counts its flushes."""

    flushes = 0
    seconds = 0.0

    def flush(self) -> None:
        self.flushes += 1


class _Terminal(_Pipe):
    def isatty(self) -> bool:
        return True


class _KernelStream(_Pipe):
    """Like ipykernel's OutStream: it sends what was written on a timer of its own."""

    flush_interval = 0.2


def test_a_terminal_is_flushed_at_every_delta_and_a_pipe_at_intervals(shell, server):
    shell.config(display="text")
    pieces = [f"w{i} " for i in range(30)]
    terminal, pipe, kernel = _Terminal(), _Pipe(), _KernelStream()
    for out in (terminal, pipe, kernel):
        server.enqueue(reply(pieces, chunk_delay=0.002))
        started = time.monotonic()
        with contextlib.redirect_stdout(out):
            shell.ip.run_cell_magic("gmi", "", "Q")
        out.seconds = time.monotonic() - started
        assert "".join(pieces).strip() in out.getvalue()
    assert terminal.flushes >= len(pieces)
    # the first write, one every 0.2 s, the end
    assert pipe.flushes <= 5 * pipe.seconds + 2, (pipe.flushes, pipe.seconds)
    assert kernel.flushes == 1  # only at the end: between, its own timer sends


# -- live HTML ------------------------------------------------------------------------


def test_html_streams_a_few_live_updates_then_the_final_rendering(shell, server):
    pieces = [f"word{i} " for i in range(40)]
    server.enqueue(reply(pieces, chunk_delay=0.02, usage=USAGE))
    result = shell.run("%%gmi\nCount")
    assert result.success, result.error
    assert result.stdout == ""
    outputs = [o for o in result.outputs if o and o != EMPTY]  # the live tail is emptied
    assert 3 <= len(outputs) <= 20, len(outputs)
    assert all("text/html" in o for o in outputs)
    final = outputs[-1]
    assert "word0 word1" in final["text/html"] and "word39" in final["text/html"]
    assert FOOTER.search(final["text/html"])
    assert 'class="gmi-cursor"' not in final["text/html"]
    assert FOOTER.search(final["text/plain"])
    live = [o for o in outputs[:-1] if "text/plain" not in o and "<style>" not in o["text/html"]]
    assert live and all('class="gmi-cursor"' in o["text/html"] for o in live)
    assert not any(FOOTER.search(o["text/html"]) for o in live)
    shown = [len(re.findall(r"word\d+", o["text/html"])) for o in live]
    assert shown == sorted(shown), "live updates never go backwards"
    # (under load the last pieces may arrive in one burst, so the last live update can
    # already hold every word; what matters is that partial text was shown before the end)
    assert any(0 < n < 40 for n in shown), "some text was shown before the reply finished"


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]


def _assert_inert(page: str) -> None:
    found = _Inspector()
    found.feed(page)
    found.close()
    assert found.tags.count("style") <= 1, "only our own stylesheet"
    for bad in ("script", "iframe", "svg", "object", "embed", "body"):
        assert bad not in found.tags, (bad, page)
    for tag, name, value in found.attrs:
        assert not name.startswith("on"), (tag, name, value)
        assert name not in ("style", "srcdoc"), (tag, name)
        if name in ("href", "src"):
            url = re.sub(r"[\x00-\x20]+", "", value).lower()
            assert url.startswith(("http:", "https:", "mailto:")), (tag, name, value)
    lowered = re.sub(r"&lt;[^<]*", "", page.lower())  # escaped text is inert
    for raw in ("<img src=x onerror", "<script", "<svg", 'href="javascript', 'src="javascript'):
        assert raw not in lowered, raw


@pytest.mark.parametrize("where", ["content", "reasoning"])
def test_xss_from_the_server_is_never_shown_unsanitized_in_a_cell(shell, server, where):
    enqueue_xss_stream(server, where)
    result = shell.run("%%gmi\nQ")
    assert result.success, result.error
    assert len(result.outputs) >= 2, "live updates were captured too"
    for output in result.outputs:
        _assert_inert(output.get("text/html", ""))
    assert result.last_html.count("<style") == 1, "our stylesheet, once"
    assert "Hello" in result.last_html and "done" in result.last_html

    server.enqueue(reply("fine"))
    shell.run("%%gmi\nAgain")
    history = shell.run("%gmi history")
    for output in history.outputs:
        _assert_inert(output["text/html"])


def test_inert_checker_catches_raw_payloads():
    page = '<div class="gmi-reply"><style>x</style>{}</div>'
    for raw in ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>", XSS_TEXT):
        with pytest.raises(AssertionError):
            _assert_inert(page.format(raw))
    _assert_inert(page.format("<p>fine &lt;script&gt;</p>"))


# -- math and code ------------------------------------------------------------------


def test_math_survives_intact(shell, server):
    server.enqueue(
        reply(["Inline $a_1 + b", "_1$ and display\n\n$$x_i ", "* y_i$$\n\nand \\(c_2\\)"])
    )
    result = shell.run("%%gmi\nMath please")
    page = result.last_html
    assert "$a_1 + b_1$" in page
    assert "$$x_i * y_i$$" in page
    assert "\\(c_2\\)" in page
    assert "<em>" not in page


def test_code_fence_is_highlighted(shell, server):
    server.enqueue(reply("Here:\n\n```python\ndef add(a, b):\n    return a + b\n```\n"))
    result = shell.run("%%gmi\nCode please")
    page = result.last_html
    assert '<div class="codehilite">' in page
    assert re.search(r'<span class="k">def</span>', page), page
    assert re.search(r'<span class="nf">add</span>', page)
    assert ".gmi-reply .codehilite .k" in page, "token colours shipped with the reply"


def test_unclosed_fence_mid_stream_renders_as_code(shell, server):
    server.enqueue(reply(["```python\n", "x = 1\n", "y = 2\n", "```\n\nAfter."], chunk_delay=0.1))
    result = shell.run("%%gmi\nQ")
    bodies = [o.get("text/html", "").split("</style>")[-1] for o in result.outputs[:-1]]
    live = [body for body in bodies if '<span class="n">x</span>' in body]
    assert live, bodies
    assert all('<div class="codehilite">' in body and "```" not in body for body in live)
    assert "<p>After.</p>" in result.last_html
