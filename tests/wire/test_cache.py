"""Record once against the server, replay offline: the same output, no request, no key."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_KEY

from gmi_magics import Conversation, GMIClient
from gmi_magics.errors import ConfigurationError, GMIError, StreamError
from gmi_magics.testing import DISCONNECT, DONE, chunk, endless, reply, sse, status
from gmi_magics.wire.cache import FORMAT


def test_record_then_replay_gives_the_same_reply_without_the_network(shell, server, tmp_path):
    shell.config(cache="record", cache_dir=str(tmp_path))
    server.enqueue(reply(["# Recorded\n\n", "answer"], reasoning="thinking"))
    recorded = shell.run("%%gmi --no-history\nExplain caching")
    assert recorded.success and "<h1>Recorded</h1>" in recorded.last_html
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    assert TEST_KEY not in files[0].read_text() and "authorization" not in files[0].read_text()

    shell.config(cache="replay")
    before = len(server.chat_requests)
    replayed = shell.run("%%gmi --no-history\nExplain caching")
    assert replayed.success, replayed.everything
    assert len(server.chat_requests) == before, "replay must not touch the network"
    assert "<h1>Recorded</h1>" in replayed.last_html and "Thinking" in replayed.last_html


def test_replay_miss_is_one_clear_error_and_sends_nothing(shell, server, tmp_path):
    shell.config(cache="replay", cache_dir=str(tmp_path))
    result = shell.run("%%gmi\nNever recorded")
    assert not result.success and type(result.error).__name__ == "ReplayMissError"
    assert "Traceback" not in result.stdout + result.stderr
    assert not server.chat_requests
    assert shell.conversation.turns == []


def test_a_different_request_is_a_different_recording(server, tmp_path):
    with GMIClient(base_url=server.base_url, cache="auto", cache_dir=tmp_path) as client:
        chat = Conversation(client)
        server.enqueue(reply("one"), reply("two"))
        assert chat.send("first", history=False).text == "one"
        assert chat.send("first", history=False, temperature=0).text == "two"
        assert chat.send("first", history=False).text == "one"  # replayed
    assert len(server.chat_requests) == 2
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_errors_and_broken_streams_are_not_recorded(server, tmp_path):
    with GMIClient(
        base_url=server.base_url, cache="record", cache_dir=tmp_path, max_retries=0
    ) as c:
        chat = Conversation(c)
        server.enqueue(status(500, "boom"), sse(chunk("half"), DISCONNECT))
        for _ in range(2):
            try:
                chat.send("x", history=False)
            except Exception as error:
                assert type(error).__name__ in ("ServerError", "StreamError")
    assert list(tmp_path.glob("*.json")) == []


def test_a_damaged_recording_is_reported(server, tmp_path):
    path = _recorded(server, tmp_path)
    path.write_text(json.dumps({"format": "something else"}))
    with GMIClient(base_url=server.base_url, cache="replay", cache_dir=tmp_path) as client:
        try:
            Conversation(client).send("q", history=False)
        except Exception as error:
            assert "damaged" in str(error)
        else:
            raise AssertionError("a damaged recording must not be replayed")


# --- only replies the client accepted are recorded ----------------------------------

BROKEN_STREAMS = {
    "truncated": sse(chunk("half")),
    "error-then-done": sse(chunk("half"), {"error": {"message": "overloaded"}}, DONE),
    "malformed-then-done": sse(chunk("half"), "data: {not json\n\n", DONE),
    "done-only": sse(DONE),
    "nested-then-done": sse(chunk("half"), "data: " + "[" * 100_000 + "\n\n", DONE),
}


@pytest.mark.parametrize("script", BROKEN_STREAMS.values(), ids=BROKEN_STREAMS.keys())
def test_a_broken_stream_is_not_recorded_and_auto_asks_again(server, tmp_path, script):
    with GMIClient(
        base_url=server.base_url, cache="auto", cache_dir=tmp_path, max_retries=0
    ) as client:
        chat = Conversation(client)
        server.enqueue(script, reply("good answer"))
        with pytest.raises(StreamError):
            chat.send("q", history=False)
        assert list(tmp_path.glob("*.json")) == []
        assert chat.send("q", history=False).text == "good answer"  # not the failure again
        assert chat.send("q", history=False).text == "good answer"  # now replayed
    assert len(server.chat_requests) == 2
    assert len(list(tmp_path.glob("*.json"))) == 1


BROKEN_BODIES = {
    "not-json": status(200, "<html>oops</html>", content_type="application/json"),
    "error-object": status(200, {"error": {"message": "overloaded"}}),
    "nested": status(200, "[" * 100_000, content_type="application/json"),
    "not-an-object": status(200, "[1, 2]", content_type="application/json"),
}


@pytest.mark.parametrize("script", BROKEN_BODIES.values(), ids=BROKEN_BODIES.keys())
def test_a_broken_non_streamed_reply_is_not_recorded(server, tmp_path, script):
    with GMIClient(
        base_url=server.base_url, cache="auto", cache_dir=tmp_path, max_retries=0
    ) as client:
        chat = Conversation(client)
        server.enqueue(script, reply("good answer"))
        with pytest.raises(GMIError):
            chat.send("q", history=False, stream=False)
        assert list(tmp_path.glob("*.json")) == []
        assert chat.send("q", history=False, stream=False).text == "good answer"


def test_a_gzip_encoded_reply_is_recorded_decoded(server, tmp_path):
    from gmi_magics.standin_encoders import completion

    body = completion(reply("zipped"), {}, "m")
    with GMIClient(base_url=server.base_url, cache="auto", cache_dir=tmp_path) as client:
        server.enqueue(status(200, body, gzip=True))
        assert Conversation(client).send("q", history=False, stream=False).text == "zipped"
    with GMIClient(base_url=server.base_url, cache="replay", cache_dir=tmp_path) as client:
        assert Conversation(client).send("q", history=False, stream=False).text == "zipped"


def test_a_stream_cut_at_the_size_cap_is_not_recorded(server, tmp_path):
    with GMIClient(
        base_url=server.base_url, cache="record", cache_dir=tmp_path, max_reply_bytes=1 << 16
    ) as client:
        server.enqueue(endless(seconds=10))
        with pytest.raises(StreamError):
            Conversation(client).send("q", history=False)
    assert list(tmp_path.glob("*.json")) == []


# --- recordings read back are hostile ----------------------------------------------


def _recorded(server, tmp_path):
    with GMIClient(base_url=server.base_url, cache="record", cache_dir=tmp_path) as client:
        server.enqueue(reply("kept"))
        Conversation(client).send("q", history=False)
    (path,) = tmp_path.glob("*.json")
    return path


def _valid_record(body: str) -> str:
    return json.dumps({"format": FORMAT, "status": 200, "headers": {}, "body": body})


HOSTILE_FILES = {
    "nested": lambda: "[" * 1_000_000,
    "nested-body": lambda: _valid_record("data: " + "{" * 100_000 + "\n\n"),
    "garbage": lambda: "\x00\xff garbage",
    "wrong-types": lambda: json.dumps({"format": FORMAT, "status": "x", "headers": 1, "body": 2}),
    "status-out-of-range": lambda: json.dumps(
        {"format": FORMAT, "status": 99999, "headers": {}, "body": ""}
    ),
    "broken-stream": lambda: _valid_record('data: {"error": "boom"}\n\ndata: [DONE]\n\n'),
    "huge": lambda: _valid_record("x" * (3 << 20)),  # the cap below: 16 × 64 KB
    "nan": lambda: '{"format": NaN}',
}


@pytest.mark.parametrize("make", HOSTILE_FILES.values(), ids=HOSTILE_FILES.keys())
def test_a_hostile_recording_is_one_line_in_replay_and_refetched_in_auto(server, tmp_path, make):
    small = {"max_reply_bytes": 1 << 16}
    path = _recorded(server, tmp_path)
    path.write_text(make(), encoding="utf-8", errors="surrogateescape")
    replaying = GMIClient(base_url=server.base_url, cache="replay", cache_dir=tmp_path, **small)
    with replaying as client, pytest.raises(ConfigurationError) as caught:
        Conversation(client).send("q", history=False)
    assert "damaged" in caught.value.message and "\n" not in caught.value.message
    with GMIClient(base_url=server.base_url, cache="auto", cache_dir=tmp_path, **small) as client:
        server.enqueue(reply("fresh"))
        assert Conversation(client).send("q", history=False).text == "fresh"
    with GMIClient(base_url=server.base_url, cache="replay", cache_dir=tmp_path, **small) as client:
        assert Conversation(client).send("q", history=False).text == "fresh"  # re-recorded


def test_a_hostile_recording_in_a_cell_is_one_line(shell, server, tmp_path):
    shell.config(cache="record", cache_dir=str(tmp_path))
    server.enqueue(reply("kept"))
    assert shell.run("%%gmi --no-history\nq").success
    (path,) = tmp_path.glob("*.json")
    path.write_text("[" * 1_000_000)
    shell.config(cache="replay")
    result = shell.run("%%gmi --no-history\nq")
    assert not result.success and "damaged" in str(result.error)
    assert "Traceback" not in result.stdout + result.stderr
    assert "RecursionError" not in result.everything


def test_an_endless_line_in_cache_mode_stops_at_the_cap(server, tmp_path):
    server.enqueue(endless(b"x" * 65536, prefix=b"data: ", seconds=10))
    with (
        GMIClient(
            base_url=server.base_url, cache="auto", cache_dir=tmp_path, max_reply_bytes=1 << 20
        ) as client,
        pytest.raises(StreamError) as caught,
    ):
        Conversation(client).send("q", history=False)
    assert "passed the 1 MB limit" in caught.value.message
    assert list(tmp_path.glob("*.json")) == []
