"""No control or bidi character from the server or model reaches the user's terminal."""

from __future__ import annotations

import io

import pytest
from hostile_corpus import CONTROL_SEQUENCES, FORBIDDEN_IN_TERMINAL

from gmi_magics.chat.transcript import transcript_markdown
from gmi_magics.chat.turns import Turn
from gmi_magics.display.markup import (
    footer_text,
    markdown_to_html,
    reply_html,
    reply_text,
    tool_html,
    tool_text,
)
from gmi_magics.display.render import TextRenderer
from gmi_magics.testing import reply
from gmi_magics.text import printable_text
from gmi_magics.types import Reply, ToolBlock

EVERYTHING = "".join(CONTROL_SEQUENCES.values())


def _clean(text: str) -> bool:
    return not any(char in text for char in FORBIDDEN_IN_TERMINAL)


@pytest.mark.parametrize("name", CONTROL_SEQUENCES)
def test_printable_text_strips_each_sequence(name: str) -> None:
    out = printable_text(f"before\n\t{CONTROL_SEQUENCES[name]}\nafter")
    assert _clean(out) and out.startswith("before\n\t") and out.endswith("\nafter")
    if CONTROL_SEQUENCES[name].startswith("\x1b"):  # the whole sequence goes, payload too
        assert "pwned" not in out and "cm0gLXJmIH4=" not in out and "evil" not in out


def test_printable_text_keeps_ordinary_text() -> None:
    text = "naïve café — 日本語, עברית, فارسی\u200c, emoji 👨\u200d👩\u200d👧\n\tcode  spaces\n"
    assert printable_text(text) == text
    assert printable_text("line\r\nnext\r\n") == "line\nnext\n"


def test_hostile_turn_in_the_transcript() -> None:
    hostile = Reply(text=f"answer {EVERYTHING}", model=f"model{EVERYTHING}")
    tool_call = {"function": {"name": f"f{EVERYTHING}", "arguments": f'{{"a": "{EVERYTHING}"}}'}}
    turn = Turn(
        f"question {EVERYTHING}", hostile, [{"role": "assistant", "tool_calls": [tool_call]}]
    )
    text = transcript_markdown([turn], system=f"system {EVERYTHING}")
    assert _clean(text)
    assert "answer" in text and "question" in text and "system" in text


def test_terminal_text_of_a_reply_tools_notes_and_footer() -> None:
    hostile = Reply(
        text=f"answer {EVERYTHING}", reasoning=f"thought {EVERYTHING}", model=f"m{EVERYTHING}"
    )
    block = ToolBlock(f"tool{EVERYTHING}", EVERYTHING, EVERYTHING, 0.1, f"boom{EVERYTHING}")
    for text in (
        reply_text(hostile, notes=[f"note{EVERYTHING}"], error=f"err{EVERYTHING}", tools=[block]),
        tool_text(block),
        footer_text(hostile),
    ):
        assert _clean(text), repr(text)


def test_html_never_carries_control_characters() -> None:
    hostile = Reply(text=f"answer {EVERYTHING}", model=f"m{EVERYTHING}")
    block = ToolBlock(f"tool{EVERYTHING}", EVERYTHING, EVERYTHING, 0.1, f"boom{EVERYTHING}")
    page = reply_html(
        hostile.text,
        reasoning=EVERYTHING,
        tools=[block],
        footer=footer_text(hostile),
        notes=[EVERYTHING],
        error=EVERYTHING,
    )
    assert _clean(page) and _clean(tool_html(block))
    assert _clean(
        markdown_to_html(f"# t{EVERYTHING}\n\n```\ncode{EVERYTHING}\n```\n\n- {EVERYTHING}")
    )


def test_text_renderer_streams_no_control_characters() -> None:
    stream = io.StringIO()
    renderer = TextRenderer(stream)
    for piece in (EVERYTHING[i : i + 3] for i in range(0, len(EVERYTHING), 3)):
        renderer.update(piece, piece)
    renderer.finish(Reply(text=EVERYTHING, model=f"m{EVERYTHING}"), notes=[EVERYTHING])
    assert _clean(stream.getvalue())


def test_terminal_cell_and_history_show_no_control_characters(shell, server) -> None:
    shell.config(display="text")
    server.enqueue(reply(f"Hello {EVERYTHING} world", reasoning=f"hm {EVERYTHING}"))
    result = shell.run("%%gmi\nhi")
    assert result.success, result.error
    assert "Hello" in result.stdout and _clean(result.stdout), repr(result.stdout)
    history = shell.run("%gmi history")
    assert history.success, history.error
    assert "Hello" in history.plain and _clean(history.plain), repr(history.plain)
    assert _clean(history.html)
