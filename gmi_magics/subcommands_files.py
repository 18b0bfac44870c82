"""``%gmi`` words that write or read files: save, load, export."""

from __future__ import annotations

import argparse

from IPython.core.error import UsageError

from .cell_host import Host
from .chat.persist import export_path, load_threads, save_threads
from .settings import find_api_key

__all__ = ["FILE_SUFFIXES", "export_to_file", "load_from_file", "save_to_file"]

FILE_SUFFIXES = {"save": (".json",), "load": (".json",), "export": (".md", ".markdown", ".json")}


def save_to_file(host: Host, args: argparse.Namespace) -> None:
    path = _one_path(args, "save")
    names = [args.chat] if args.chat else None
    key = find_api_key(host.settings().api_key_env)
    count = save_threads(
        path, host.session.threads, names=names, secrets=[key] if key else [], force=args.force
    )
    print(f"Saved {count} turn{'s' * (count != 1)} to {path}.")


def load_from_file(host: Host, args: argparse.Namespace) -> None:
    path = _one_path(args, "load")
    loaded = load_threads(path)  # all-or-nothing: a bad file raises before any change
    if args.chat:
        if args.chat not in loaded:
            names = ", ".join(loaded) or "none"
            raise UsageError(f"{path} has no conversation {args.chat!r} (it has: {names}).")
        loaded = {args.chat: loaded[args.chat]}
    settings = host.settings()
    for name, data in loaded.items():
        thread = host.session.conversation(settings, name)
        thread.system, thread.turns = data.system, list(data.turns)
    turns = sum(len(data.turns) for data in loaded.values())
    print(f"Loaded {len(loaded)} conversation(s), {turns} turns, from {path}.")


def export_to_file(host: Host, args: argparse.Namespace) -> None:
    path = _one_path(args, "export")
    names = [args.chat] if args.chat else None
    key = find_api_key(host.settings().api_key_env)
    export_path(
        path, host.session.threads, names=names, secrets=[key] if key else [], force=args.force
    )
    print(f"Exported to {path}.")


def _one_path(args: argparse.Namespace, name: str) -> str:
    if len(args.words) != 1:
        raise UsageError(f"%gmi {name} takes one file name, e.g. %gmi {name} chat.json")
    path = str(args.words[0])
    kinds = FILE_SUFFIXES[name]
    if name != "export" and not path.lower().endswith(kinds):  # export: persist says why
        raise UsageError(f"%gmi {name} works with {' or '.join(kinds)} files, not {path!r}.")
    return path
