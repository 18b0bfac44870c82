"""``%gmi <subcommand>``: history, threads, retry, save/load/export, usage, tools, …"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .cell import (
    Host,
    ask,
    last_error,
    last_error_report,
    own_error_explanation,
    request_options,
    tool_registry,
)
from .chat.content import accepts_images, elide_images, split_sent
from .chat.options import RequestOptions
from .chat.persist import export_path, load_threads, save_threads
from .chat.personas import all_personas, persona_prompt
from .chat.transcript import transcript_markdown, with_image_markers
from .display.markup import reply_html
from .errors import printable
from .settings import DEFAULT_CHAT, find_api_key

_ALIAS = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
FILE_SUFFIXES = {"save": (".json",), "load": (".json",), "export": (".md", ".markdown", ".json")}
REPLAYED_PARAMS = (
    *("temperature", "max_tokens", "response_format", "top_p", "stop"),
    *("presence_penalty", "frequency_penalty", "seed"),
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


def _chat(args: argparse.Namespace) -> str:
    return str(args.chat or DEFAULT_CHAT)


def _thread(host: Host, args: argparse.Namespace) -> Any:
    return host.session.conversation(host.settings(), _chat(args))


def _history(host: Host, args: argparse.Namespace) -> None:
    thread = _thread(host, args)
    markdown_text = transcript_markdown(thread.turns, system=thread.system)
    marked, thumbnails = with_image_markers(thread.turns)  # images go in after sanitizing
    page = reply_html(transcript_markdown(marked, system=thread.system))
    for marker, image in thumbnails.items():
        page = page.replace(marker, image)
    display({"text/html": page, "text/plain": markdown_text}, raw=True)


def _reset(host: Host, args: argparse.Namespace) -> None:
    thread = _thread(host, args)
    count = len(thread.turns)
    thread.reset()
    print(f"Conversation {_chat(args)!r} cleared ({count} turn{'s' * (count != 1)} removed).")


def _undo(host: Host, args: argparse.Namespace) -> None:
    turn = _thread(host, args).undo()
    if turn is None:
        print("Nothing to undo: the conversation is empty.")
        return
    preview = turn.user if len(turn.user) <= 60 else turn.user[:59] + "…"
    print(f"Dropped the last turn: {preview!r}")


def _retry(host: Host, args: argparse.Namespace) -> None:
    """Ask the last question again with its options; the new reply replaces the old turn."""
    thread = _thread(host, args)
    if not thread.turns:
        raise UsageError("Nothing to retry: the conversation is empty.")
    last = thread.turns[-1]
    meta = last.reply.metadata
    params = meta.get("params", {})
    settings = host.settings()
    options = request_options(  # built before anything changes: a failure keeps the turn
        host,
        chat=_chat(args),
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
    ask(host, last.user, options.updated(cell_id=last.cell_id))


def _models(host: Host, _: argparse.Namespace) -> None:
    settings = host.settings()
    entries = host.session.client(settings).model_entries()
    models = sorted(str(entry["id"]) for entry in entries)
    vision = {str(entry["id"]) for entry in entries if accepts_images(entry)}
    current = settings.model_id()
    names: dict[str, list[str]] = {}
    for alias, model in settings.aliases.items():
        names.setdefault(model, []).append(alias)
    lines = [
        f"{'*' if m == current else ' '} {printable(m)}"
        + ("  [images]" if m in vision else "")
        + (f"  (alias: {', '.join(printable(a) for a in names[m])})" if m in names else "")
        for m in models
    ]
    if current not in models:
        lines.append(f"! {printable(current)} (the current default) is not served here")
    legend = ", [images] = takes images" if vision else ""
    print(f"{len(models)} models at {printable(settings.base_url)} (* = current default{legend}):")
    print("\n".join(lines))


def _alias(host: Host, args: argparse.Namespace) -> None:
    """``%gmi alias`` lists the aliases; ``%gmi alias NAME MODEL`` adds one."""
    settings = host.settings()
    if not args.words:
        aliases = settings.aliases or {}
        print("\n".join(f"{a} → {m}" for a, m in aliases.items()) or "No aliases yet.")
        return
    name, model = args.words
    if not _ALIAS.fullmatch(name):
        raise UsageError(
            f"Alias names are short words without '/' (letters, digits, . _ -), not {name!r}."
        )
    served = host.session.client(settings).list_models()
    if name in served:
        raise UsageError(f"{name!r} is a model id the endpoint serves; pick another alias.")
    host.aliases = {**host.aliases, name: settings.model_id(model)}
    note = "" if settings.model_id(model) in served else " (not in %gmi models: check the id)"
    print(f"Alias {name!r} → {settings.model_id(model)!r}{note}; use it as -m {name}.")


def _persona(host: Host, args: argparse.Namespace) -> None:
    """``%gmi persona NAME "TEXT"`` adds (or replaces) a persona; ``NAME`` shows it."""
    name, *text = args.words
    if text:
        host.personas = {**host.personas, name: text[0]}
        print(f"Persona {name!r} set; use it with %%gmi --persona {name}.")
        return
    try:
        print(f"{name}: {persona_prompt(name, host.settings().personas)}")
    except KeyError as error:
        raise UsageError(error.args[0]) from None


def _personas(host: Host, _: argparse.Namespace) -> None:
    for name, prompt in all_personas(host.settings().personas).items():
        print(f"{name}: {prompt}")


def _config(host: Host, _: argparse.Namespace) -> None:
    rows = host.session.describe(host.settings())
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {value}  ({source})")


def _last(host: Host, args: argparse.Namespace) -> None:
    settings = host.settings()
    request = _thread(host, args).last_request
    if request is None:
        print("No request has been sent yet in this conversation.")
        return
    client = host.session.client(settings)
    sent_key = find_api_key(settings.api_key_env) is not None
    headers = {"Authorization": f"Bearer {client.masked_key}"} if sent_key else {}
    shown = {**elide_images(request), "headers": headers}  # no key: no header was sent
    print(json.dumps(shown, indent=2, ensure_ascii=False, default=str))


def _chats(host: Host, _: argparse.Namespace) -> None:
    threads = host.session.threads
    if not threads:
        print("No conversations yet.")
    for name, thread in threads.items():
        system = f" · system: {printable(thread.system)[:50]!r}" if thread.system else ""
        turns = len(thread.turns)
        print(f"{printable(name)}: {turns} turn{'s' * (turns != 1)}{system}")


def _system(host: Host, args: argparse.Namespace) -> None:
    thread = _thread(host, args)
    if not args.words:
        print(f"System prompt of {_chat(args)!r}: {thread.system!r}")
        return
    thread.system = " ".join(args.words)  # "" clears it, also against the config
    done = f"set to {thread.system!r}" if thread.system else "cleared"
    print(f"System prompt of {_chat(args)!r} {done}.")


def _save(host: Host, args: argparse.Namespace) -> None:
    path = _one_path(args, "save")
    names = [args.chat] if args.chat else None
    key = find_api_key(host.settings().api_key_env)
    count = save_threads(
        path, host.session.threads, names=names, secrets=[key] if key else [], force=args.force
    )
    print(f"Saved {count} turn{'s' * (count != 1)} to {path}.")


def _load(host: Host, args: argparse.Namespace) -> None:
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


def _export(host: Host, args: argparse.Namespace) -> None:
    path = _one_path(args, "export")
    names = [args.chat] if args.chat else None
    key = find_api_key(host.settings().api_key_env)
    export_path(
        path, host.session.threads, names=names, secrets=[key] if key else [], force=args.force
    )
    print(f"Exported to {path}.")


def _usage(host: Host, _: argparse.Namespace) -> None:
    settings = host.settings()
    print(f"{'thread':<16}{'requests':>9}{'tokens in':>12}{'tokens out':>12}{'cost':>10}")
    for name, requests, tokens_in, tokens_out, cost in host.session.usage_rows(settings):
        shown = "n/a" if cost is None else f"${cost:.4f}"
        print(f"{name:<16}{requests:>9}{tokens_in:>12,}{tokens_out:>12,}{shown:>10}")
    if settings.token_budget is not None:
        left = settings.token_budget - host.session.spent_tokens()
        print(f"Token budget: {settings.token_budget:,}; {max(left, 0):,} left.")


def _explain(host: Host, args: argparse.Namespace) -> None:
    error = last_error()
    explanation = own_error_explanation(error) if error is not None else None
    if explanation is not None:  # e.g. a 401 from the cell before: explained here
        print(explanation)
        return
    settings = host.settings()
    options = request_options(
        host, chat=_chat(args), tools=None, confirm=False, stream=settings.stream
    )
    ask(host, last_error_report(host.shell), options)


def _tools(host: Host, args: argparse.Namespace) -> None:
    """List the tools a cell of this thread offers; with names, set the thread's defaults."""
    chat = _chat(args)
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


