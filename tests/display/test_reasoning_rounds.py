"""A tool-calling reply keeps every round's thinking, in order, collapsed."""

from __future__ import annotations

import re

from gmi_magics.display.markup import Round, earlier_rounds, reply_html
from gmi_magics.testing import reply
from gmi_magics.types import ToolBlock

THINKING = re.compile(r'<details class="gmi-thinking"( open)?><summary>([^<]*)</summary>')


def _call(name: str, arguments: str, call_id: str = "c1") -> dict[str, object]:
    return {"index": 0, "id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments}}  # fmt: skip


def _thinking_blocks(page: str) -> list[tuple[str, str]]:
    """(summary, body) of each thinking block, in page order; all must be collapsed."""
    blocks = []
    for match in THINKING.finditer(page):
        assert match.group(1) is None, "an earlier round's thinking must stay collapsed"
        body = page[match.end() : page.index("</details>", match.end())]
        blocks.append((match.group(2), body))
    return blocks


def test_thinking_of_every_tool_round_stays_in_the_final_output(shell, server) -> None:
    shell.run("def lookup(city: str) -> str:\n    return 'sunny in ' + city\n")
    oslo, rome = _call("lookup", '{"city": "Oslo"}'), _call("lookup", '{"city": "Rome"}')
    server.enqueue(
        reply(reasoning="First I need the weather.", tool_calls=[oslo], finish_reason="tool_calls"),
        reply(reasoning="Now compare with Rome.", tool_calls=[rome], finish_reason="tool_calls"),
        reply("Both are sunny.", reasoning="Both lookups agree."),
    )
    result = shell.run("%%gmi --tools lookup\nWeather?")
    assert result.success, result.error
    page = result.last_html  # the final output: what the saved notebook keeps
    thoughts = "".join(body for _, body in _thinking_blocks(page))
    first, second, third = (
        thoughts.index(words)
        for words in ("First I need the weather.", "Now compare with Rome.", "Both lookups agree.")
    )
    assert first < second < third
    assert page.rindex("</details>") < page.index("Both are sunny.")

    # The panel's transcript and a reloaded history render the saved turn: its
    # earlier rounds' thinking lives in the tool-loop messages (Turn.extra).
    turn = shell.conversation.turns[-1]
    saved = reply_html(turn.reply.text, reasoning=turn.reply.reasoning,
                       rounds=earlier_rounds(turn.extra))  # fmt: skip
    blocks = _thinking_blocks(saved)
    assert [summary for summary, _ in blocks] == [
        "Thinking (round 1)", "Thinking (round 2)", "Thinking (round 3)"
    ]  # fmt: skip
    assert "First I need" in blocks[0][1] and "Now compare" in blocks[1][1]
    assert "Both lookups agree." in blocks[2][1]


def test_one_round_keeps_the_plain_thinking_block(shell, server) -> None:
    server.enqueue(reply("Answer.", reasoning="Just thinking."))
    result = shell.run("%%gmi\nQ")
    assert [summary for summary, _ in _thinking_blocks(result.last_html)] == ["Thinking"]


def test_reply_html_renders_rounds_in_order() -> None:
    tool = ToolBlock("f", "{}", "out", 0.1)
    page = reply_html(
        "answer",
        reasoning="third",
        rounds=[Round("first", (tool,)), Round("", (tool,)), Round("second", ())],
    )
    summaries = [summary for summary, _ in _thinking_blocks(page)]
    assert summaries == ["Thinking (round 1)", "Thinking (round 3)", "Thinking (round 4)"]
    assert page.index("first") < page.index("🔧 f") < page.index("second") < page.index("third")
    assert page.index("third") < page.index("answer")


def test_earlier_rounds_from_saved_tool_messages() -> None:
    extra = [
        {"role": "assistant", "content": None, "tool_calls": [], "reasoning_content": "r1"},
        {"role": "tool", "tool_call_id": "c1", "content": "x"},
        {"role": "assistant", "content": "hm", "tool_calls": []},
        {"role": "tool", "tool_call_id": "c2", "content": "y"},
    ]
    assert earlier_rounds(extra) == [Round("r1"), Round("")]
