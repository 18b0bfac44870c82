"""Wire chunks → ``Delta``; ``Delta`` stream → ``Reply``.

Pure functions and one accumulator; no I/O.  Reasoning may arrive as
``reasoning_content``, ``reasoning`` or inline ``<think>…</think>`` in content:
all three end up in ``Reply.reasoning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import StreamError
from ..types import Delta, Reply, ToolCall, ToolCallDelta, Usage

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def stream_error_message(obj: dict[str, Any]) -> str | None:
    """The message of an in-stream error event, or ``None`` for a normal chunk."""
    error = obj.get("error")
    if error:
        if isinstance(error, dict):
            return str(error.get("message") or "the server reported an error mid-reply")
        return str(error)
    if obj.get("object") == "error":
        return str(obj.get("message") or "the server reported an error mid-reply")
    return None


def parse_chunk(obj: Any) -> Delta:
    """Decode one ``chat.completion.chunk`` object; parts of the wrong type are skipped.

    The hot path of every streamed reply (one call per token), so written flat.
    """
    if not isinstance(obj, dict):
        raise StreamError("The reply stream carried a chunk that is not a JSON object.")
    if "error" in obj or obj.get("object") == "error":
        message = stream_error_message(obj)
        if message is not None:
            raise StreamError(f"The server reported an error mid-reply: {message}")
    usage = obj.get("usage")
    model = obj.get("model")
    usage = Usage.from_wire(usage) if usage is not None else None
    model = model if isinstance(model, str) else None
    choices = obj.get("choices")
    choice = choices[0] if choices and isinstance(choices, list) else None
    if not isinstance(choice, dict):
        return Delta(usage=usage, model=model)
    delta = choice.get("delta") or choice.get("message")
    if not isinstance(delta, dict):
        delta = {}
    content = delta.get("content")
    reasoning = delta.get("reasoning_content")
    if not reasoning or not isinstance(reasoning, str):
        reasoning = delta.get("reasoning")
    calls = delta.get("tool_calls")
    finish = choice.get("finish_reason")
    return Delta(
        content if isinstance(content, str) else "",
        reasoning if isinstance(reasoning, str) else "",
        _tool_call_deltas(calls) if calls else (),
        finish if finish and isinstance(finish, str) else None,
        usage,
        model,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tool_call_deltas(raw: Any) -> tuple[ToolCallDelta, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        function = item.get("function")
        function = function if isinstance(function, dict) else {}
        index, call_id, name = item.get("index"), item.get("id"), function.get("name")
        out.append(
            ToolCallDelta(
                index=index if isinstance(index, int) and not isinstance(index, bool) else position,
                id=call_id if call_id and isinstance(call_id, str) else None,
                name=name if name and isinstance(name, str) else None,
                arguments=_text(function.get("arguments")),
            )
        )
    return tuple(out)


class ThinkSplitter:
    """Moves a leading ``<think>…</think>`` span out of streamed content.

    Tags may be split across deltas anywhere.  Only a span that opens before any
    answer text counts: a reply that merely *mentions* ``<think>`` stays intact.
    """

    def __init__(self) -> None:
        self._inside = False
        self._held = ""
        self._answering = False  # answer text has started: stop looking for tags

    def split(self, text: str) -> tuple[str, str]:
        """Return ``(content, reasoning)`` for this piece of content."""
        if self._answering and not self._held:  # the common case once answering
            return text, ""
        text = self._held + text
        self._held = ""
        content: list[str] = []
        reasoning: list[str] = []
        while text:
            if self._answering:
                content.append(text)
                break
            tag = THINK_CLOSE if self._inside else THINK_OPEN
            target = reasoning if self._inside else content
            at = text.find(tag)
            if at >= 0 and not self._inside and text[:at].strip():
                self._answering = True  # text before the tag: it is part of the answer
                continue
            if at >= 0:
                target.append(text[:at])
                text = text[at + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_tag_suffix(text, tag)
            target.append(text[: len(text) - keep])
            self._held = text[len(text) - keep :]
            if not self._inside and text[: len(text) - keep].strip():
                self._answering = True
            break
        return "".join(content), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """Whatever was held back waiting for a tag that never completed."""
        held, self._held = self._held, ""
        return ("", held) if self._inside else (held, "")


def _partial_tag_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ReplyBuilder:
    """Accumulates deltas into a ``Reply``; ``add`` returns the normalised delta."""

    def __init__(self, model: str = "") -> None:
        self.model = model
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._tools: dict[int, _ToolCallParts] = {}
        self._think = ThinkSplitter()
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, delta: Delta) -> Delta:
        """Record one delta; return it with inline ``<think>`` text moved to reasoning."""
        content, inline = self._think.split(delta.content) if delta.content else ("", "")
        self._content.append(content)
        if delta.reasoning or inline:
            self._reasoning.append(delta.reasoning + inline)
        for part in delta.tool_calls:
            self._add_tool_part(part)
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason
        if delta.usage:
            self.usage = delta.usage
        if delta.model:
            self.model = delta.model
        if content is delta.content and not inline:  # hot path: nothing moved
            return delta
        return delta._replace(content=content, reasoning=delta.reasoning + inline)

    def _add_tool_part(self, part: ToolCallDelta) -> None:
        parts = self._tools.setdefault(part.index, _ToolCallParts())
        parts.id = part.id or parts.id  # a null id on a continuation never overwrites
        parts.name = part.name or parts.name
        parts.arguments.append(part.arguments)

    @property
    def text(self) -> str:
        return "".join(self._content)

    def build(self, *, latency: float = 0.0, interrupted: bool = False) -> Reply:
        """The reply so far (complete, or partial when interrupted)."""
        tail_content, tail_reasoning = self._think.flush()
        self._content.append(tail_content)
        self._reasoning.append(tail_reasoning)
        calls = tuple(
            ToolCall(id=p.id or f"call_{i}", name=p.name, arguments="".join(p.arguments))
            for i, p in sorted(self._tools.items())
        )
        return Reply(
            text="".join(self._content).strip(),
            reasoning="".join(self._reasoning).strip(),
            tool_calls=calls,
            usage=self.usage,
            finish_reason=self.finish_reason,
            model=self.model,
            latency=latency,
            interrupted=interrupted,
        )