def _panel(host: Host, args: argparse.Namespace) -> None:
    """Show a chat panel (ipywidgets) over the thread; replies stream off the main thread."""
    from .display.widgets import show_panel  # ipywidgets loads only when a panel is shown

    chat = _chat(args)

    def before_send() -> RequestOptions:  # at each send: current %config and the budget
        settings = host.settings()
        host.session.check_budget(settings)
        host.session.conversation(settings, chat)  # rewire client and model
        params = {"temperature": settings.temperature, "max_tokens": settings.max_tokens}
        return RequestOptions.build(chat=chat, stream=settings.stream, params=params)

    show_panel(_thread(host, args), before_send=before_send)


def _one_path(args: argparse.Namespace, name: str) -> str:
    if len(args.words) != 1:
        raise UsageError(f"%gmi {name} takes one file name, e.g. %gmi {name} chat.json")
    path = str(args.words[0])
    kinds = FILE_SUFFIXES[name]
    if name != "export" and not path.lower().endswith(kinds):  # export: persist says why
        raise UsageError(f"%gmi {name} works with {' or '.join(kinds)} files, not {path!r}.")
    return path


Handler = Callable[[Any, argparse.Namespace], None]
SUBCOMMANDS: dict[str, tuple[bool, Handler]] = {
    "history": (False, _history),
    "reset": (False, _reset),
    "undo": (False, _undo),
    "retry": (False, _retry),
    "models": (False, _models),
    "config": (False, _config),
    "last": (False, _last),
    "chats": (False, _chats),
    "system": (True, _system),
    "save": (True, _save),
    "load": (True, _load),
    "export": (True, _export),
    "usage": (False, _usage),
    "explain": (False, _explain),
    "tools": (True, _tools),
    "panel": (False, _panel),
    "alias": (True, _alias),
    "persona": (True, _persona),
    "personas": (False, _personas),
}
