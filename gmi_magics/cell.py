"""One ``%%gmi`` cell, behind the thin magic: options, notebook parts, the request and
its output (``-f code``/``json``, ``-o VAR``).  Pieces: ``cell_options``, ``cell_context``,
``cell_tools``, ``cell_last_error``, ``cell_host``."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from .cell_context import fill_in, notebook_parts
from .cell_host import Host
from .cell_last_error import last_error_report
from .cell_options import options_from_args
from .chat.json_replies import json_text
from .chat.options import RequestOptions
from .display.render import RendererKind, make_renderer
from .errors import GMIError
from .jsonsafe import loads_bounded
from .settings import Settings, find_api_key
from .types import Reply

__all__ = ["ReplyFormatError", "ask", "parse_json_reply", "run_cell"]

MAX_CELL_CHARS = 1_000_000


class ReplyFormatError(GMIError):
    """The reply could not be read in the requested format."""

    hint = "The reply is kept in the conversation; ask again, or use -f markdown."


def run_cell(host: Host, args: Any, text: str) -> Reply:
    """One ``%%gmi`` cell (or ``%gmi`` line) from parsed options to stored output."""
    namespace = host.shell.user_ns
    settings = host.settings()
    if not args.no_interpolate:
        text = fill_in(text, namespace, find_api_key(settings.api_key_env))
    if args.error:  # after filling in: the report quotes code, never interpolated
        text = "\n\n".join(part for part in (last_error_report(host.shell), text) if part)
    options = options_from_args(args, host, settings, text)
    options = options.updated(**notebook_parts(host, args, settings))
    reply = ask(host, text, options, settings, kind="text" if args.format == "text" else None)
    value: Any = reply
    if args.format == "code" and not reply.interrupted:
        if reply.code:
            host.shell.set_next_input(reply.code, replace=False)
        else:
            print("The reply has no code block, so no new cell was made.")
    if args.format == "json" and not reply.interrupted:
        value = parse_json_reply(reply)
    if args.out:
        namespace[args.out] = value
    return reply


def ask(
    host: Host,
    text: str,
    options: RequestOptions,
    settings: Settings,
    kind: RendererKind | None = None,
) -> Reply:
    """Send one message under ``settings`` (read once by the caller); stream the reply."""
    text = text.strip()
    if not text:
        raise UsageError("Nothing to send: write your question under %%gmi (or after %gmi).")
    if len(text) > MAX_CELL_CHARS:
        raise UsageError(
            f"The message is {len(text):,} characters; the limit is {MAX_CELL_CHARS:,}. "
            "Send a smaller piece."
        )
    renderer = make_renderer(kind or host.renderer_kind())  # type: ignore[arg-type]
    return host.session.ask(text, settings, options, renderer)


def parse_json_reply(reply: Reply) -> Any:
    """The JSON object in a ``-f json`` reply (code fences tolerated)."""
    try:
        return loads_bounded(json_text(reply.text))
    except ValueError as error:
        raise ReplyFormatError(f"The reply is not valid JSON ({error}).") from None
