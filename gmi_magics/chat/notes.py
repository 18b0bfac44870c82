"""The one-line notes a user sees under a reply: cut-offs, filters, trimming."""

from __future__ import annotations

from ..types import Reply
from .budget import trim_note

FINISH_NOTES = {
    "content_filter": "The reply was stopped by the provider's content filter.",
    "insufficient_system_resource": (
        "The server ran out of resources mid-reply; run the cell again."
    ),
}


def reply_notes(reply: Reply, max_tokens: int | None, max_tool_rounds: int = 0) -> list[str]:
    """One-line notes a user should see under a reply (cut-offs, filters, trimming)."""
    notes = []
    dropped = reply.metadata.get("dropped_turns", 0)
    if dropped:
        notes.append(trim_note(dropped))
    if reply.metadata.get("tool_rounds_exhausted"):
        notes.append(
            f"Stopped after {max_tool_rounds} tool rounds (GMIMagics.max_tool_rounds); "
            "the model still wanted to call tools."
        )
    return notes + _finish_notes(reply, max_tokens)


def _finish_notes(reply: Reply, max_tokens: int | None) -> list[str]:
    reason = reply.finish_reason
    if reason == "length":
        limit = f"max_tokens={max_tokens}" if max_tokens else "the server's max_tokens"
        return [f"The reply was cut at {limit}; raise --max-tokens to get the rest."]
    if reason in FINISH_NOTES:
        return [FINISH_NOTES[reason]]
    if reason not in (None, "stop", "tool_calls", "function_call"):
        return [f"The reply ended with finish_reason={reason!r}."]
    return []
