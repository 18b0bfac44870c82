"""Record once against the server, replay offline: the same output, no request, no key."""

from __future__ import annotations

import json

from conftest import TEST_KEY

from gmi_magics import Conversation, GMIClient
from gmi_magics.testing import DISCONNECT, chunk, reply, sse, status


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
    with GMIClient(base_url=server.base_url, cache="record", cache_dir=tmp_path) as client:
        server.enqueue(reply("kept"))
        Conversation(client).send("q", history=False)
    (path,) = tmp_path.glob("*.json")
    path.write_text(json.dumps({"format": "something else"}))
    with GMIClient(base_url=server.base_url, cache="replay", cache_dir=tmp_path) as client:
        try:
            Conversation(client).send("q", history=False)
        except Exception as error:
            assert "damaged" in str(error)
        else:
            raise AssertionError("a damaged recording must not be replayed")
