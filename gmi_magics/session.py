"""A kernel's session: resolved settings, the shared client, named threads, ``ask()``.

Sits between the magics and ``Conversation``; imports no IPython, so the renderer
arrives as a duck-typed object (see ``gmi_magics.render.Renderer``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .budget import trim_note
from .client import DEFAULT_BASE_URL, DEFAULT_MODEL, GMIClient, find_api_key, mask_key
from .conversation import (
    DEFAULT_MAX_TOOL_ROUNDS,
    ConfirmCallback,
    Conversation,
    ReplyInterrupted,
)
from .errors import BudgetExceededError, GMIError
from .tools import ToolRegistry, ToolResult
from .types import Delta, Reply, ToolBlock

DEFAULT_CHAT = "default"
ENV_NAMES = {"model": "GMI_MODEL", "base_url": "GMI_BASE_URL"}

FINISH_NOTES = {
    "content_filter": "The reply was stopped by the provider's content filter.",
    "insufficient_system_resource": (
        "The server ran out of resources mid-reply; run the cell again."
    ),
}


class StoppedError(GMIError):
    """The user interrupted a reply (Ctrl-C / the notebook's stop button)."""

    def __init__(self, kept: bool) -> None:
        super().__init__(
            "Interrupted: the partial reply is kept in history (%gmi undo drops it)."
            if kept
            else "Interrupted: nothing was added to the conversation."
        )


class Renderer(Protocol):
    def start(self) -> None: ...
    def update(self, text_delta: str, reasoning_delta: str) -> None: ...
    def tool(self, block: ToolBlock) -> None: ...
    def finish(self, reply: Reply, *, notes: Sequence[str] = ..., error: str = ...) -> None: ...


@dataclass(frozen=True)
class Settings:
    """Effective settings for one request, with where each came from."""

    model: str = DEFAULT_MODEL
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "GMI_API_KEY"
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 600.0
    max_retries: int = 2
    stream: bool = True
    rerun: str = "replace"
    max_context_tokens: int | None = None
    max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS
    confirm_tools: bool = False
    token_budget: int | None = None
    prices: Mapping[str, Any] = field(default_factory=dict)
    cache: str = "off"
    cache_dir: str = ".gmi_cache"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)


