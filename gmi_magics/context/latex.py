"""Which braces open a LaTeX argument (``\\frac{a}{b}``, ``x^{n}``): never interpolated."""

from __future__ import annotations

import re

__all__ = ["after_latex"]

_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+\*?[ \t]*$")  # \frac{ or \frac {
_MAX_GROUPS = 9  # LaTeX macros take at most nine arguments
_MAX_GROUP_CHARS = 2000  # a LaTeX argument longer than this is not looked through


def after_latex(text: str, position: int) -> bool:
    """True when the ``{`` at ``position`` opens a LaTeX argument: right after ``\\``,
    ``^``, ``_`` or a ``\\command`` (spaces allowed), or after a ``{...}`` or
    ``[...]`` group that itself follows one (``\\frac{a}{b}``, ``\\sqrt[n]{x}``)."""
    for _ in range(_MAX_GROUPS):  # follow "}{" and "]{" back to the command
        previous = text[position - 1] if position else ""
        if previous and previous in "\\^_":
            return True
        if previous not in ("}", "]"):
            start = max(0, position - 64)
            return _COMMAND_BEFORE.search(text, start, position) is not None
        opening = _matching_open(text, position - 1)
        if opening is None:
            return False
        position = opening
    return False


def _matching_open(text: str, close: int) -> int | None:
    """Index of the ``{`` or ``[`` matching the ``}`` or ``]`` at ``close``, looking a
    bounded way back."""
    closer = text[close]
    opener = "{" if closer == "}" else "["
    low = max(0, close - _MAX_GROUP_CHARS)
    depth, index = 1, close
    while True:
        opening = text.rfind(opener, low, index)
        closing = text.rfind(closer, low, index)
        if opening < 0:
            return None
        if closing > opening:
            depth, index = depth + 1, closing
            continue
        depth, index = depth - 1, opening
        if depth == 0:
            return opening
