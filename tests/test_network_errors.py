"""Refused connections, deadlines and broken streams: one clear message, history untouched."""

from __future__ import annotations

import socket
import time

import pytest
from helpers import (
    assert_clear_error,
    assert_history_unchanged,
    assert_next_cell_works,
    assert_one_clear_line,
    assert_recovers,
    run_failure,
    seed,
)

from gmi_magics.testing import DISCONNECT, DONE, chunk, delay, hang, sse


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused(shell, server, monkeypatch):
    before = seed(shell, server)
    shell.config(max_retries=1)
    monkeypatch.setenv("GMI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    assert time.monotonic() - started < 5
    assert_clear_error(result, "APIConnectionError", "127.0.0.1", "base_url")
    assert_history_unchanged(shell, before)
    monkeypatch.setenv("GMI_BASE_URL", server.base_url)
    assert_next_cell_works(shell, server, before)


def test_deadline_with_keepalives_only(shell, server):
    before = seed(shell, server)
    shell.config(timeout=1.0)
    server.enqueue(hang(5))
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed <= 3.0, elapsed
    assert_clear_error(result, "APITimeoutError", "timeout")
    assert_recovers(shell, server, before)


def test_deadline_before_any_response(shell, server):
    before = seed(shell, server)
    shell.config(timeout=1.0)
    server.enqueue(delay(5))  # no status line for 5 s
    count = len(server.chat_requests)
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    assert 0.9 <= time.monotonic() - started <= 3.0
    assert_clear_error(result, "APITimeoutError", "timeout")
    assert len(server.chat_requests) - count == 1  # no retry past the deadline
    assert_recovers(shell, server, before)


def test_silent_server_hits_the_deadline(shell, server):
    before = seed(shell, server)
    shell.config(timeout=1.0)
    server.enqueue(sse(chunk("Slow "), delay(4)))  # some text, then silence
    started = time.monotonic()
    result = shell.run("%%gmi\nDoomed question")
    assert 0.9 <= time.monotonic() - started <= 3.0
    assert_clear_error(result, "APITimeoutError")
    assert "Slow" in result.last_html  # the partial text stays visible
    assert_recovers(shell, server, before)


def test_no_stream_read_timeout_is_one_line(shell, server):
    shell.config(timeout=1.0, max_retries=0)
    server.enqueue(sse(delay(3)))
    assert_one_clear_line(shell.run("%%gmi --no-stream\nSlow?"), "APITimeoutError")


def test_disconnect_mid_stream(shell, server):
    result, before, requests = run_failure(
        shell, server, sse(chunk("The first half "), chunk("of an answer"), DISCONNECT)
    )
    assert_clear_error(result, "StreamError", "connection dropped")
    assert "The first half of an answer" in result.last_html
    assert "The first half of an answer" in result.outputs[-1]["text/plain"]
    assert requests == 1  # never retried once the stream started
    assert_recovers(shell, server, before)


def test_no_stream_disconnect_is_one_line(shell, server):
    shell.config(max_retries=0)
    server.enqueue(sse(chunk("x"), DISCONNECT))
    assert_one_clear_line(shell.run("%%gmi --no-stream\nCut?"), "StreamError")


@pytest.mark.parametrize(
    "event",
    [
        {"error": {"message": "overloaded", "type": "server_error", "code": 503}},
        {"object": "error", "message": "overloaded", "type": "ServiceUnavailable", "code": 503},
    ],
    ids=["nested", "flat"],
)
def test_error_event_mid_stream(shell, server, event):
    result, before, requests = run_failure(shell, server, sse(chunk("Some text "), event, DONE))
    assert_clear_error(result, "StreamError", "overloaded")
    assert "Some text" in result.last_html
    assert requests == 1
    assert_recovers(shell, server, before)


def test_malformed_json_chunk(shell, server):
    result, before, requests = run_failure(
        shell, server, sse(chunk("Fine so far"), "data: {not json\n\n", DONE)
    )
    assert_clear_error(result, "StreamError", "malformed")
    assert requests == 1
    assert_recovers(shell, server, before)


def test_stream_ending_without_finish_reason_or_done(shell, server):
    result, before, _ = run_failure(shell, server, sse(chunk("Cut "), chunk("short")))
    assert_clear_error(result, "StreamError", "ended before")
    assert "Cut short" in result.last_html
    assert_recovers(shell, server, before)


def test_stream_with_finish_reason_but_no_done_succeeds(shell, server):
    before = seed(shell, server)
    server.enqueue(sse(chunk("Complete "), chunk("answer"), chunk(finish_reason="stop")))
    result = shell.run("%%gmi\nQuestion")
    assert result.success, result.everything
    assert "Complete answer" in result.last_html
    assert "Error" not in result.stdout + result.stderr + result.plain
    assert len(shell.conversation.turns) == len(before) + 1
    assert shell.conversation.turns[-1].reply.text == "Complete answer"
