"""What ``%%gmi`` and the ``%gmi`` subcommands do, behind the thin magic.

Imported on first use by ``magics._core()``: this is where the heavy core is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .markup import reply_html
from .render import make_renderer
from .session import AskOptions, Session, resolve_settings
from .transcript import transcript_markdown
from .types import Reply

__all__ = [
    "AskOptions",
    "Session",
    "ask",
    "options_from_args",
    "resolve_settings",
    "run_subcommand",
]

MAX_CELL_CHARS = 1_000_000


def ask(magics: Any, text: str, options: AskOptions) -> Reply:
    """Send one message from a cell and show the streamed reply."""
    text = text.strip()
    if not text:
        raise UsageError("Nothing to send: write your question under %%gmi (or after %gmi).")
    if len(text) > MAX_CELL_CHARS:
        raise UsageError(
            f"The message is {len(text):,} characters; the limit is {MAX_CELL_CHARS:,}. "
            "Send a smaller piece."
        )
    renderer = make_renderer(magics.renderer_kind())
    reply: Reply = magics.session.ask(text, magics.settings(), options, renderer)
    return reply


def options_from_args(args: Any, cell_id: str | None) -> AskOptions:
    """Cell options parsed by magic_arguments → ``AskOptions``."""
    return AskOptions(
        model=args.model,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        system=args.system,
        history=not args.no_history,
        stream=False if args.no_stream else None,
        cell_id=cell_id,
    )


def run_subcommand(magics: Any, name: str, rest: list[str]) -> None:
    """Dispatch ``%gmi <name> ...``."""
    handler = SUBCOMMANDS[name]
    handler(magics, rest[0] if rest else "")


def _show_markdown(markdown_text: str, plain: str | None = None) -> None:
    bundle = {
        "text/html": reply_html(markdown_text),
        "text/plain": plain or markdown_text,
    }
    display(bundle, raw=True)


def _history(magics: Any, _: str) -> None:
    thread = magics.session.conversation(magics.settings())
    _show_markdown(transcript_markdown(thread.turns, system=thread.system))


def _reset(magics: Any, _: str) -> None:
    thread = magics.session.conversation(magics.settings())
    count = len(thread.turns)
    thread.reset()
    print(f"Conversation cleared ({count} turn{'s' * (count != 1)} removed).")


def _undo(magics: Any, _: str) -> None:
    turn = magics.session.conversation(magics.settings()).undo()
    if turn is None:
        print("Nothing to undo: the conversation is empty.")
        return
    preview = turn.user if len(turn.user) <= 60 else turn.user[:59] + "…"
    print(f"Dropped the last turn: {preview!r}")


def _models(magics: Any, _: str) -> None:
    settings = magics.settings()
    models = magics.session.client(settings).list_models()
    lines = [f"{'*' if m == settings.model else ' '} {m}" for m in models]
    if settings.model not in models:
        lines.append(f"! {settings.model} (current default) is not served by this endpoint")
    print(f"{len(models)} models at {settings.base_url} (* = current default):")
    print("\n".join(lines))


def _config(magics: Any, _: str) -> None:
    rows = magics.session.describe(magics.settings())
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value}  ({source})")


def _last(magics: Any, _: str) -> None:
    settings = magics.settings()
    request = magics.session.conversation(settings).last_request
    if request is None:
        print("No request has been sent yet in this conversation.")
        return
    shown = {
        **request,
        "headers": {"Authorization": f"Bearer {magics.session.client(settings).masked_key}"},
    }
    print(json.dumps(shown, indent=2, ensure_ascii=False))


SUBCOMMANDS: dict[str, Callable[[Any, str], None]] = {
    "history": _history,
    "reset": _reset,
    "undo": _undo,
    "models": _models,
    "config": _config,
    "last": _last,
}
