"""Tests for gmi_magics.wire.sse: WHATWG event-stream interpretation edge cases."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest

from gmi_magics.wire.sse import EventTooLarge, ServerSentEvent, SSEDecoder, iter_sse

E = ServerSentEvent

CASES: list[tuple[str, bytes, list[ServerSentEvent]]] = [
    ("lf", b"data: a\n\ndata: b\n\n", [E(data="a"), E(data="b")]),
    ("cr", b"data: a\r\rdata: b\r\r", [E(data="a"), E(data="b")]),
    ("crlf", b"data: a\r\n\r\ndata: b\r\n\r\n", [E(data="a"), E(data="b")]),
    ("mixed", b"data: a\r\n\ndata: b\n\r\ndata: c\r\r\n", [E(data=c) for c in "abc"]),
    ("multiline", b"data: a\ndata:\ndata: b\n\n", [E(data="a\n\nb")]),
    ("multiline-crlf", b"data: a\r\ndata: b\r\n\r\n", [E(data="a\nb")]),
    ("comments", b": keep-alive\n:\ndata: x\n: mid\n\n: tail\n\n", [E(data="x")]),
    ("no-space", b"data:x\n\n", [E(data="x")]),
    ("one-space-only", b"data:  x \n\n", [E(data=" x ")]),
    ("colon-in-value", b"data: a: b\n\n", [E(data="a: b")]),
    ("empty-value", b"data:\n\n", [E(data="")]),
    ("no-colon", b"data\n\n", [E(data="")]),
    (
        "event-type",
        b"event: ping\ndata: 1\n\ndata: 2\n\n",
        [E("ping", "1"), E(data="2")],
    ),
    ("empty-event-type", b"event:\ndata: 1\n\n", [E(data="1")]),
    ("event-no-data", b"event: ping\n\ndata: 1\n\n", [E(data="1")]),
    (
        "id",
        b"id: 7\ndata: a\n\ndata: b\n\n",
        [E(data="a", id="7"), E(data="b", id="7")],
    ),
    (
        "id-reset",
        b"id: 7\ndata: a\n\nid\ndata: b\n\n",
        [E(data="a", id="7"), E(data="b", id="")],
    ),
    ("id-nul", b"id: 1\n\nid: 2\x003\ndata: a\n\n", [E(data="a", id="1")]),
    ("id-alone", b"id: 1\n\n\n\n", []),
    ("retry", b"retry: 3000\ndata: a\n\n", [E(data="a", retry=3000)]),
    ("retry-alone", b"retry: 5\n\ndata: a\n\n", [E(data="a", retry=5)]),
    (
        "retry-bad",
        b"retry: 1.5\nretry: -1\nretry: \xd9\xa3\ndata: a\n\n",
        [E(data="a")],
    ),
    ("unknown", b"foo: bar\nDATA: x\ndata: a\n\n", [E(data="a")]),
    ("bom", b"\xef\xbb\xbfdata: a\n\n", [E(data="a")]),
    ("bom-twice", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n", [E(data="b")]),
    ("bom-later", b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [E(data="a")]),
    ("utf8", "data: é中😀\n\n".encode(), [E(data="é中😀")]),
    (
        "u2028",
        "data: a\u2028b\u0085c\x0bd\x0ce\x1cf\n\n".encode(),
        [E(data="a\u2028b\u0085c\x0bd\x0ce\x1cf")],
    ),
    ("bad-utf8", b"data: \xff\n\n", [E(data="\ufffd")]),
    ("done", b"data: [DONE]\n\n", [E(data="[DONE]")]),
    ("blank-only", b"\n\n\r\n\r\r", []),
    ("unterminated", b"data: a\n\ndata: b\n", [E(data="a")]),
    ("unterminated-line", b"data: a\n\ndata: b", [E(data="a")]),
]


def by_split(stream: bytes, splits: list[int]) -> list[ServerSentEvent]:
    bounds = [0, *splits, len(stream)]
    return list(iter_sse(stream[a:b] for a, b in pairwise(bounds)))


@pytest.mark.parametrize(("stream", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table(stream: bytes, expected: list[ServerSentEvent]) -> None:
    assert list(iter_sse([stream])) == expected


@pytest.mark.parametrize("stream", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_every_split_point(stream: bytes) -> None:
    whole = list(iter_sse([stream]))
    assert list(iter_sse(stream[i : i + 1] for i in range(len(stream)))) == whole
    interleaved = (p for i in range(len(stream)) for p in (b"", stream[i : i + 1]))
    assert list(iter_sse(interleaved)) == whole
    for i in range(len(stream) + 1):
        assert by_split(stream, [i]) == whole, i
        assert by_split(stream, [i, min(i + 1, len(stream))]) == whole, i


def test_cr_then_lf_in_next_chunk_is_one_break() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"") == []
    assert d.feed(b"\n\r") == [E(data="a")]
    assert d.feed(b"\ndata: b\r\n\r\n") == [E(data="b")]


def test_utf8_split_across_chunks() -> None:
    raw = "data: é中😀\n\n".encode()
    d = SSEDecoder()
    events = [ev for i in range(len(raw)) for ev in d.feed(raw[i : i + 1])]
    assert events == [E(data="é中😀")]


def test_pending_and_flush() -> None:
    d = SSEDecoder()
    assert not d.pending
    assert d.feed(b": keep-alive\n") == []
    assert not d.pending
    assert d.feed(b"data: a\n\ndata") == [E(data="a")]
    assert d.pending  # partial line
    assert d.feed(b": b\n") == []
    assert d.pending  # complete line, event not terminated
    assert d.flush() == []
    assert not d.pending
    assert d.feed(b"data: c\n\n") == [E(data="c")]
    assert not d.pending


def test_large_event() -> None:
    big = "é" * (1 << 19)  # 1 MiB of UTF-8
    stream = f"data: {big}\n\n".encode()
    assert list(iter_sse([stream])) == [E(data=big)]
    chunks = (stream[i : i + 4093] for i in range(0, len(stream), 4093))
    assert list(iter_sse(chunks)) == [E(data=big)]


def test_one_byte_at_a_time_is_linear() -> None:
    stream = b"data: " + b"x" * (1 << 20) + b"\n\n"
    d = SSEDecoder()
    start = time.perf_counter()
    events = [ev for i in range(len(stream)) for ev in d.feed(stream[i : i + 1])]
    assert time.perf_counter() - start < 5
    assert events == [E(data="x" * (1 << 20))]


def test_many_small_events_fast() -> None:
    stream = b"".join(b'data: {"i": %d}\n\n' % i for i in range(20000))
    start = time.perf_counter()
    events = list(iter_sse(stream[i : i + 7] for i in range(0, len(stream), 7)))
    assert time.perf_counter() - start < 2
    assert [ev.data for ev in events] == [f'{{"i": {i}}}' for i in range(20000)]


STREAMS = [
    b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n',
    b"\xef\xbb\xbfdata: first\n\ndata: x\n\n",
    b"data: one\r\n\r\ndata: two\rdata: more\r\r",
    b"event: ping\ndata: p\n\n: comment\n\ndata: a\ndata: b\n\nid: 7\ndata: c\n\n",
    b"data:no-space\n\ndata:  two spaces\n\ndata: \xc3\xa9t\xc3\xa9\n\n",
    b"data: x\n\n\n\ndata: y\n\nretry: 5\n\n",
]


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("seed", range(25))
def test_feed_data_reads_what_feed_reads_under_any_split(stream: bytes, seed: int) -> None:
    import random

    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(stream)), k=min(len(stream) - 1, rng.randint(0, 6))))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    by_events, by_data = SSEDecoder(), SSEDecoder()
    events = [event.data for piece in pieces for event in by_events.feed(piece)]
    assert [data for piece in pieces for data in by_data.feed_data(piece)] == events


def test_feed_data_keeps_the_size_limit() -> None:
    decoder = SSEDecoder(max_size=10)
    with pytest.raises(EventTooLarge):
        decoder.feed_data(b"data: " + b"x" * 20 + b"\n\n")
