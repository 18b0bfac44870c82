"""A kernel's session: resolved settings, the shared client, named threads, ``ask()``.

Sits between the magics and ``Conversation``; imports no IPython, so the renderer
arrives as a duck-typed object (``gmi_magics.types.Renderer``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from .chat.conversation import ConfirmCallback, Conversation, ReplyInterrupted
from .chat.notes import reply_notes
from .chat.turns import estimate_cost
from .errors import BudgetExceededError, GMIError, StoppedError
from .settings import DEFAULT_CHAT, SETTING_NAMES, Settings, find_api_key, key_source, mask_key
from .tools.registry import ToolRegistry, ToolResult
from .types import Delta, Renderer, Reply, ToolBlock
from .wire.client import GMIClient


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
            for name in SETTING_NAMES
        ]
        key = find_api_key(settings.api_key_env)
        rows.append(("api key", mask_key(key), f"env ${key_source(settings.api_key_env)}"))
        return rows


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
