"""Size caps on what the server sends: the reply, one SSE event, a JSON body.

A reply that never ends (or a small gzip body that inflates to gigabytes) must end
in one clear error, not in a kernel that runs out of memory. Sizes count decoded
bytes (``Response.iter_bytes`` yields them decompressed), and reading stops as soon
as a cap is passed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..errors import APITimeoutError, StreamError
from ..types import Delta

__all__ = ["WIRE_FACTOR", "ReplyMeter", "human_size", "read_capped", "too_large"]

WIRE_FACTOR = 16
"""A stream may carry this many times the reply cap in envelopes, keep-alives, etc."""
SETTING = "GMIMagics.max_reply_bytes"


def human_size(size: int) -> str:
    """``4 MB``, ``1.5 MB``, ``64 KB``, ``900 bytes`` (binary units, as set)."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def too_large(limit: int, *, what: str = "The reply", factor: int = 1) -> StreamError:
    """The one-line error for a reply that passed ``factor`` × the cap ``limit``."""
    setting = SETTING if factor == 1 else f"{factor} × {SETTING}"
    return StreamError(
        f"{what} passed the {human_size(limit * factor)} limit ({setting}); the rest was not read.",
        hint=f"Ask for a shorter reply, or raise the limit: %config {SETTING} = {limit * 4}",
    )


class ReplyMeter:
    """Counts a streamed reply: text + reasoning + tool arguments, and raw wire bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reply_bytes = 0
        self.wire_bytes = 0

    @property
    def full(self) -> bool:
        """The reply passed the cap."""
        return self.reply_bytes > self.limit

    def add_wire(self, size: int) -> None:
        self.wire_bytes += size
        if self.wire_bytes > self.limit * WIRE_FACTOR:
            raise too_large(self.limit, what="The reply stream", factor=WIRE_FACTOR)

    def take(self, delta: Delta) -> Delta:
        """Count ``delta``; once it passes the cap, ``full`` is set and what still fits
        is returned (its text cut at the cap), to be shown before the error."""
        before = self.reply_bytes
        content, reasoning = delta.content, delta.reasoning  # one call per token: flat
        self.reply_bytes += len(content) if content.isascii() else _size(content)
        if reasoning:
            self.reply_bytes += _size(reasoning)
        for part in delta.tool_calls:
            self.reply_bytes += _size(part.arguments) + _size(part.name or "")
        if self.reply_bytes <= self.limit:
            return delta
        room = self.limit - before
        content = _prefix(content, room)
        reasoning = _prefix(reasoning, room - _size(content))
        return Delta(content, reasoning, model=delta.model)


def _prefix(text: str, size: int) -> str:
    """The longest start of ``text`` of at most ``size`` UTF-8 bytes."""
    if size <= 0:
        return ""
    return text.encode("utf-8", "replace")[:size].decode("utf-8", "ignore")


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def read_capped(chunks: Iterable[bytes], *, limit: int, deadline: float, timeout: float) -> bytes:
    """A whole body of at most ``limit`` decoded bytes, read before ``deadline``."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
        if time.monotonic() > deadline:
            raise APITimeoutError(f"No complete reply within {timeout:g} s (the deadline).")
    return b"".join(parts)
