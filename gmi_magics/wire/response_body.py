"""Reading a chat response's body: an SSE stream into deltas, or one bounded JSON document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import APITimeoutError, StreamError
from ..jsonsafe import JSONLimitError, loads_bounded
from ..text import clip, printable
from ..types import Delta
from .deltas import parse_chunk
from .limits import ReplyMeter, read_capped, too_large
from .redaction import ChunkScrubber
from .sse import EventTooLarge, SSEDecoder

__all__ = ["read_json", "read_stream"]


def read_stream(
    response: httpx.Response, *, deadline: float, timeout: float, max_bytes: int, secret: str | None
) -> Iterator[Delta]:
    """The deltas of an SSE reply stream, each scrubbed of ``secret``; a stream that
    ends early, passes ``deadline`` or outgrows ``max_bytes`` raises one clear error."""
    decoder = SSEDecoder(max_size=max_bytes)
    meter = ReplyMeter(max_bytes)
    finished = received = False
    scrubber = ChunkScrubber(secret)
    for raw in response.iter_bytes():  # decoded (decompressed) bytes
        if time.monotonic() > deadline:
            raise APITimeoutError(f"No complete reply within {timeout:g} s (the deadline).")
        meter.add_wire(len(raw))
        for event in _events(decoder, raw):
            if event.data.startswith("[DONE]"):
                if not received:
                    raise StreamError("The server ended the reply without sending anything.")
                yield from _tail(scrubber)
                return
            received = True
            delta = parse_chunk(scrubber.scrub(_loads_chunk(event.data, secret)))
            meter.add_delta(delta)
            finished = finished or delta.finish_reason is not None
            yield delta
    if not finished:
        raise StreamError("The reply stream ended before the reply was complete.")
    yield from _tail(scrubber)


def read_json(response: httpx.Response, *, deadline: float, timeout: float, max_bytes: int) -> Any:
    """The whole body as JSON, read within ``deadline`` and ``max_bytes`` (then closed)."""
    try:
        body = read_capped(
            response.iter_bytes(),  # decoded: a gzip bomb is stopped at the cap
            limit=max_bytes,
            deadline=deadline,
            timeout=timeout,
        )
    finally:
        response.close()
    reason = ""
    try:
        return loads_bounded(body)
    except JSONLimitError as error:
        reason = f" ({error})"
    except ValueError:
        pass  # raised below, so the error holds no context with the raw reply
    raise StreamError(f"The server sent a reply that is not valid JSON{reason}.")


def _events(decoder: SSEDecoder, raw: bytes) -> list[Any]:
    try:
        return decoder.feed(raw)
    except EventTooLarge as error:
        too_big = error.max_size
    raise too_large(too_big, what="One event of the reply stream")


def _tail(scrubber: ChunkScrubber) -> Iterator[Delta]:
    """The text held back at the end of a stream (a possible partial key), as a delta."""
    tail = scrubber.tail()
    if tail is not None:
        yield parse_chunk(tail)


def _loads_chunk(data: str, secret: str | None) -> Any:
    try:
        return loads_bounded(data)
    except ValueError:
        pass  # raised below, so the error holds no context (whose ``doc`` is the data)
    preview = clip(printable(data), 60, secret)
    raise StreamError(f"The reply stream carried malformed data: {preview!r}")
