"""``Conversation``: a system prompt, turns, and ``send()`` — no IPython here.

History rules: a turn enters history only when its reply completes; an interrupt
keeps the partial reply as an *interrupted* turn; any error leaves history as it was.
With tools, one turn may hold several requests: the model's tool calls and their
results are kept in the turn (``Turn.extra``) in the order the API requires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from ..errors import GMIError
from ..settings import DEFAULT_MAX_TOOL_ROUNDS, DEFAULT_MODEL
from ..tools.registry import Tool, ToolRegistry, ToolResult, run_tool_calls
from ..wire.client import GMIClient
from ..wire.deltas import ReplyBuilder
from .budget import (
    MessagesView,
    TokenEstimator,
    context_limit_for,
    trim_history,
    turn_token_count,
)
from .turns import Spend, Turn, TurnTokens

__all__ = ["Conversation", "ReplyInterrupted", "Spend", "Turn", "as_registry"]
from ..types import Delta, Message, Reply, ToolCall, Usage

DeltaCallback = Callable[[Delta], None]
ToolCallback = Callable[[ToolResult], None]
ConfirmCallback = Callable[[ToolCall], bool]


class ReplyInterrupted(KeyboardInterrupt):
    """Ctrl-C / kernel interrupt mid-reply; ``reply`` holds what had arrived."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("reply interrupted")
        self.reply = reply


def as_registry(tools: Iterable[Callable[..., Any] | Tool] | ToolRegistry | None) -> ToolRegistry:
    """Accept a registry, or any iterable of callables/Tools."""
    if isinstance(tools, ToolRegistry):
        return tools
    return ToolRegistry(tools or ())


