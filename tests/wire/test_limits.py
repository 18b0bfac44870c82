"""Size caps and the deadline on every read path, over real HTTP to the stand-in server.

A reply that never ends, a gzip bomb, a body trickled one byte at a time: each ends in
one clear error, quickly, with bounded memory, whichever path reads it (streamed reply,
non-streamed reply, ``/models``, an error body).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from gmi_magics import GMIClient
from gmi_magics.errors import APITimeoutError, ServerError, StreamError
from gmi_magics.settings import DEFAULT_MAX_REPLY_BYTES
from gmi_magics.standin_encoders import completion
from gmi_magics.standin_scripts import encode_item
from gmi_magics.testing import (
    StandInServer,
    chunk,
    delay,
    endless,
    gzip_bomb,
    reply,
    sse,
    status,
)
from gmi_magics.wire.limits import human_size

MB = 1 << 20
MESSAGES = [{"role": "user", "content": "go"}]
MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"


def client(server: StandInServer, **options: Any) -> GMIClient:
    return GMIClient(base_url=server.base_url, max_retries=0, **options)


def drain(gmi: GMIClient) -> str:
    """Stream a reply to the end; the text received before any error is kept."""
    parts: list[str] = []
    try:
        for delta in gmi.stream_chat(MESSAGES, model=MODEL):
            parts.append(delta.content)
    except StreamError as error:
        error.args = (error.message, "".join(parts))
        raise
    return "".join(parts)


def test_the_default_cap_is_a_few_megabytes() -> None:
    assert 1 * MB <= DEFAULT_MAX_REPLY_BYTES <= 16 * MB
    assert human_size(4 * MB) == "4 MB" and human_size(1536 * 1024) == "1.5 MB"
    assert human_size(64 * 1024) == "64 KB" and human_size(900) == "900 bytes"


# --- streamed replies ------------------------------------------------------------


def test_an_endless_fast_stream_stops_at_the_cap(server: StandInServer) -> None:
    server.enqueue(endless(seconds=20))
    started = time.monotonic()
    with client(server, timeout=6, max_reply_bytes=MB) as gmi, pytest.raises(StreamError) as caught:
        drain(gmi)
    assert time.monotonic() - started < 3
    assert caught.value.message.startswith("The reply passed the 1 MB limit")
    assert "GMIMagics.max_reply_bytes" in caught.value.message
    assert len(caught.value.args[1]) == MB  # the partial text is kept, cut at the cap


def test_reasoning_and_tool_arguments_count_towards_the_cap(server: StandInServer) -> None:
    thinking = chunk(reasoning="r" * 1000)
    call = chunk(tool_calls=[{"index": 0, "function": {"arguments": "a" * 1000}}])
    for item in (thinking, call):
        server.enqueue(endless(sse(item).items[0], seconds=20))  # type: ignore[arg-type]
        with client(server, max_reply_bytes=MB) as gmi, pytest.raises(StreamError) as caught:
            drain(gmi)
        assert "passed the 1 MB limit" in caught.value.message


def test_a_stream_of_empty_chunks_is_bounded_too(server: StandInServer) -> None:
    server.enqueue(endless(chunk(""), seconds=20))
    with client(server, max_reply_bytes=64 * 1024) as gmi, pytest.raises(StreamError) as caught:
        drain(gmi)
    assert "The reply stream passed the 1 MB limit (16 × GMIMagics.max_reply_bytes)" in str(
        caught.value
    )


@pytest.mark.parametrize(
    "script",
    [
        endless(b"x" * 65536, prefix=b"data: ", seconds=20),  # one line that never ends
        endless(b"data: x\n", seconds=20),  # one event of endless data lines
        endless(b": keep-alive comment without end " * 100, prefix=b":", seconds=20),
    ],
    ids=["line", "event", "comment"],
)
def test_one_endless_line_or_event_stops_at_the_cap(server: StandInServer, script: Any) -> None:
    server.enqueue(script)
    started = time.monotonic()
    with client(server, max_reply_bytes=MB) as gmi, pytest.raises(StreamError) as caught:
        drain(gmi)
    assert time.monotonic() - started < 3
    assert "passed the 1 MB limit (GMIMagics.max_reply_bytes)" in caught.value.message


def test_a_reply_just_under_the_cap_is_fine(server: StandInServer) -> None:
    server.enqueue(reply(["y" * 1000] * 60))
    with client(server, max_reply_bytes=64 * 1024) as gmi:
        assert len(drain(gmi)) == 60_000


def test_a_stream_trickled_byte_by_byte_meets_the_deadline(server: StandInServer) -> None:
    raw = b"".join(encode_item(chunk("x")) for _ in range(20))
    server.enqueue(sse(*[item for byte in raw for item in (bytes([byte]), delay(0.01))]))
    started = time.monotonic()
    with client(server, timeout=1.5) as gmi, pytest.raises(APITimeoutError):
        drain(gmi)
    assert time.monotonic() - started < 3


# --- whole bodies: non-streamed reply, /models, error bodies ------------------------


def test_a_gzip_bomb_as_the_non_streamed_reply_stops_at_the_cap(server: StandInServer) -> None:
    bomb = gzip_bomb(1 << 30, prefix=b'{"choices":[{"message":{"content":"')
    assert len(bomb) < 2 * MB
    gzipped = {"Content-Encoding": "gzip"}
    server.enqueue(status(200, bomb, headers=gzipped, content_type="application/json"))
    started = time.monotonic()
    with client(server) as gmi, pytest.raises(StreamError) as caught:
        gmi.chat(MESSAGES, model=MODEL)
    assert time.monotonic() - started < 5
    assert caught.value.message.startswith("The reply passed the 4 MB limit")


def test_a_gzip_bomb_as_the_models_list_stops_at_the_cap(server: StandInServer) -> None:
    bomb = gzip_bomb(256 * MB, prefix=b'{"data":[{"id":"')
    server.enqueue_models(
        status(200, bomb, headers={"Content-Encoding": "gzip"}, content_type="application/json")
    )
    with client(server, max_reply_bytes=MB) as gmi, pytest.raises(StreamError) as caught:
        gmi.list_models()
    assert "passed the 1 MB limit" in caught.value.message


def test_a_gzip_bomb_as_an_error_body_is_clipped(server: StandInServer) -> None:
    bomb = gzip_bomb(256 * MB, prefix=b'{"error":{"message":"')
    server.enqueue(status(500, bomb, headers={"Content-Encoding": "gzip"}))
    started = time.monotonic()
    with client(server) as gmi, pytest.raises(ServerError) as caught:
        gmi.chat(MESSAGES, model=MODEL)
    assert time.monotonic() - started < 5
    assert caught.value.message.startswith("HTTP 500")


def test_a_gzip_encoded_reply_is_read_normally(server: StandInServer) -> None:
    body = completion(reply("zipped"), {}, MODEL)
    server.enqueue(status(200, body, gzip=True))
    with client(server) as gmi:
        assert gmi.chat(MESSAGES, model=MODEL).content == "zipped"
    assert server.last_request.headers.get("accept-encoding")


def test_a_reply_body_over_the_cap_is_refused(server: StandInServer) -> None:
    server.enqueue(reply("z" * (2 * MB)))
    with client(server, max_reply_bytes=MB) as gmi, pytest.raises(StreamError) as caught:
        gmi.chat(MESSAGES, model=MODEL)
    assert "passed the 1 MB limit" in caught.value.message


@pytest.mark.parametrize("path", ["reply", "models", "error"])
def test_a_trickled_body_meets_the_deadline(server: StandInServer, path: str) -> None:
    trickled = status(200 if path != "error" else 500, {"padding": "p" * 200}, trickle=0.02)
    if path == "models":
        server.enqueue_models(trickled)
    else:
        server.enqueue(trickled)
    started = time.monotonic()
    with client(server, timeout=1.5) as gmi:
        call = gmi.list_models if path == "models" else lambda: gmi.chat(MESSAGES, model=MODEL)
        expected = ServerError if path == "error" else APITimeoutError
        with pytest.raises(expected):
            call()
    assert time.monotonic() - started < 3


# --- what the user sees ------------------------------------------------------------


def test_an_endless_stream_in_a_cell_is_one_line_and_keeps_history(shell: Any, server: Any) -> None:
    server.enqueue(reply("kept answer"))
    assert shell.run("%%gmi\nfirst").success
    before = list(shell.conversation.turns)
    server.enqueue(endless(seconds=30))
    started = time.monotonic()
    result = shell.run("%%gmi\nnever stop")
    assert time.monotonic() - started < 10
    assert not result.success and isinstance(result.error, StreamError)
    assert "The reply passed the 4 MB limit (GMIMagics.max_reply_bytes)" in str(result.error)
    assert "Traceback" not in result.stdout + result.stderr
    assert "broke off" in result.everything and "xxxxxxxx" in result.everything  # partial shown
    assert shell.conversation.turns == before


def test_a_gzip_bomb_from_models_is_one_line_in_a_cell(shell: Any, server: Any) -> None:
    bomb = gzip_bomb(256 * MB, prefix=b'{"data":[{"id":"')
    gzipped = {"Content-Encoding": "gzip"}
    server.enqueue_models(status(200, bomb, headers=gzipped, content_type="application/json"))
    result = shell.run("%gmi models")
    assert not result.success and isinstance(result.error, StreamError)
    assert "passed the 4 MB limit" in str(result.error)
    assert "Traceback" not in result.stdout + result.stderr


def test_a_burst_that_passes_the_cap_keeps_what_fits_of_a_wide_character(
    server: StandInServer,
) -> None:
    server.enqueue(reply(["é" * 100] * 100))  # 200 bytes a piece, sent at once
    with (
        client(server, timeout=6, max_reply_bytes=10_001) as gmi,
        pytest.raises(StreamError) as caught,
    ):
        drain(gmi)
    assert caught.value.message.startswith("The reply passed the 9.77 KB limit")
    assert caught.value.args[1] == "é" * 5_000  # whole characters, within 10,001 bytes
