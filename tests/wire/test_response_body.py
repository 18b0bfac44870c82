"""Reading a reply stream (gmi_magics.wire.response_body): chunks that arrived together
are decoded together; a stream at a model's pace is delivered as it comes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from helpers import DEFAULT_MODEL, HELLO

from gmi_magics.errors import StreamError
from gmi_magics.testing import DONE, StandInServer, chunk, delay, reply, sse
from gmi_magics.wire.client import GMIClient
from gmi_magics.wire.response_body import coalesced


@pytest.fixture
def client(server: StandInServer) -> Iterator[GMIClient]:
    with GMIClient(base_url=server.base_url, max_retries=0) as gmi:
        yield gmi


def arrivals(pattern: list[tuple[float, bytes]]) -> Iterator[bytes]:
    """Chunks, each after a pause (seconds; 0 = already there)."""
    for pause, raw in pattern:
        if pause:
            time.sleep(pause)
        yield raw


def test_chunks_read_without_waiting_are_joined_with_the_next_awaited_one() -> None:
    pattern = [(0, b"a"), (0.02, b"b"), (0, b"c"), (0, b"d"), (0.02, b"e"), (0, b"f")]
    assert list(coalesced(arrivals(pattern))) == [b"a", b"b", b"cde", b"f"]


def test_the_first_chunk_goes_out_alone_even_when_more_are_there() -> None:
    assert list(coalesced(arrivals([(0, b"a"), (0, b"b"), (0, b"c")]))) == [b"a", b"bc"]


@pytest.mark.parametrize("failure", [OSError("dropped"), KeyboardInterrupt()])
def test_held_chunks_come_out_before_a_failure(failure: BaseException) -> None:
    def failing() -> Iterator[bytes]:
        yield b"a"
        yield b"b"
        raise failure

    got = []
    with pytest.raises(type(failure)):
        for group in coalesced(failing()):
            got.append(group)
    assert got == [b"a", b"b"]


def test_a_paced_stream_is_delivered_as_it_arrives(client, server) -> None:
    server.enqueue(
        sse(
            chunk("A"),
            delay(0.4),
            chunk("B"),
            delay(0.4),
            chunk("C"),
            chunk(finish_reason="stop"),
            DONE,
        )
    )
    started = time.monotonic()
    seen = {
        delta.content: time.monotonic() - started
        for delta in client.stream_chat(HELLO, model=DEFAULT_MODEL)
        if delta.content
    }
    assert seen["A"] < 0.3, seen  # not held back until B came
    assert 0.3 < seen["B"] < 0.7, seen
    assert seen["C"] > 0.7, seen


def test_a_burst_reads_whole_and_in_order(client, server) -> None:
    pieces = [f"w{i} " for i in range(3_000)]
    server.enqueue(reply(pieces))
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert "".join(d.content for d in deltas) == "".join(pieces)
    assert sum(d.finish_reason == "stop" for d in deltas) == 1
    assert len(deltas) < 300  # the text of chunks read together comes out together


def test_text_read_together_is_joined_but_never_across_a_tool_call_or_a_model(
    client, server
) -> None:
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
    server.enqueue(
        sse(
            chunk("A"),
            chunk("B", reasoning="r"),
            chunk(tool_calls=[call]),
            chunk("C"),
            chunk("D", model="other"),
            chunk("E", model="other"),
            chunk(finish_reason="stop"),
            DONE,
        )
    )
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    at = next(i for i, d in enumerate(deltas) if d.tool_calls)
    assert "".join(d.content for d in deltas[:at]) == "AB"
    assert "".join(d.reasoning for d in deltas[:at]) == "r"
    assert deltas[at].tool_calls[0].name == "f" and not deltas[at].content
    after = deltas[at + 1 :]
    assert "".join(d.content for d in after) == "CDE"
    assert {d.content for d in after if d.model == "stand-in" and d.content} == {"C"}
    assert "".join(d.content for d in after if d.model == "other") == "DE"
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]


def test_text_read_before_malformed_data_is_kept(client, server) -> None:
    server.enqueue(sse(chunk("A"), chunk("B"), chunk("C"), "data: {not json\n\n", DONE))
    seen: list[str] = []
    with pytest.raises(StreamError, match="malformed"):
        for delta in client.stream_chat(HELLO, model=DEFAULT_MODEL):
            seen.append(delta.content)
    assert "".join(seen) == "ABC"
