"""A kernel's session: resolved settings, the shared client, named threads, ``ask()``.

Sits between the magics and ``Conversation``; imports no IPython, so the renderer
arrives as a duck-typed object (``gmi_magics.types.Renderer``).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from .chat.conversation import Conversation, ReplyInterrupted
from .chat.live import LiveReply
from .chat.notes import reply_notes
from .chat.options import RequestOptions
from .chat.turns import Spend, estimate_cost, with_cost
from .errors import BudgetExceededError, GMIError, StoppedError
from .settings import DEFAULT_CHAT, SETTING_NAMES, Settings, find_api_key, key_source, mask_key
from .types import Renderer, Reply
from .wire.client import GMIClient


class Session:
    """Everything one kernel keeps: the client (rebuilt when settings change) and threads."""

    def __init__(self) -> None:
        self._client: GMIClient | None = None
        self._lock = threading.Lock()
        self._client_signature: tuple[Any, ...] = ()
        self.threads: dict[str, Conversation] = {}
        self.thread_tools: dict[str, list[str]] = {}  # default tool names per thread
        self.batch_spend = Spend()  # tokens of %%gmi --over batches (outside every thread)

    def client(self, settings: Settings) -> GMIClient:
        """The shared client for these settings (one keep-alive pool per kernel)."""
        with self._lock:  # a cell and the warm-up thread may ask at once
            key = find_api_key(settings.api_key_env)
            signature = (
                settings.base_url,
                settings.timeout,
                settings.max_retries,
                settings.api_key_env,
                settings.cache,
                settings.cache_dir,
                settings.max_reply_bytes,
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
                    max_reply_bytes=settings.max_reply_bytes,
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
        thread.model = settings.model_id()
        thread.max_context_tokens = settings.max_context_tokens
        thread.max_tool_rounds = settings.max_tool_rounds
        if thread.system is None and settings.system_prompt:  # "" means cleared on purpose
            thread.system = settings.system_prompt
        return thread

    def ask(
        self, text: str, settings: Settings, options: RequestOptions, renderer: Renderer
    ) -> Reply:
        """Send one user message, streaming into ``renderer``; history per the rules."""
        self.check_budget(settings)
        conversation = self.conversation(settings, options.chat)
        live = LiveReply(renderer)
        try:
            reply = conversation.send(text, options, on_delta=live.update, on_tool=live.tool)
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
        reply = with_cost(reply, settings.prices)
        live.finish(reply, reply_notes(reply, options.max_tokens, settings.max_tool_rounds))
        return reply

    @staticmethod
    def _keep_system(conversation: Conversation, options: RequestOptions, kept: bool) -> None:
        """``-s`` becomes the thread's system prompt once its turn is in the history."""
        if options.system is not None and kept:
            conversation.system = options.system

    def spent_tokens(self) -> int:
        """Tokens (in + out) used by every thread of this kernel, batches included."""
        spends = [t.spend for t in self.threads.values()] + [self.batch_spend]
        return sum(s.prompt_tokens + s.completion_tokens for s in spends)

    def add_batch_spend(self, model: str, tokens_in: int, tokens_out: int, requests: int) -> None:
        """Count a ``--over`` batch's tokens (shown as the ``batch`` row of ``%gmi usage``)."""
        self.batch_spend.requests += requests
        self.batch_spend.count(model, tokens_in, tokens_out)

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
        spends = {name: thread.spend for name, thread in self.threads.items()}
        if self.batch_spend.requests:
            spends["(batch)"] = self.batch_spend
        for name, spend in spends.items():
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
