"""``%gmi`` words that ask the model again: retry, explain, panel."""

from __future__ import annotations

import argparse
import uuid

from IPython.core.error import UsageError

from .cell import ask
from .cell_host import Host
from .cell_last_error import last_error, last_error_report, own_error_explanation
from .cell_options import request_options
from .chat.content import split_sent
from .chat.options import RequestOptions
from .subcommands_threads import chat_name, thread_of

__all__ = ["REPLAYED_PARAMS", "explain_last_error", "retry_last_turn", "show_chat_panel"]

REPLAYED_PARAMS = (
    *("temperature", "max_tokens", "response_format", "top_p", "stop"),
    *("presence_penalty", "frequency_penalty", "seed"),
)


def retry_last_turn(host: Host, args: argparse.Namespace) -> None:
    """Ask the last question again with its options; the new reply replaces the old turn."""
    thread = thread_of(host, args)
    if not thread.turns:
        raise UsageError("Nothing to retry: the conversation is empty.")
    last = thread.turns[-1]
    meta = last.reply.metadata
    params = meta.get("params", {})
    settings = host.settings()
    options = request_options(  # built before anything changes: a failure keeps the turn
        host,
        chat=chat_name(args),
        tools=",".join(n for n in last.tools if n in host.shell.user_ns),
        confirm=meta.get("confirm") is True or settings.confirm_tools,
        model=meta.get("requested_model"),
        stream=meta.get("stream", settings.stream) is not False,
        instruction=str(meta.get("instruction") or ""),
        params={k: v for k, v in params.items() if k in REPLAYED_PARAMS},
    )
    if last.content is not None:  # its images and notebook context go again
        context, images = split_sent(last.content, last.user)
        options = options.updated(context=context, images=tuple(images))
    if last.cell_id is None:  # a key, so the new reply replaces this turn in place
        last.cell_id = f"retry-{uuid.uuid4().hex}"
    ask(host, last.user, options.updated(cell_id=last.cell_id), settings)


def explain_last_error(host: Host, args: argparse.Namespace) -> None:
    error = last_error()
    explanation = own_error_explanation(error) if error is not None else None
    if explanation is not None:  # e.g. a 401 from the cell before: explained here
        print(explanation)
        return
    settings = host.settings()
    options = request_options(
        host, chat=chat_name(args), tools=None, confirm=False, stream=settings.stream
    )
    ask(host, last_error_report(host.shell), options, settings)


def show_chat_panel(host: Host, args: argparse.Namespace) -> None:
    """Show a chat panel (ipywidgets) over the thread; replies stream off the main thread."""
    from .display.widgets import show_panel  # ipywidgets loads only when a panel is shown

    chat = chat_name(args)

    def before_send() -> RequestOptions:  # at each send: current %config and the budget
        settings = host.settings()
        host.session.check_budget(settings)
        host.session.conversation(settings, chat)  # rewire client and model
        params = {"temperature": settings.temperature, "max_tokens": settings.max_tokens}
        return RequestOptions.build(chat=chat, stream=settings.stream, params=params)

    show_panel(thread_of(host, args), before_send=before_send)
