"""Cutting preview text to a budget, reprs that never raise, and the record of what
a preview left out (``Cuts``)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ELLIPSIS",
    "MAX_CELL_CHARS",
    "Cuts",
    "clip",
    "clip_counted",
    "describe_exception",
    "safe_repr",
]

MAX_CELL_CHARS = 60
ELLIPSIS = "…"


@dataclass
class Cuts:
    """What a rendering left out: phrases about the value, and nested shortening."""

    phrases: list[str] = field(default_factory=list)
    items_shortened: bool = False
    cells_shortened: bool = False

    def summary(self) -> str:
        """One phrase for the user, e.g. "sent 37 of 10,000 items, some shortened"."""
        phrases = list(self.phrases)
        if self.items_shortened:
            phrases.append("some items shortened")
        if self.cells_shortened:
            phrases.append(f"long cells cut to {MAX_CELL_CHARS} characters")
        return "; ".join(phrases)


def clip(text: str, max_chars: int) -> str:
    """Cut ``text`` to ``max_chars``, ending with ``… [truncated, N more chars]``."""
    return clip_counted(text, max_chars)[0]


def clip_counted(text: str, max_chars: int) -> tuple[str, int]:
    """``clip`` and how many characters of ``text`` it kept."""
    if len(text) <= max_chars:
        return text, len(text)
    longest = _truncated(len(text))  # the marker can only get shorter than this
    keep = max(0, max_chars - len(longest) - 1)
    marker = _truncated(len(text) - keep)
    if not keep:
        return marker, 0
    head = text[:keep]
    separator = "\n" if "\n" in head else " "
    return f"{head}{separator}{marker}", keep


def _truncated(count: int) -> str:
    """The marker appended to clipped text."""
    return f"{ELLIPSIS} [truncated, {count:,} more chars]"


def safe_repr(value: object) -> str:
    """``repr(value)``, or a placeholder naming the type when repr raises."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object (repr failed: {describe_exception(exc)})>"


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` for an exception, without a trailing colon."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
