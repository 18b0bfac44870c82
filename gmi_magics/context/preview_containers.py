"""Previews of builtin containers: the leading items that fit the budget, nested
containers shortened, and a marker for what was left out."""

from __future__ import annotations

from typing import Any

from gmi_magics.context.clipping import ELLIPSIS, Cuts, clip_counted, safe_repr

__all__ = ["BRACKETS", "container_preview"]

BRACKETS: dict[type, tuple[str, str]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
    dict: ("{", "}"),
}


def container_preview(
    value: Any, budget: int, seen: set[int], cuts: Cuts, top: bool = False
) -> str:
    """Render a builtin container, showing the leading items that fit the budget."""
    kind = type(value)
    if not value:
        return f"{kind.__name__}()" if kind in (set, frozenset) else repr(value)
    if id(value) in seen:
        return "[...]" if kind is list else "{...}"
    opening, closing = BRACKETS[kind]
    seen.add(id(value))
    try:
        room = budget - len(opening) - len(closing)
        pieces = _fitting_items(value, room, seen, cuts)
    finally:
        seen.discard(id(value))
    shown = len(pieces)
    if shown < len(value):
        pieces.append(_more_items(len(value) - shown))
        if top:
            cuts.phrases.append(f"sent {shown:,} of {len(value):,} items")
        else:
            cuts.items_shortened = True
    if kind is tuple and len(value) == 1:
        pieces[0] += ","
    return opening + ", ".join(pieces) + closing


def _fitting_items(value: Any, budget: int, seen: set[int], cuts: Cuts) -> list[str]:
    """Texts of the leading items that fit ``budget`` (leaving room for a marker)."""
    total = len(value)
    reserve = len(_more_items(total)) + 2
    pieces: list[str] = []
    used = 0
    for item in value.items() if isinstance(value, dict) else value:
        room = budget - used - (2 if pieces else 0)
        if len(pieces) < total - 1:
            room -= reserve
        if room < 1:
            break
        shortened = cuts.items_shortened
        text = _item_text(item, isinstance(value, dict), room, seen, cuts)
        if len(text) > room:
            cuts.items_shortened = shortened  # the item is left out, not shortened
            break
        used += len(text) + (2 if pieces else 0)
        pieces.append(text)
    return pieces


def _more_items(count: int) -> str:
    """The marker standing for items left out."""
    return f"{ELLIPSIS} {count:,} more item{'' if count == 1 else 's'}"


def _item_text(item: Any, is_pair: bool, room: int, seen: set[int], cuts: Cuts) -> str:
    """One item's inline text; ``key: value`` for dict entries."""
    if not is_pair:
        return _inline(item, room, seen, cuts)
    key = _inline(item[0], room, seen, cuts)
    return f"{key}: {_inline(item[1], room - len(key) - 2, seen, cuts)}"


def _inline(item: object, room: int, seen: set[int], cuts: Cuts) -> str:
    """An item inside a container: nested builtins recurse, the rest is repr."""
    if type(item) in BRACKETS:
        return container_preview(item, room, seen, cuts)
    whole = safe_repr(item)
    text, kept = clip_counted(whole, max(room, 1))
    cuts.items_shortened |= kept < len(whole)
    return text
