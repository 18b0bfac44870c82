"""``%gmi`` words about models and prompts: models, alias, persona, personas."""

from __future__ import annotations

import argparse
import re

from IPython.core.error import UsageError

from .cell_host import Host
from .chat.content import accepts_images
from .chat.personas import all_personas, persona_prompt
from .text import printable

__all__ = ["add_or_list_aliases", "set_or_show_persona", "show_models", "show_personas"]

_ALIAS = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def show_models(host: Host, _: argparse.Namespace) -> None:
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


def add_or_list_aliases(host: Host, args: argparse.Namespace) -> None:
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


def set_or_show_persona(host: Host, args: argparse.Namespace) -> None:
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


def show_personas(host: Host, _: argparse.Namespace) -> None:
    for name, prompt in all_personas(host.settings().personas).items():
        print(f"{name}: {prompt}")