class Conversation:
    """A chat held in memory: ``send()`` streams a reply and records the turn."""

    def __init__(
        self,
        client: GMIClient | None = None,
        *,
        model: str | None = None,
        system: str | None = None,
        tools: Iterable[Callable[..., Any] | Tool] | ToolRegistry | None = None,
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        max_context_tokens: int | None = None,
        name: str = "default",
        **params: Any,
    ) -> None:
        self.client = client if client is not None else GMIClient()
        self.model = model or DEFAULT_MODEL
        self.system = system
        self.tools = as_registry(tools)
        self.max_tool_rounds = max_tool_rounds
        self.max_context_tokens = max_context_tokens
        self.name = name
        self.params = params
        self.turns: list[Turn] = []
        self._committed: list[Turn] = []  # commit order, for undo after in-place re-runs
        self.last_request: dict[str, Any] | None = None
        self.estimator = TokenEstimator()
        self.spend = Spend()

    def __repr__(self) -> str:
        return f"Conversation(name={self.name!r}, model={self.model!r}, turns={len(self.turns)})"

    # -- history --------------------------------------------------------------

    def build_messages(
        self,
        text: str,
        *,
        system: str | None = None,
        history: bool = True,
        exclude_cell: str | None = None,
        max_history: int | None = None,
    ) -> tuple[list[Message], int]:
        """The ``messages`` array for a new user message, fitted to the context budget.

        Returns the messages and how many of the oldest turns were left out.
        """
        prompt = system if system is not None else self.system
        head: list[Message] = [{"role": "system", "content": prompt}] if prompt else []
        new: list[Message] = [{"role": "user", "content": text}]
        if not history:
            return head + new, 0
        turns = self.turns
        if exclude_cell is not None:
            turns = [t for t in turns if t.cell_id != exclude_cell]
        return trim_history(  # lazy views: only the turns that fit are ever built
            head,
            MessagesView(turns, Turn.messages),
            new,
            max_tokens=self.max_context_tokens or context_limit_for(self.model),
            max_turns=max_history,
            estimator=self.estimator,
            turn_tokens=TurnTokens(turns, self.estimator),
        )

    def undo(self) -> Turn | None:
        """Drop and return the most recently committed turn (``None`` when empty).

        That is the last turn, unless a re-run cell replaced an earlier one since.
        """
        while self._committed:
            recent = self._committed.pop()
            for index, turn in enumerate(self.turns):
                if turn is recent:
                    return self.turns.pop(index)
        return self.turns.pop() if self.turns else None

    def reset(self) -> None:
        self.turns.clear()
        self._committed.clear()

    def _commit(self, turn: Turn) -> int:
        """Add ``turn`` (replacing the same cell's earlier turn); return its index."""
        self._committed.append(turn)
        for index, existing in enumerate(self.turns):
            if turn.cell_id is not None and existing.cell_id == turn.cell_id:
                self.turns[index] = turn
                return index
        self.turns.append(turn)
        return len(self.turns) - 1

    # -- sending --------------------------------------------------------------

    def send(
        self,
        text: str,
        *,
        model: str | None = None,
        system: str | None = None,
        history: bool = True,
        stream: bool = True,
        on_delta: DeltaCallback | None = None,
        on_tool: ToolCallback | None = None,
        confirm: ConfirmCallback | None = None,
        tools: Iterable[Callable[..., Any] | Tool] | ToolRegistry | None = None,
        cell_id: str | None = None,
        max_history: int | None = None,
        **params: Any,
    ) -> Reply:
        """Send ``text`` as the next user message and return the finished reply.

        ``history=False`` asks a one-off question that neither sees nor joins the
        conversation.  ``on_delta`` receives each normalised delta as it arrives;
        ``on_tool`` each tool result when the model calls tools.
        """
        model = model or self.model
        registry = self.tools if tools is None else as_registry(tools)
        request_params = {**self.params, **params}
        if len(registry):
            request_params.setdefault("tools", registry.schemas())
        messages, dropped = self.build_messages(
            text, system=system, history=history, exclude_cell=cell_id, max_history=max_history
        )
        extra: list[Message] = []
        turn = Turn(text, Reply(), extra, cell_id, registry.names)
        try:
            reply = self._tool_loop(
                messages, extra, model, stream, request_params, registry, on_delta, on_tool, confirm
            )
        except ReplyInterrupted as interrupt:
            partial = interrupt.reply
            keep = history and bool(partial.text or partial.reasoning or extra)  # else: no turn
            interrupt.reply = self._record(turn, partial, dropped, keep=keep)
            raise
        return self._record(turn, reply, dropped, keep=history)

    def _record(self, turn: Turn, reply: Reply, dropped: int, *, keep: bool) -> Reply:
        """Stamp provenance (thread, turn number) on the reply; commit the turn if kept."""
        metadata = {**reply.metadata, "thread": self.name, "dropped_turns": dropped}
        if keep:
            metadata["turn"] = self._commit(turn) + 1
        turn.reply = replace(reply, metadata=metadata)
        return turn.reply

    def _tool_loop(
        self,
        messages: list[Message],
        extra: list[Message],
        model: str,
        stream: bool,
        params: dict[str, Any],
        registry: ToolRegistry,
        on_delta: DeltaCallback | None,
        on_tool: ToolCallback | None,
        confirm: ConfirmCallback | None,
    ) -> Reply:
        """Ask, run any tool calls, send results back; until text or the round limit.

        The final reply's usage is the sum over every round of the turn.
        """
        usage: Usage | None = None
        for round_number in range(self.max_tool_rounds + 1):
            reply = self._exchange(messages + extra, model, stream, on_delta, params)
            if reply.usage is not None:
                usage = reply.usage if usage is None else usage + reply.usage
            reply = replace(reply, usage=usage)
            if not reply.tool_calls or not len(registry):
                return reply
            if round_number == self.max_tool_rounds:
                return replace(reply, metadata={**reply.metadata, "tool_rounds_exhausted": True})
            try:
                results = run_tool_calls(reply.tool_calls, registry, confirm=confirm)
            except KeyboardInterrupt:  # mid-tool: keep only completed rounds
                raise ReplyInterrupted(replace(reply, interrupted=True, tool_calls=())) from None
            extra.append(assistant_tool_message(reply))
            for result in results:
                extra.append(result.to_message())
                if on_tool is not None:
                    on_tool(result)
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(
        self,
        messages: list[Message],
        model: str,
        stream: bool,
        on_delta: DeltaCallback | None,
        params: dict[str, Any],
    ) -> Reply:
        self.last_request = {
            "endpoint": f"{self.client.base_url}/chat/completions",
            "model": model,
            "params": {k: v for k, v in params.items() if v is not None},
            "stream": stream,
            "messages": messages,
        }
        builder = ReplyBuilder(model)
        started = time.monotonic()
        try:
            for delta in self._deltas(messages, model, stream, params):
                normalised = builder.add(delta)
                if on_delta is not None:
                    on_delta(normalised)
        except KeyboardInterrupt:
            partial = builder.build(latency=time.monotonic() - started, interrupted=True)
            raise ReplyInterrupted(self._annotate(partial, params, model, stream)) from None
        except GMIError as error:
            error.partial = builder.build(latency=time.monotonic() - started)
            raise
        reply = self._annotate(
            builder.build(latency=time.monotonic() - started), params, model, stream
        )
        self._account(reply, messages, model)
        return reply

    def _account(self, reply: Reply, messages: list[Message], model: str) -> None:
        self.spend.add(reply, model)
        if reply.usage is not None and reply.usage.prompt_tokens:
            estimated = sum(turn_token_count([m], self.estimator) for m in messages)
            self.estimator.calibrate(estimated, reply.usage.prompt_tokens)

    def _deltas(
        self, messages: list[Message], model: str, stream: bool, params: dict[str, Any]
    ) -> Iterator[Delta]:
        if stream:
            yield from self.client.stream_chat(messages, model=model, **params)
        else:
            yield self.client.chat(messages, model=model, **params)

    def _annotate(self, reply: Reply, params: dict[str, Any], model: str, stream: bool) -> Reply:
        shown = {k: v for k, v in params.items() if v is not None and k != "tools"}
        metadata = {
            "params": shown,
            "base_url": self.client.base_url,
            "requested_model": model,
            "stream": stream,
        }
        return replace(reply, metadata={**reply.metadata, **metadata})


def assistant_tool_message(reply: Reply) -> Message:
    """The assistant message that asked for tool calls (with its reasoning, if any)."""
    message: Message = {
        "role": "assistant",
        "content": reply.text or None,
        "tool_calls": [call.to_wire() for call in reply.tool_calls],
    }
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    return message
