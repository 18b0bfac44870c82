"""Text safe to show: one printable line (or lines), the API key redacted and clipped,
and the human message inside an error body.  A floor module: imports only ``jsonsafe``."""

from __future__ import annotations

import functools
import re
from typing import Any

from .jsonsafe import loads_bounded

__all__ = [
    "MAX_BODY_CHARS",
    "MIN_EDGE_FRAGMENT",
    "MIN_FRAGMENT",
    "REDACTED",
    "clip",
    "error_message_from_body",
    "printable",
    "printable_text",
    "redact",
]

MAX_BODY_CHARS = 300
REDACTED = "[redacted]"
MIN_FRAGMENT = 12  # this many consecutive key characters anywhere count as the key
MIN_EDGE_FRAGMENT = 4  # ... and this many at a clip boundary
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """``text`` as one plain line: escape sequences, control and bidi characters removed."""
    return " ".join(_INVISIBLE.sub(" ", _ANSI.sub("", text)).split())


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable_text(text: str) -> str:
    """``text`` safe for a terminal, lines kept: escape sequences (CSI, OSC …), C0/C1
    controls but newline and tab (so ``\\r``, backspace), and bidi overrides removed."""
    if _CONTROL.search(text) is None:  # the usual text (a streamed token): one scan, and
        return text  # no escape sequence either, since each starts with ESC, a control
    return _CONTROL.sub("", _ANSI.sub("", text))


def redact(text: str, secret: str | None) -> str:
    """``text`` without ``secret``, nor any run of ``MIN_FRAGMENT`` of its characters."""
    if not secret or len(secret) < MIN_EDGE_FRAGMENT or not text:
        return text
    if secret in text:
        text = text.replace(secret, REDACTED)
    size = min(MIN_FRAGMENT, len(secret) - 1)
    if size < MIN_EDGE_FRAGMENT or len(text) < size:
        return text
    pattern = _fragments(secret, size)
    if pattern.search(text) is None:  # the common case: one C-speed scan
        return text
    for start, stop in reversed(_fragment_spans(text, secret, pattern)):
        text = text[:start] + REDACTED + text[stop:]
    return text


@functools.lru_cache(maxsize=8)
def _fragments(secret: str, size: int) -> re.Pattern[str]:
    """A pattern matching any ``size`` consecutive characters of ``secret``."""
    windows = {secret[i : i + size] for i in range(len(secret) - size + 1)}
    return re.compile("|".join(re.escape(window) for window in sorted(windows)))


def _fragment_spans(text: str, secret: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``text`` that are (maximal) substrings of ``secret``."""
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, stop = match.span()
        if spans and start < spans[-1][1]:
            continue
        while stop < len(text) and text[start : stop + 1] in secret:
            stop += 1
        spans.append((start, stop))
    return spans


def clip(text: str, limit: int, secret: str | None = None) -> str:
    """Redact, then shorten to ``limit`` characters with "…"; no key prefix left at the cut."""
    text = redact(text, secret)
    if len(text) <= limit:
        return text
    text = text[: max(limit - 1, 0)]
    if secret:
        text = text[: len(text) - _key_tail(text, secret)]
    return text + "…"


def _key_tail(text: str, secret: str) -> int:
    """Length of the longest end of ``text`` (≥ 4) that is any part of ``secret``."""
    size = 0
    while size < min(len(text), len(secret)) and text[len(text) - size - 1 :] in secret:
        size += 1
    return size if size >= MIN_EDGE_FRAGMENT else 0


def error_message_from_body(body: str, secret: str | None = None) -> str:
    """The innermost human message in an error body (GMI nests it in ``details``)."""
    text = body.strip()
    if not text:
        return ""
    try:
        data = loads_bounded(text)
    except ValueError:
        return (
            "" if text.lstrip().startswith("<") else clip(printable(text), MAX_BODY_CHARS, secret)
        )
    return clip(printable(_message_from_json(data) or ""), MAX_BODY_CHARS, secret)


def _message_from_json(data: Any) -> str | None:
    if not isinstance(data, dict):
        return str(data) if isinstance(data, str) else None
    error = data.get("error", data)
    if isinstance(error, str):
        return error
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    if isinstance(details, str):
        try:
            inner = _message_from_json(loads_bounded(details))
        except ValueError:
            inner = None
        if inner:
            return inner
    message = error.get("message") or error.get("detail")
    return message if isinstance(message, str) else None
