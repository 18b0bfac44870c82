"""``%gmi <subcommand>``: the grammar of each word, and dispatch to its handler
(``subcommands_threads``, ``_asking``, ``_models``, ``_files``, ``_status``)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from IPython.core.error import UsageError

from .cell_host import Host
from .subcommands_asking import explain_last_error, retry_last_turn, show_chat_panel
from .subcommands_files import FILE_SUFFIXES, export_to_file, load_from_file, save_to_file
from .subcommands_models import add_or_list_aliases, set_or_show_persona, show_models, show_personas
from .subcommands_status import set_or_list_tools, show_config, show_usage
from .subcommands_threads import (
    reset_thread,
    set_system,
    show_chats,
    show_history,
    show_last_request,
    undo_turn,
)


def run_subcommand(host: Host, name: str, rest: str) -> None:
    """Dispatch ``%gmi <name> <rest>``."""
    SUBCOMMANDS[name][1](host, _parse(name, rest))


def is_subcommand(name: str, rest: str, namespace: Mapping[str, Any]) -> bool:
    """Whether ``%gmi <name> <rest>`` fits that subcommand's grammar exactly.

    Anything else is a question: ``%gmi history of Rome``, ``%gmi save time?`` (a
    line ending in ``?`` never reaches here).  A line whose words start with an
    option (``--chat x``) is a subcommand, so typos in options are reported.
    """
    if name not in SUBCOMMANDS:
        return False
    if rest.lstrip().startswith("-"):
        return True
    try:
        args = _parse(name, rest)
    except UsageError:
        return False
    return _fits(name, args, rest, namespace)


def _fits(name: str, args: argparse.Namespace, rest: str, namespace: Mapping[str, Any]) -> bool:
    """The words of a parsed line are what ``name`` takes (files, tool names, a quote)."""
    words = list(getattr(args, "words", []))
    if name == "system":  # nothing, or one quoted text
        text = rest.strip()
        return not text or (len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"")
    if name in FILE_SUFFIXES:  # one file name (the handler refuses a wrong kind in one line)
        return len(words) == 1 and ("." in words[0] or "/" in words[0])
    if name == "tools":
        names = [n for word in words for n in word.split(",") if n]
        return all(n == "none" or callable(namespace.get(n)) for n in names)
    if name == "alias":  # nothing, or NAME MODEL
        return len(words) in (0, 2)
    if name == "persona":  # NAME "TEXT" (quoted), or NAME to show it
        text = rest.strip()
        quoted = len(text) >= 2 and text[-1] in "'\""
        return (len(words) == 2 and quoted) or (len(words) == 1 and text == words[0])
    return not words


def _parse(name: str, text: str) -> argparse.Namespace:
    if name == "system":
        return _parse_verbatim(text)
    usage, _ = SUBCOMMANDS[name]
    parser = _Parser(prog=f"%gmi {name}", add_help=False)
    parser.add_argument("--chat", default=None)
    if name in ("save", "export"):
        parser.add_argument("--force", action="store_true")
    if usage:
        parser.add_argument("words", nargs="*")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(f"%gmi {name}: {error}") from None
    return parser.parse_args(words)


def _parse_verbatim(text: str) -> argparse.Namespace:
    """``[--chat NAME] [free text]``: the text is kept as written (apostrophes and all).

    No text shows the current value; ``""`` clears it.
    """
    chat, rest = None, text.strip()
    if rest.startswith("--chat="):
        chat, _, rest = rest[len("--chat=") :].partition(" ")
    elif rest.startswith("--chat"):
        parts = rest.split(None, 2)
        if len(parts) < 2:
            raise UsageError("%gmi system: --chat needs a name")
        chat, rest = parts[1], parts[2] if len(parts) > 2 else ""
    rest = rest.strip()
    given = bool(rest)
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "'\"":
        rest = rest[1:-1]
    return argparse.Namespace(chat=chat, words=[rest] if given else [])


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel
        raise UsageError(f"{self.prog}: {message}")


Handler = Callable[[Any, argparse.Namespace], None]
SUBCOMMANDS: dict[str, tuple[bool, Handler]] = {
    "history": (False, show_history),
    "reset": (False, reset_thread),
    "undo": (False, undo_turn),
    "retry": (False, retry_last_turn),
    "models": (False, show_models),
    "config": (False, show_config),
    "last": (False, show_last_request),
    "chats": (False, show_chats),
    "system": (True, set_system),
    "save": (True, save_to_file),
    "load": (True, load_from_file),
    "export": (True, export_to_file),
    "usage": (False, show_usage),
    "explain": (False, explain_last_error),
    "tools": (True, set_or_list_tools),
    "panel": (False, show_chat_panel),
    "alias": (True, add_or_list_aliases),
    "persona": (True, set_or_show_persona),
    "personas": (False, show_personas),
}
