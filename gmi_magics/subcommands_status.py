"""``%gmi`` words showing or setting up the session: config, usage, tools."""

from __future__ import annotations

import argparse
import json

from .cell_host import Host
from .cell_tools import tool_registry
from .subcommands_threads import chat_name

__all__ = ["set_or_list_tools", "show_config", "show_usage"]


def show_config(host: Host, _: argparse.Namespace) -> None:
    rows = host.session.describe(host.settings())
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value}  ({source})")


def show_usage(host: Host, _: argparse.Namespace) -> None:
    settings = host.settings()
    print(f"{'thread':<16}{'requests':>9}{'tokens in':>12}{'tokens out':>12}{'cost':>10}")
    for name, requests, tokens_in, tokens_out, cost in host.session.usage_rows(settings):
        shown = "n/a" if cost is None else f"${cost:.4f}"
        print(f"{name:<16}{requests:>9}{tokens_in:>12,}{tokens_out:>12,}{shown:>10}")
    if settings.token_budget is not None:
        left = settings.token_budget - host.session.spent_tokens()
        print(f"Token budget: {settings.token_budget:,}; {max(left, 0):,} left.")


def set_or_list_tools(host: Host, args: argparse.Namespace) -> None:
    """List the tools a cell of this thread offers; with names, set the thread's defaults."""
    chat = chat_name(args)
    if args.words:
        names = [n for word in args.words for n in word.split(",") if n and n != "none"]
        tool_registry(host, ",".join(names), chat)  # check them now: clear errors early
        host.session.thread_tools[chat] = names
        print(f"Default tools of {chat!r}: {', '.join(names) or 'none'}")
        return
    registry = tool_registry(host, None, chat)
    if not len(registry):
        print("No tools: decorate functions with @gmi_magics.tool, or use %%gmi --tools f,g.")
    for item in registry:
        print(json.dumps(item.schema, indent=2, ensure_ascii=False))
