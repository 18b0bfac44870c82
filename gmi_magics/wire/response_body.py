"""Reading a chat response's body: an SSE stream into deltas, or one bounded JSON document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import APITimeoutError, StreamError
from ..jsonsafe import JSONLimitError, loads_bounded
from ..types import Delta
from .chunks import DONE, ChunkReader
from .limits import ReplyMeter, read_capped, too_large
from .redaction import DeltaScrubber
from .sse import EventTooLarge, SSEDecoder

__all__ = ["coalesced", "read_json", "read_stream"]

WAITED = 0.0002  # seconds: a chunk whose read took longer had to be waited for
MOST_HELD = 65_536  # bytes held at most before they are decoded anyway


def read_stream(
    response: httpx.Response, *, deadline: float, timeout: float, max_bytes: int, secret: str | None
) -> Iterator[Delta]:
    """The deltas of an SSE reply stream, each scrubbed of ``secret``; a stream that
    ends early, passes ``deadline`` or outgrows ``max_bytes`` raises one clear error.

    The chunks of one burst (``coalesced``) that carry only text come out as one
    delta (``ChunkReader``).
    """
    decoder = SSEDecoder(max_size=max_bytes)
    meter = ReplyMeter(max_bytes)
    finished = received = False
    scrubber = DeltaScrubber(secret)
    reader = ChunkReader(secret)
    for raw in coalesced(_body_chunks(response)):
        meter.add_wire(len(raw))
        for delta in reader.deltas(_events(decoder, raw)):
            if delta is DONE:
                if not received:
                    raise StreamError("The server ended the reply without sending anything.")
                yield from _tail(scrubber)
                return
            received = True
            delta = meter.take(scrubber.scrub(delta))
            if meter.full:  # what fits is shown, the rest is not read
                yield delta
                raise too_large(max_bytes)
            if delta.finish_reason is not None:
                finished = True
            yield delta
        if time.monotonic() > deadline:  # after what arrived in time is shown
            raise APITimeoutError(f"No complete reply within {timeout:g} s (the deadline).")
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


def _body_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body as it arrives, decoded (decompressed) when it is encoded; an identity
    body still on the wire is read raw, which skips two layers of per-chunk work (a
    chunk per token).  A body already read (a replayed recording) is read as bytes."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("identity", "") and not response.is_stream_consumed:
        return response.iter_raw()
    return response.iter_bytes()


def coalesced(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` joined into groups: each chunk that had to be waited for ends a group,
    with the chunks read since that were already there (buffered from the same network
    read).  The first chunk goes out alone at once; the end, a failure or an interrupt
    releases what is held first.

    Decoding a burst in one pass costs about half what it costs chunk by chunk, between
    httpx's own per-chunk steps (``benchmarks/per_turn.py``); a stream that arrives at
    a model's pace is a chunk a group, shown as it comes.  Held chunks wait at most for
    the next arrival: they came together with the one before, in the same network read.
    """
    held: list[bytes] = []
    size = 0
    first = True  # the first chunk goes out at once, however it came
    while True:
        started = time.monotonic()
        try:
            raw = next(chunks)
        except StopIteration:
            break
        except BaseException:  # a dropped stream, a timeout, Ctrl-C: keep what came first
            if held:
                yield b"".join(held)
            raise
        held.append(raw)
        size += len(raw)
        if first or time.monotonic() - started > WAITED or size >= MOST_HELD:
            yield b"".join(held) if len(held) > 1 else raw
            held, size = [], 0
        first = False
    if held:
        yield b"".join(held)


def _events(decoder: SSEDecoder, raw: bytes) -> list[str]:
    """The data of the events ``raw`` completes."""
    try:
        return decoder.feed_data(raw)
    except EventTooLarge as error:
        too_big = error.max_size
    raise too_large(too_big, what="One event of the reply stream")


def _tail(scrubber: DeltaScrubber) -> Iterator[Delta]:
    """The text held back at the end of a stream (a possible partial key), as a delta."""
    tail = scrubber.tail()
    if tail is not None:
        yield tail
