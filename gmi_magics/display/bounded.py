"""Python-Markdown's link processors with bounded look-ahead.

Stock ``[text](url)`` / ``[text][id]`` / image processors scan from each ``[`` to the
end of the paragraph when no bracket closes it, so ``"[a" * 2000`` takes seconds
(quadratic).  These subclasses look at most ``LOOKAHEAD`` characters ahead, with
C-speed pre-checks, so each opener costs bounded work.  A link whose text or
target is longer than that, or nests brackets/parentheses more than three deep,
is shown as text.
"""

from __future__ import annotations

import re
from typing import Any

import markdown
from markdown import inlinepatterns

LOOKAHEAD = 1_000


def _balanced(open_: str, close: str) -> re.Pattern[str]:
    """Text up to the ``close`` that balances an ``open_`` already passed (3 levels)."""
    o, c = re.escape(open_), re.escape(close)
    plain = f"[^{o}{c}]"
    level3 = f"{o}{plain}*{c}"
    level2 = f"{o}(?:{plain}|{level3})*{c}"
    return re.compile(f"(?:{plain}|{level2})*{c}")


_TEXT = _balanced("[", "]")
_PARENS = _balanced("(", ")")


class _BoundedText:
    """``getText`` / ``getLink`` that never read more than ``LOOKAHEAD`` ahead."""

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:
        end = index + LOOKAHEAD
        if data.find("]", index, end) < 0:
            return "", index, False
        match = _TEXT.match(data, index, end)
        if match is None:
            return "", index, False
        return data[index : match.end() - 1], match.end(), True

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:
        opening = data.find("(", index, index + 64)
        if opening < 0 or _PARENS.match(data, opening + 1, opening + LOOKAHEAD) is None:
            return "", None, index, False
        stock = inlinepatterns.LinkInlineProcessor.getLink
        href, title, end, handled = stock(self, data[index : index + LOOKAHEAD], 0)
        return href, title, index + end, handled


class _BoundedId:
    """``evalId`` (the ``[id]`` of ``[text][id]``) within ``LOOKAHEAD``."""

    RE_LINK: re.Pattern[str]

    def evalId(self, data: str, index: int, text: str) -> tuple[str | None, int, bool]:
        match = self.RE_LINK.match(data, index, index + LOOKAHEAD)
        if match is None:
            return None, index, False
        return match.group(1).lower() or text.lower(), match.end(0), True


class _Link(_BoundedText, inlinepatterns.LinkInlineProcessor):  # type: ignore[misc]
    pass


class _Image(_BoundedText, inlinepatterns.ImageInlineProcessor):  # type: ignore[misc]
    pass


class _Reference(_BoundedId, _BoundedText, inlinepatterns.ReferenceInlineProcessor):  # type: ignore[misc]
    pass


class _ShortReference(_BoundedText, inlinepatterns.ShortReferenceInlineProcessor):  # type: ignore[misc]
    pass


class _ImageReference(_BoundedId, _BoundedText, inlinepatterns.ImageReferenceInlineProcessor):  # type: ignore[misc]
    pass


class _ShortImageReference(_BoundedText, inlinepatterns.ShortImageReferenceInlineProcessor):  # type: ignore[misc]
    pass


_REPLACEMENTS: dict[str, tuple[type[Any], type[Any]]] = {
    "reference": (inlinepatterns.ReferenceInlineProcessor, _Reference),
    "link": (inlinepatterns.LinkInlineProcessor, _Link),
    "image_link": (inlinepatterns.ImageInlineProcessor, _Image),
    "short_reference": (inlinepatterns.ShortReferenceInlineProcessor, _ShortReference),
    "image_reference": (inlinepatterns.ImageReferenceInlineProcessor, _ImageReference),
    "short_image_ref": (inlinepatterns.ShortImageReferenceInlineProcessor, _ShortImageReference),
}


def bound_link_processors(md: markdown.Markdown) -> None:
    """Swap the stock link/image/reference processors of ``md`` for bounded ones."""
    registry = md.inlinePatterns
    priorities = {item.name: item.priority for item in registry._priority}
    for name, (stock, bounded) in _REPLACEMENTS.items():
        if name in registry and type(registry[name]) is stock:
            registry.register(bounded(registry[name].pattern, md), name, priorities[name])
