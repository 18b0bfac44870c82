"""``%gmi`` words about one conversation: history, reset, undo, chats, system, last."""

from __future__ import annotations

import argparse
import json
from typing import Any

from IPython.display import display

from .cell_host import Host
from .chat.content import elide_images
from .chat.transcript import transcript_markdown, with_image_markers
from .display.markup import reply_html
from .settings import DEFAULT_CHAT, find_api_key
from .text import printable

__all__ = [
    "chat_name",
    "reset_thread",
    "set_system",
    "show_chats",
    "show_history",
    "show_last_request",
    "thread_of",
    "undo_turn",
]


def chat_name(args: argparse.Namespace) -> str:
    return str(args.chat or DEFAULT_CHAT)


def thread_of(host: Host, args: argparse.Namespace) -> Any:
    return host.session.conversation(host.settings(), chat_name(args))


def show_history(host: Host, args: argparse.Namespace) -> None:
    thread = thread_of(host, args)
    markdown_text = transcript_markdown(thread.turns, system=thread.system)
    marked, thumbnails = with_image_markers(thread.turns)  # images go in after sanitizing
    page = reply_html(transcript_markdown(marked, system=thread.system))
    for marker, image in thumbnails.items():
        page = page.replace(marker, image)
    display({"text/html": page, "text/plain": markdown_text}, raw=True)


def reset_thread(host: Host, args: argparse.Namespace) -> None:
    thread = thread_of(host, args)
    count = len(thread.turns)
    thread.reset()
    print(f"Conversation {chat_name(args)!r} cleared ({count} turn{'s' * (count != 1)} removed).")


def undo_turn(host: Host, args: argparse.Namespace) -> None:
    turn = thread_of(host, args).undo()
    if turn is None:
        print("Nothing to undo: the conversation is empty.")
        return
    preview = turn.user if len(turn.user) <= 60 else turn.user[:59] + "…"
    print(f"Dropped the last turn: {preview!r}")


def show_last_request(host: Host, args: argparse.Namespace) -> None:
    settings = host.settings()
    request = thread_of(host, args).last_request
    if request is None:
        print("No request has been sent yet in this conversation.")
        return
    client = host.session.client(settings)
    sent_key = find_api_key(settings.api_key_env) is not None
    headers = {"Authorization": f"Bearer {client.masked_key}"} if sent_key else {}
    shown = {**elide_images(request), "headers": headers}  # no key: no header was sent
    print(json.dumps(shown, indent=2, ensure_ascii=False, default=str))


def show_chats(host: Host, _: argparse.Namespace) -> None:
    threads = host.session.threads
    if not threads:
        print("No conversations yet.")
    for name, thread in threads.items():
        system = f" · system: {printable(thread.system)[:50]!r}" if thread.system else ""
        turns = len(thread.turns)
        print(f"{printable(name)}: {turns} turn{'s' * (turns != 1)}{system}")


def set_system(host: Host, args: argparse.Namespace) -> None:
    thread = thread_of(host, args)
    if not args.words:
        print(f"System prompt of {chat_name(args)!r}: {thread.system!r}")
        return
    thread.system = " ".join(args.words)  # "" clears it, also against the config
    done = f"set to {thread.system!r}" if thread.system else "cleared"
    print(f"System prompt of {chat_name(args)!r} {done}.")