def resolve_settings(configured: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Apply precedence %config > environment > default (cell options come later).

    ``configured`` holds only the traits the user changed from their defaults.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in Settings.__dataclass_fields__:
        if name == "sources":
            continue
        env_value = env.get(ENV_NAMES.get(name, ""), "").strip()
        if name in configured:
            values[name], sources[name] = configured[name], "config"
        elif env_value:
            values[name], sources[name] = env_value, "env"
        else:
            sources[name] = "default"
    return Settings(**values, sources=sources)


@dataclass
class AskOptions:
    """Per-cell options (they win over every other setting)."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    system: str | None = None
    history: bool = True
    stream: bool | None = None
    chat: str = DEFAULT_CHAT
    cell_id: str | None = None
    max_history: int | None = None
    tools: ToolRegistry | None = None
    confirm: ConfirmCallback | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Session:
    """Everything one kernel keeps: the client (rebuilt when settings change) and threads."""

    def __init__(self) -> None:
        self._client: GMIClient | None = None
        self._client_signature: tuple[Any, ...] = ()
        self.threads: dict[str, Conversation] = {}
        self.thread_tools: dict[str, list[str]] = {}  # default tool names per thread

    def client(self, settings: Settings) -> GMIClient:
        """The shared client for these settings (one keep-alive pool per kernel)."""
        key = find_api_key(settings.api_key_env)
        signature = (
            settings.base_url,
            settings.timeout,
            settings.max_retries,
            settings.api_key_env,
            settings.cache,
            settings.cache_dir,
            hashlib.sha256((key or "").encode()).hexdigest(),  # never the key itself
        )
        if self._client is None or signature != self._client_signature:
            if self._client is not None:
                self._client.close()
            self._client = GMIClient(
                key,
                base_url=settings.base_url,
                timeout=settings.timeout,
                max_retries=settings.max_retries,
                key_env=settings.api_key_env,
                cache=settings.cache,  # type: ignore[arg-type]  # validated by the trait
                cache_dir=settings.cache_dir,
            )
            self._client_signature = signature
        return self._client

    def conversation(self, settings: Settings, chat: str = DEFAULT_CHAT) -> Conversation:
        """The named thread, created on first use, wired to the current client."""
        client = self.client(settings)
        thread = self.threads.get(chat)
        if thread is None:
            thread = Conversation(client, system=settings.system_prompt or None, name=chat)
            self.threads[chat] = thread
        thread.client = client
        thread.model = settings.model
        thread.max_context_tokens = settings.max_context_tokens
        thread.max_tool_rounds = settings.max_tool_rounds
        if thread.system is None and settings.system_prompt:  # "" means cleared on purpose
            thread.system = settings.system_prompt
        return thread

    def ask(self, text: str, settings: Settings, options: AskOptions, renderer: Renderer) -> Reply:
        """Send one user message, streaming into ``renderer``; history per the rules."""
        self.check_budget(settings)
        conversation = self.conversation(settings, options.chat)
        live = _LiveView(renderer)
        max_tokens = _first(options.max_tokens, settings.max_tokens)
        try:
            reply = conversation.send(
                text,
                model=options.model,
                system=options.system,
                history=options.history,
                stream=_first(options.stream, settings.stream),
                on_delta=live.update,
                on_tool=live.tool,
                confirm=options.confirm,
                tools=options.tools,
                cell_id=options.cell_id if settings.rerun == "replace" else None,
                max_history=options.max_history,
                temperature=_first(options.temperature, settings.temperature),
                max_tokens=max_tokens,
                **options.extra,
            )
        except ReplyInterrupted as interrupt:
            kept = interrupt.reply.metadata.get("turn") is not None
            self._keep_system(conversation, options, kept)
            live.finish(interrupt.reply, ["Interrupted here."])
            raise StoppedError(kept) from None  # one line; stops "Run All" like any interrupt
        except GMIError as error:
            if error.partial is not None and live.started:
                live.finish(error.partial, ["The reply broke off here; it was not kept."])
            raise
        self._keep_system(conversation, options, options.history)
        live.finish(reply, reply_notes(reply, max_tokens, settings.max_tool_rounds))
        return reply

    @staticmethod
    def _keep_system(conversation: Conversation, options: AskOptions, kept: bool) -> None:
        """``-s`` becomes the thread's system prompt once its turn is in the history."""
        if options.system is not None and kept:
            conversation.system = options.system

    def spent_tokens(self) -> int:
        """Tokens (in + out) used by every thread of this kernel."""
        return sum(t.spend.prompt_tokens + t.spend.completion_tokens for t in self.threads.values())

    def check_budget(self, settings: Settings) -> None:
        """Refuse a new request once ``token_budget`` is spent."""
        budget = settings.token_budget
        if budget is not None and self.spent_tokens() >= budget:
            raise BudgetExceededError(
                f"The token budget of {budget:,} is spent ({self.spent_tokens():,} used).",
                hint="Raise it with %config GMIMagics.token_budget = ..., or ask your instructor.",
            )

    def usage_rows(self, settings: Settings) -> list[tuple[str, int, int, int, float | None]]:
        """(thread, requests, tokens in, tokens out, cost or None) per thread, then total."""
        rows = []
        for name, thread in self.threads.items():
            spend = thread.spend
            costs_by_model = [
                estimate_cost(settings.prices, model, tokens_in, tokens_out)
                for model, (tokens_in, tokens_out) in spend.by_model.items()
            ]
            cost = None if None in costs_by_model else sum(c or 0.0 for c in costs_by_model)
            rows.append((name, spend.requests, spend.prompt_tokens, spend.completion_tokens, cost))
        costs = [row[4] for row in rows]
        total_cost = None if not rows or None in costs else sum(c or 0.0 for c in costs)
        rows.append(
            (
                "total",
                sum(row[1] for row in rows),
                sum(row[2] for row in rows),
                sum(row[3] for row in rows),
                total_cost,
            )
        )
        return rows

    def describe(self, settings: Settings) -> list[tuple[str, str, str]]:
        """Rows of (setting, value, source) for ``%gmi config``; the key is masked."""
        rows = [
            (name, repr(getattr(settings, name)), settings.sources.get(name, ""))
            for name in Settings.__dataclass_fields__
            if name != "sources"
        ]
        key = find_api_key(settings.api_key_env)
        rows.append(("api key", mask_key(key), f"env ${_key_source(settings.api_key_env)}"))
        return rows


def estimate_cost(
    prices: Mapping[str, Any], model: str, tokens_in: int, tokens_out: int
) -> float | None:
    """Cost from per-million-token prices ``{model: (in, out)}``; None when unpriced."""
    price = prices.get(model)
    if not isinstance(price, (list, tuple)) or len(price) != 2:
        return None
    return (tokens_in * float(price[0]) + tokens_out * float(price[1])) / 1_000_000


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


def _key_source(env_var: str) -> str:
    for name in (env_var, "GMI_API_KEY", "GMI_CLOUD_APIKEY"):
        if os.environ.get(name, "").strip():
            return name
    return env_var


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


class _LiveView:
    """Starts the renderer on the first delta, so failures before it show no stub."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.started = False
        self._round: list[str] = []  # answer text of the current request round
        self._earlier: list[str] = []  # text of rounds that ended in tool calls

    def update(self, delta: Delta) -> None:
        self._start()
        if delta.content or delta.reasoning:
            self._round.append(delta.content)
            self.renderer.update(delta.content, delta.reasoning)

    def tool(self, result: ToolResult) -> None:
        self._start()
        said = "".join(self._round).strip()
        if said:
            self._earlier.append(said)
            self.renderer.update("\n\n", "")  # the next round's text starts a paragraph
        self._round = []
        call = result.call
        self.renderer.tool(
            ToolBlock(call.name, call.arguments, result.output, result.seconds, result.error)
        )

    def finish(self, reply: Reply, notes: list[str]) -> None:
        """Show the reply, with what the model said before its tool calls kept above it."""
        self._start()
        if self._earlier:
            reply = replace(reply, text="\n\n".join([*self._earlier, reply.text]).strip())
        self.renderer.finish(reply, notes=notes)

    def _start(self) -> None:
        if not self.started:
            self.renderer.start()
            self.started = True
