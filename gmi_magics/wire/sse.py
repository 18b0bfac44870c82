"""Incremental Server-Sent Events decoder (WHATWG event-stream interpretation).

Stdlib only. Lines are split on CR, LF or CRLF as *bytes* and decoded as
UTF-8 afterwards, so characters split across chunks survive and U+2028/U+0085
stay inside data. Unlike openai-python, a block with an empty data buffer is
not dispatched and a leading BOM is stripped, as the spec requires.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

__all__ = ["EventTooLarge", "SSEDecoder", "ServerSentEvent", "iter_sse"]

_EOL = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class ServerSentEvent(NamedTuple):
    """One dispatched event; ``id``/``retry`` are the stream's values so far.

    A NamedTuple rather than a frozen dataclass: one is built per streamed chunk.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class EventTooLarge(ValueError):
    """One line or one event passed the decoder's ``max_size``."""

    def __init__(self, max_size: int) -> None:
        super().__init__(f"an event-stream line or event passed {max_size} bytes")
        self.max_size = max_size


class SSEDecoder:
    """Feed raw bytes as they arrive; get complete events back.

    With ``max_size``, a line or an event's data longer than that many bytes raises
    ``EventTooLarge`` instead of being buffered without end.
    """

    def __init__(self, max_size: int | None = None) -> None:
        self.max_size = max_size
        self._size = 0  # bytes of data buffered for the current event
        self._buf = bytearray()  # partial line (no terminator seen yet)
        self._skip_lf = False  # last chunk ended in CR: drop a leading LF
        self._at_start = True  # BOM may still be stripped from the first line
        self._event = ""
        self._data: list[str] = []
        self._fields = False  # a field line was seen since the last blank line
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def pending(self) -> bool:
        """True if a partial line or an undispatched event is buffered."""
        return bool(self._buf) or self._fields

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume ``chunk`` and return the events it completes."""
        if not chunk:
            return []
        if self._skip_lf and chunk[:1] == b"\n":  # the LF of a CRLF split across chunks
            chunk = chunk[1:]
        self._skip_lf = chunk[-1:] == b"\r"
        if not chunk:
            return []
        if b"\n" not in chunk and b"\r" not in chunk:  # no line ends: keep buffering
            self._buf += chunk
            self._check(len(self._buf))
            return []
        if self._buf:  # joined once per completed line, so long lines stay linear
            chunk = bytes(self._buf) + chunk
            self._buf.clear()
        lines = _EOL.split(chunk) if b"\r" in chunk else chunk.split(b"\n")
        self._buf += lines.pop()  # the unterminated rest (b"" after a line end)
        self._check(len(self._buf))
        events = []
        for raw in lines:
            event = self._line(raw)
            if event is not None:
                events.append(event)
        return events

    def feed_data(self, chunk: bytes) -> list[str]:
        """``feed``, returning just the data of each completed event (all a chat stream
        reader needs); the common chunk of whole ``data: …`` events skips the line
        machinery: a chunk per token makes this the hot path of a reply."""
        data = self._whole_data(chunk)
        return data if data is not None else [event.data for event in self.feed(chunk)]

    def _whole_data(self, chunk: bytes) -> list[str] | None:
        """The data of a chunk made of whole ``data: …\n\n`` events and nothing else,
        arriving between events; ``None`` for anything else (``feed`` reads it then,
        the decoder's state untouched)."""
        if self._buf or self._fields or self._skip_lf:
            return None
        if chunk[:6] != b"data: " or chunk[-2:] != b"\n\n" or b"\r" in chunk:
            return None
        events = chunk.count(b"\n\n")  # one, the usual chunk, or a burst of them
        if chunk.count(b"\n") != 2 * events or chunk.count(b"\n\ndata: ") != events - 1:
            return None  # a line that is not an event of its own, or not a data line
        size = self.max_size
        if (
            size is not None
            and len(chunk) - 7 > size
            and max(map(len, chunk.split(b"\n\n"))) - 5 > size
        ):
            return None  # ``feed`` raises EventTooLarge
        self._at_start = False  # it starts with "data: ", so no BOM to strip
        # UTF-8 is decoded once: the separators are ASCII, so no character spans them
        return chunk[6:-2].decode("utf-8", "replace").split("\n\ndata: ")

    def flush(self) -> list[ServerSentEvent]:
        """Signal EOF: an unterminated event is discarded (never dispatched)."""
        self._buf.clear()
        self._skip_lf = False
        self._reset()
        return []

    def _check(self, size: int) -> None:
        if self.max_size is not None and size > self.max_size:
            raise EventTooLarge(self.max_size)

    def _reset(self) -> None:
        self._event, self._data, self._fields = "", [], False
        self._size = 0

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if self._at_start:
            self._at_start = False
            raw = raw.removeprefix(_BOM)
        if not raw:
            return self._dispatch()
        if raw[:1] != b":":
            name, _, value = raw.decode("utf-8", "replace").partition(":")
            self._field(name, value[1:] if value[:1] == " " else value)
        return None

    def _field(self, name: str, value: str) -> None:
        self._fields = True
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._size += len(value) + 1
            self._check(self._size)
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._reset()
            return None
        event = ServerSentEvent(
            self._event or "message", "\n".join(self._data), self._last_id, self._retry
        )
        self._reset()
        return event


def iter_sse(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """Decode an iterable of byte chunks into events (unterminated tail dropped)."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()
