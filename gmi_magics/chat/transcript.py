"""Readable markdown transcripts of a conversation (``%gmi history``, export)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import printable_text
from .turns import Turn


def turn_markdown(turn: Turn, number: int) -> str:
    """One turn as markdown: the user's message, then the reply (no control characters)."""
    model = f" · {turn.reply.model}" if turn.reply.model else ""
    marker = "\n\n*(interrupted: partial reply)*" if turn.interrupted else ""
    tools = _tool_lines(turn)
    return printable_text(
        f"#### {number}. You\n\n{turn.shown_user()}\n\n"
        f"#### {number}. Assistant{model}{tools}\n\n{turn.reply.text}{marker}"
    )


def _tool_lines(turn: Turn) -> str:
    lines = []
    for message in turn.extra:
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            name, arguments = function.get("name", ""), function.get("arguments", "")
            lines.append(f"\n\n*called `{name}({arguments})`*")
    return "".join(lines)


def transcript_markdown(turns: Sequence[Turn], *, system: str | None = None) -> str:
    """The whole conversation as markdown."""
    parts = [printable_text(f"**System prompt:** {system}")] if system else []
    parts += [turn_markdown(turn, number) for number, turn in enumerate(turns, 1)]
    return "\n\n---\n\n".join(parts) if parts else "*The conversation is empty.*"
