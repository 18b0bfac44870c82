"""``Conversation``: a system prompt, turns, and ``send()`` — no IPython here.

History rules: a turn enters history only when its reply completes; an interrupt
keeps the partial reply as an *interrupted* turn; any error leaves history as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from .client import DEFAULT_MODEL, GMIClient
from .deltas import ReplyBuilder
from .errors import GMIError
from .types import Delta, Message, Reply

DeltaCallback = Callable[[Delta], None]


class ReplyInterrupted(KeyboardInterrupt):
    """Ctrl-C / kernel interrupt mid-reply; ``reply`` holds what had arrived."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("reply interrupted")
        self.reply = reply


@dataclass
class Turn:
    """One exchange: the user's text, any tool-loop messages, and the final reply."""

    user: str
    reply: Reply
    extra: list[Message] = field(default_factory=list)
    cell_id: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.reply.interrupted

    def messages(self) -> list[Message]:
        """What this turn contributes to later requests (never the reasoning)."""
        answer: Message = {"role": "assistant", "content": self.reply.text}
        return [{"role": "user", "content": self.user}, *self.extra, answer]


class Conversation:
    """A chat held in memory: ``send()`` streams a reply and records the turn."""

    def __init__(
        self,
        client: GMIClient | None = None,
        *,
        model: str | None = None,
        system: str | None = None,
        **params: Any,
    ) -> None:
        self.client = client if client is not None else GMIClient()
        self.model = model or DEFAULT_MODEL
        self.system = system
        self.params = params
        self.turns: list[Turn] = []
        self.last_request: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Conversation(model={self.model!r}, turns={len(self.turns)})"

    # -- history --------------------------------------------------------------

    def history_messages(self) -> list[Message]:
        """Every earlier turn as wire messages, oldest first."""
        return [message for turn in self.turns for message in turn.messages()]

    def build_messages(
        self, text: str, *, system: str | None = None, history: bool = True
    ) -> list[Message]:
        """The ``messages`` array for a new user message."""
        prompt = system if system is not None else self.system
        messages: list[Message] = [{"role": "system", "content": prompt}] if prompt else []
        if history:
            messages += self.history_messages()
        messages.append({"role": "user", "content": text})
        return messages

    def undo(self) -> Turn | None:
        """Drop and return the last turn (``None`` when empty)."""
        return self.turns.pop() if self.turns else None

    def reset(self) -> None:
        self.turns.clear()

    def _commit(self, turn: Turn) -> None:
        for index, existing in enumerate(self.turns):
            if turn.cell_id is not None and existing.cell_id == turn.cell_id:
                self.turns[index] = turn
                return
        self.turns.append(turn)

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
        cell_id: str | None = None,
        **params: Any,
    ) -> Reply:
        """Send ``text`` as the next user message and return the finished reply.

        ``history=False`` asks a one-off question that neither sees nor joins the
        conversation.  ``on_delta`` receives each normalised delta as it arrives.
        """
        model = model or self.model
        request_params = {**self.params, **params}
        if cell_id is not None and history:
            earlier = [t for t in self.turns if t.cell_id != cell_id]
            saved, self.turns = self.turns, earlier
            try:
                messages = self.build_messages(text, system=system, history=True)
            finally:
                self.turns = saved
        else:
            messages = self.build_messages(text, system=system, history=history)
        self.last_request = {
            "endpoint": f"{self.client.base_url}/chat/completions",
            "model": model,
            "params": {k: v for k, v in request_params.items() if v is not None},
            "stream": stream,
            "messages": messages,
        }
        reply = self._exchange(messages, model, stream, on_delta, request_params)
        if history:
            self._commit(Turn(user=text, reply=reply, cell_id=cell_id))
        return reply

    def _exchange(
        self,
        messages: list[Message],
        model: str,
        stream: bool,
        on_delta: DeltaCallback | None,
        params: dict[str, Any],
    ) -> Reply:
        builder = ReplyBuilder(model)
        started = time.monotonic()
        try:
            for delta in self._deltas(messages, model, stream, params):
                normalised = builder.add(delta)
                if on_delta is not None:
                    on_delta(normalised)
        except KeyboardInterrupt:
            partial = builder.build(latency=time.monotonic() - started, interrupted=True)
            raise ReplyInterrupted(self._annotate(partial, params)) from None
        except GMIError as error:
            error.partial = builder.build(latency=time.monotonic() - started)
            raise
        reply = builder.build(latency=time.monotonic() - started)
        return self._annotate(reply, params)

    def _deltas(
        self, messages: list[Message], model: str, stream: bool, params: dict[str, Any]
    ) -> Iterator[Delta]:
        if stream:
            yield from self.client.stream_chat(messages, model=model, **params)
        else:
            yield self.client.chat(messages, model=model, **params)

    def _annotate(self, reply: Reply, params: dict[str, Any]) -> Reply:
        metadata = {
            "params": {k: v for k, v in params.items() if v is not None},
            "base_url": self.client.base_url,
        }
        return replace(reply, metadata={**reply.metadata, **metadata})
