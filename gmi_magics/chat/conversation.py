"""``Conversation``: a system prompt, turns, and ``send()`` — no IPython here.

History rules: a turn enters history only when its reply completes; an interrupt
keeps the partial reply as an *interrupted* turn; any error leaves history as it was.
With tools, one turn may hold several requests: the model's tool calls and their
results are kept in the turn (``Turn.extra``) in the order the API requires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, cast

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
from .content import Part, compose, images_refused
from .options import ConfirmCallback, RequestOptions
from .turns import Spend, Turn, TurnTokens

__all__ = [
    "ConfirmCallback",
    "Conversation",
    "ReplyInterrupted",
    "RequestOptions",
    "Spend",
    "Turn",
    "as_registry",
]
from ..types import Delta, Message, Reply, Usage

DeltaCallback = Callable[[Delta], None]
ToolCallback = Callable[[ToolResult], None]


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
        text: str | list[Part],
        *,
        system: str | None = None,
        history: bool = True,
        before_cell: str | None = None,
        max_history: int | None = None,
    ) -> tuple[list[Message], int]:
        """The ``messages`` array for a new user message, fitted to the context budget.

        ``text`` is the message's content: a string, or a list of content parts.

        ``before_cell``: a re-run cell sees only the turns before its own earlier turn
        (the notebook's order), never the ones after it.  Returns the messages and
        how many of the oldest turns were left out.
        """
        prompt = system if system is not None else self.system
        head: list[Message] = [{"role": "system", "content": prompt}] if prompt else []
        new: list[Message] = [{"role": "user", "content": cast(str, text)}]  # or parts
        if not history:
            return head + new, 0
        turns = self.turns[: self._position(before_cell)]
        return trim_history(  # lazy views: only the turns that fit are ever built
            head,
            MessagesView(turns, Turn.messages),
            new,
            max_tokens=self.max_context_tokens or context_limit_for(self.model),
            max_turns=max_history,
            estimator=self.estimator,
            turn_tokens=TurnTokens(turns, self.estimator),
        )

    def _position(self, cell_id: str | None) -> int:
        """Index of ``cell_id``'s turn (where its re-run goes), else the end."""
        if cell_id is not None:
            for index, turn in enumerate(self.turns):
                if turn.cell_id == cell_id:
                    return index
        return len(self.turns)

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
        index = self._position(turn.cell_id)
        if index < len(self.turns):
            replaced = self.turns[index]
            self._committed = [t for t in self._committed if t is not replaced]
            self.turns[index] = turn
        else:
            self.turns.append(turn)
        self._committed.append(turn)
        return index

    # -- sending --------------------------------------------------------------

    def send(
        self,
        text: str,
        options: RequestOptions | None = None,
        *,
        on_delta: DeltaCallback | None = None,
        on_tool: ToolCallback | None = None,
        **overrides: Any,
    ) -> Reply:
        """Send ``text`` as the next user message and return the finished reply.

        ``options`` (or keywords: ``model=``, ``history=False``, ``temperature=``…)
        say how; ``history=False`` asks a one-off question that neither sees nor
        joins the conversation.  ``on_delta`` receives each normalised delta as it
        arrives; ``on_tool`` each tool result when the model calls tools.
        """
        options = (options or RequestOptions()).updated(**overrides)
        request, dropped = self._request(text, options)
        sent = user_content(text, options)
        turn = Turn(text, Reply(), request.extra, options.cell_id, request.registry.names)
        turn.content = sent if isinstance(sent, list) else None
        try:
            reply = self._tool_loop(request, on_delta, on_tool)
        except GMIError as error:
            refused = images_refused(error, request.model) if options.images else error
            if refused is error:
                raise
            raise refused from None
        except ReplyInterrupted as interrupt:
            partial = interrupt.reply
            keep = options.history and bool(partial.text or partial.reasoning or request.extra)
            interrupt.reply = self._record(turn, partial, dropped, keep=keep)
            raise
        return self._record(turn, reply, dropped, keep=options.history)

    def _request(self, text: str, options: RequestOptions) -> tuple[_Request, int]:
        """The first round's request for ``text``, and how many old turns were left out."""
        registry = self.tools if options.tools is None else as_registry(options.tools)
        params = {**self.params, **options.params}
        if len(registry):
            params.setdefault("tools", registry.schemas())
        messages, dropped = self.build_messages(
            user_content(text + options.instruction, options),
            system=options.system,
            history=options.history,
            before_cell=options.cell_id,
            max_history=options.max_history,
        )
        model = options.model or self.model
        return _Request(messages, model, options.stream, params, registry, options), dropped

    def _record(self, turn: Turn, reply: Reply, dropped: int, *, keep: bool) -> Reply:
        """Stamp provenance (thread, turn number) on the reply; commit the turn if kept."""
        metadata = {**reply.metadata, "thread": self.name, "dropped_turns": dropped}
        if keep:
            metadata["turn"] = self._commit(turn) + 1
        turn.reply = replace(reply, metadata=metadata)
        return turn.reply

    def _tool_loop(
        self, request: _Request, on_delta: DeltaCallback | None, on_tool: ToolCallback | None
    ) -> Reply:
        """Ask, run any tool calls, send results back; until text or the round limit.

        The final reply's usage is the sum over every round of the turn.
        """
        usage: Usage | None = None
        for round_number in range(self.max_tool_rounds + 1):
            reply = self._exchange(request, on_delta)
            if reply.usage is not None:
                usage = reply.usage if usage is None else usage + reply.usage
            reply = replace(reply, usage=usage)
            if not reply.tool_calls or not len(request.registry):
                return reply
            if round_number == self.max_tool_rounds:
                return replace(reply, metadata={**reply.metadata, "tool_rounds_exhausted": True})
            try:
                results = run_tool_calls(
                    reply.tool_calls, request.registry, confirm=request.options.confirm
                )
            except KeyboardInterrupt:  # mid-tool: keep only completed rounds
                raise ReplyInterrupted(replace(reply, interrupted=True, tool_calls=())) from None
            request.extra.append(assistant_tool_message(reply))
            for result in results:
                request.extra.append(result.to_message())
                if on_tool is not None:
                    on_tool(result)
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, request: _Request, on_delta: DeltaCallback | None) -> Reply:
        messages = request.messages + request.extra
        self.last_request = {
            "endpoint": f"{self.client.base_url}/chat/completions",
            "model": request.model,
            "params": request.params,
            "stream": request.stream,
            "messages": messages,
        }
        builder = ReplyBuilder(request.model)
        started = time.monotonic()
        try:
            for delta in self._deltas(messages, request):
                normalised = builder.add(delta)
                if on_delta is not None:
                    on_delta(normalised)
        except KeyboardInterrupt:
            partial = builder.build(latency=time.monotonic() - started, interrupted=True)
            raise ReplyInterrupted(self._annotate(partial, request)) from None
        except GMIError as error:
            error.partial = builder.build(latency=time.monotonic() - started)
            raise
        reply = self._annotate(builder.build(latency=time.monotonic() - started), request)
        self._account(reply, messages, request.model)
        return reply

    def _account(self, reply: Reply, messages: list[Message], model: str) -> None:
        self.spend.add(reply, model)
        if reply.usage is not None and reply.usage.prompt_tokens:
            estimated = sum(turn_token_count([m], self.estimator) for m in messages)
            self.estimator.calibrate(estimated, reply.usage.prompt_tokens)

    def _deltas(self, messages: list[Message], request: _Request) -> Iterator[Delta]:
        if request.stream:  # the client's iterator itself: no extra layer per token
            return self.client.stream_chat(messages, model=request.model, **request.params)
        return iter((self.client.chat(messages, model=request.model, **request.params),))

    def _annotate(self, reply: Reply, request: _Request) -> Reply:
        metadata = {
            "params": {k: v for k, v in request.params.items() if k != "tools"},
            "base_url": self.client.base_url,
            "requested_model": request.model,
            "stream": request.stream,
            "confirm": request.options.confirm is not None,
            "instruction": request.options.instruction,
        }
        return replace(reply, metadata={**reply.metadata, **metadata})


@dataclass
class _Request:
    """One turn's request as it goes through the tool loop."""

    messages: list[Message]
    model: str
    stream: bool
    params: dict[str, Any]
    registry: ToolRegistry
    options: RequestOptions
    extra: list[Message] = field(default_factory=list)  # tool-loop messages of this turn


def user_content(text: str, options: RequestOptions) -> str | list[Part]:
    """A user message's content: the text, or parts when images or context come along."""
    if not (options.images or options.context):
        return text
    return compose(text, options.images, options.context)


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
