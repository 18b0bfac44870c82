"""The plain-Python core (``GMIClient``, ``Conversation``) over real HTTP, no IPython."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import TEST_KEY
from helpers import DEFAULT_MODEL, HELLO, NO_WAIT_MS

from gmi_magics import Conversation, GMIClient, ReplyInterrupted
from gmi_magics.errors import (
    APIConnectionError,
    MissingKeyError,
    RateLimitError,
    ServerError,
    StreamError,
)
from gmi_magics.testing import (
    DISCONNECT,
    DONE,
    KEEPALIVE,
    StandInServer,
    chunk,
    delay,
    reply,
    sse,
    status,
)


@pytest.fixture
def client(server: StandInServer) -> Iterator[GMIClient]:
    with GMIClient(base_url=server.base_url, max_retries=2) as gmi:
        yield gmi


@pytest.fixture
def conversation(client: GMIClient) -> Conversation:
    return Conversation(client, model=DEFAULT_MODEL)


# --- requests and replies ----------------------------------------------------------------


def test_stream_chat_yields_deltas_in_order(client, server):
    server.enqueue(reply(["Hel", "lo", " there"], chunk_delay=0.05))
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert "".join(d.content for d in deltas) == "Hello there"
    assert [d.content for d in deltas if d.content] == ["Hel", "lo", " there"]
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert len(server.chat_requests) == 1


def test_streaming_request_body_and_headers(client, server):
    server.enqueue(reply("ok"))
    list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    request = server.last_request
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.json["model"] == DEFAULT_MODEL
    assert request.json["messages"] == HELLO
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}


def test_temperature_zero_is_sent_and_none_params_are_omitted(client, server):
    server.enqueue(reply("ok"))
    list(client.stream_chat(HELLO, model=DEFAULT_MODEL, temperature=0, max_tokens=None, top_p=None))
    body = server.last_request.json
    assert "temperature" in body and body["temperature"] == 0
    assert "max_tokens" not in body
    assert "top_p" not in body
    assert re.search(rb'"temperature":\s*0[,}]', server.last_request.body)


def test_params_are_sent_as_given(client, server):
    server.enqueue(reply("ok"))
    list(
        client.stream_chat(HELLO, model=DEFAULT_MODEL, temperature=0.7, max_tokens=64, stop=["\n"])
    )
    body = server.last_request.json
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.7, 64, ["\n"])


def test_chat_non_streaming(client, server):
    server.enqueue(reply("The whole reply at once.", reasoning="thought about it"))
    delta = client.chat(HELLO, model=DEFAULT_MODEL, temperature=0)
    assert delta.content == "The whole reply at once."
    assert delta.reasoning == "thought about it"
    assert delta.finish_reason == "stop"
    assert delta.usage is not None and delta.usage.total_tokens > 0
    body = server.last_request.json
    assert body["stream"] is False
    assert "stream_options" not in body
    assert body["temperature"] == 0
    assert server.last_request.headers["authorization"] == f"Bearer {TEST_KEY}"


def test_list_models(client, server):
    server.models = ["z-org/Zeta", "a-org/Alpha", "m-org/Mid"]
    assert client.list_models() == ["a-org/Alpha", "m-org/Mid", "z-org/Zeta"]
    request = server.last_request
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize("suffix", ["/", "//"])
def test_base_url_trailing_slash_is_safe(server, suffix):
    server.enqueue(reply("ok"))
    with GMIClient(base_url=server.base_url + suffix) as gmi:
        assert "".join(d.content for d in gmi.stream_chat(HELLO, model=DEFAULT_MODEL)) == "ok"
        assert gmi.list_models()
    paths = [r.path for r in server.requests]
    assert paths == ["/v1/chat/completions", "/v1/models"]


def test_base_url_from_environment(server):
    server.enqueue(reply("from env"))
    with GMIClient() as gmi:  # GMI_BASE_URL points at the stand-in server
        assert gmi.base_url == server.base_url
        assert "".join(d.content for d in gmi.stream_chat(HELLO, model=DEFAULT_MODEL)) == "from env"


# --- usage, keep-alives, reasoning --------------------------------------------------------

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


@pytest.mark.parametrize("mode", ["separate", "last"])
def test_usage_is_parsed_wherever_it_arrives(conversation, server, mode):
    server.enqueue(reply("Three words here", usage=USAGE, usage_mode=mode))
    answer = conversation.send("Count")
    assert answer.text == "Three words here"
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (7, 3)
    assert answer.usage.total_tokens == 10


def test_usage_on_an_empty_choices_chunk_via_raw_sse(conversation, server):
    server.enqueue(
        sse(
            chunk("Hi"),
            chunk(finish_reason="stop"),
            chunk(empty_choices=True, usage={**USAGE, "completion_tokens_details": {}}),
            DONE,
        )
    )
    answer = conversation.send("Hello")
    assert answer.text == "Hi"
    assert answer.usage is not None and answer.usage.total_tokens == 10


def test_keepalive_comments_are_ignored(conversation, server):
    server.enqueue(
        sse(
            KEEPALIVE,
            KEEPALIVE,
            chunk("Hel"),
            KEEPALIVE,
            ": another comment\n\n",
            "\n\n",
            chunk("lo"),
            KEEPALIVE,
            chunk(finish_reason="stop"),
            KEEPALIVE,
            DONE,
        )
    )
    assert conversation.send("Hi").text == "Hello"
    server.enqueue(reply("Yes", keepalives=5))
    assert conversation.send("Again?").text == "Yes"


def test_reasoning_content_goes_to_reasoning(conversation, server):
    server.enqueue(reply(["The ", "answer."], reasoning=["Let me ", "think."]))
    answer = conversation.send("Q")
    assert answer.reasoning == "Let me think."
    assert answer.text == "The answer."


def test_reasoning_field_goes_to_reasoning(conversation, server):
    def piece(**delta):
        return {"id": "x", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip

    server.enqueue(
        sse(
            piece(reasoning="Pondering "),
            piece(reasoning="deeply."),
            piece(content="Forty-two."),
            chunk(finish_reason="stop"),
            DONE,
        )
    )
    answer = conversation.send("Meaning of life?")
    assert answer.reasoning == "Pondering deeply."
    assert answer.text == "Forty-two."


def test_inline_think_tags_split_across_chunks_go_to_reasoning(conversation, server):
    server.enqueue(
        sse(
            chunk("<th"),
            chunk("ink>plan the "),
            chunk("reply</thi"),
            chunk("nk>Final "),
            chunk("answer"),
            chunk(finish_reason="stop"),
            DONE,
        )
    )
    seen = []
    answer = conversation.send("Q", on_delta=lambda d: seen.append(d))
    assert answer.reasoning == "plan the reply"
    assert answer.text == "Final answer"
    assert "<think>" not in answer.text and "think>" not in answer.text
    streamed_text = "".join(d.content for d in seen)
    assert "think" not in streamed_text
    assert "".join(d.reasoning for d in seen) == "plan the reply"


def test_reasoning_is_not_sent_back(conversation, server):
    server.enqueue(reply("Visible answer", reasoning="SECRET-CHAIN-OF-THOUGHT"))
    conversation.send("First")
    server.enqueue(sse(chunk("<think>INLINE-THOUGHT</think>Second"), chunk(finish_reason="stop")))
    conversation.send("Second?")
    server.enqueue(reply("Third"))
    conversation.send("Third?")
    body = server.last_request.json
    assert body["messages"] == [
        {"role": "user", "content": "First"},
        {"role": "assistant", "content": "Visible answer"},
        {"role": "user", "content": "Second?"},
        {"role": "assistant", "content": "Second"},
        {"role": "user", "content": "Third?"},
    ]
    raw = server.last_request.body
    assert b"SECRET-CHAIN-OF-THOUGHT" not in raw and b"INLINE-THOUGHT" not in raw
    assert b"reasoning" not in raw


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 500])
@pytest.mark.parametrize("max_retries", [0, 1, 2])
def test_retry_count(server, code, max_retries):
    failure = status(code, {"error": {"message": "busy"}}, headers=NO_WAIT_MS)
    server.enqueue(*[failure] * 3, reply("never reached"))
    expected = RateLimitError if code == 429 else ServerError
    gmi = GMIClient(base_url=server.base_url, max_retries=max_retries)
    with gmi, pytest.raises(expected) as caught:
        gmi.stream_chat(HELLO, model=DEFAULT_MODEL)
    assert len(server.chat_requests) == 1 + max_retries
    assert caught.value.status_code == code
    assert "busy" in caught.value.message
    if max_retries:
        assert f"after {max_retries} retr" in caught.value.message


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504])
def test_transient_failure_then_success(client, server, code):
    server.enqueue(status(code, "try again", headers=NO_WAIT_MS), reply("Got there"))
    text = "".join(d.content for d in client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert text == "Got there"
    assert len(server.chat_requests) == 2
    first, second = server.chat_requests
    assert first.json == second.json  # the same request, re-sent


@pytest.mark.parametrize("code", [400, 401, 402, 403, 404, 422])
def test_client_errors_are_not_retried(client, server, code):
    server.enqueue(status(code, {"error": {"message": "nope"}}), reply("never reached"))
    with pytest.raises(Exception) as caught:
        client.stream_chat(HELLO, model=DEFAULT_MODEL)
    assert getattr(caught.value, "status_code", None) == code
    assert len(server.chat_requests) == 1
    assert server.pending == 1


def test_retry_after_ms_is_honoured(client, server):
    server.enqueue(status(429, "slow down", headers={"retry-after-ms": "300"}), reply("ok"))
    started = time.monotonic()
    assert "".join(d.content for d in client.stream_chat(HELLO, model=DEFAULT_MODEL)) == "ok"
    assert time.monotonic() - started >= 0.3
    assert len(server.chat_requests) == 2


def test_retry_after_seconds_is_honoured(client, server):
    server.enqueue(status(503, "busy", headers={"Retry-After": "0.4"}), reply("ok"))
    started = time.monotonic()
    assert "".join(d.content for d in client.stream_chat(HELLO, model=DEFAULT_MODEL)) == "ok"
    assert time.monotonic() - started >= 0.4


def test_retry_after_beyond_two_minutes_is_not_retried(client, server):
    server.enqueue(status(429, "come back later", headers={"Retry-After": "1000"}), reply("no"))
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        client.stream_chat(HELLO, model=DEFAULT_MODEL)
    assert time.monotonic() - started < 2
    assert len(server.chat_requests) == 1


def test_x_should_retry_true_retries_a_400(client, server):
    server.enqueue(status(400, "flaky", headers={"x-should-retry": "true", **NO_WAIT_MS}))
    server.enqueue(reply("ok"))
    assert "".join(d.content for d in client.stream_chat(HELLO, model=DEFAULT_MODEL)) == "ok"
    assert len(server.chat_requests) == 2


def test_retry_that_would_pass_the_deadline_is_not_taken(server):
    server.enqueue(status(503, "busy", headers={"retry-after": "5"}), reply("no"))
    with GMIClient(base_url=server.base_url, timeout=1.0) as gmi:
        started = time.monotonic()
        with pytest.raises(ServerError):
            gmi.stream_chat(HELLO, model=DEFAULT_MODEL)
    assert time.monotonic() - started < 1.5
    assert len(server.chat_requests) == 1


def test_never_retried_once_the_stream_started(client, server):
    server.enqueue(sse(chunk("Partial "), chunk("text"), DISCONNECT), reply("must not be used"))
    received = []
    with pytest.raises(StreamError):
        for delta in client.stream_chat(HELLO, model=DEFAULT_MODEL):
            received.append(delta.content)
    assert "".join(received) == "Partial text"
    assert len(server.chat_requests) == 1
    assert server.pending == 1


def test_stream_that_ends_without_finish_reason_or_done_is_an_error(client, server):
    server.enqueue(sse(chunk("Hello"), chunk(" there")))
    with pytest.raises(StreamError, match="ended before"):
        list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert len(server.chat_requests) == 1


def test_stream_with_finish_reason_but_no_done_is_complete(client, server):
    server.enqueue(sse(chunk("Hello"), chunk(finish_reason="stop")))
    deltas = list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert "".join(d.content for d in deltas) == "Hello"


class _SlamServer:
    """Accepts connections and closes them at once (counting them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.recv(65536)
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        self._thread.join(timeout=2)


def test_connection_errors_before_the_first_byte_are_retried():
    slam = _SlamServer()
    try:
        gmi = GMIClient(base_url=f"http://127.0.0.1:{slam.port}/v1", max_retries=1)
        with gmi, pytest.raises(APIConnectionError) as caught:
            gmi.stream_chat(HELLO, model=DEFAULT_MODEL)
    finally:
        slam.close()
    assert slam.accepted == 2
    assert "127.0.0.1" in caught.value.message


def test_connection_refused_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gmi = GMIClient(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with gmi, pytest.raises(APIConnectionError) as caught:
        gmi.stream_chat(HELLO, model=DEFAULT_MODEL)
    assert "Could not reach 127.0.0.1" in caught.value.message
    assert caught.value.hint


# --- the key -------------------------------------------------------------------------------


def test_repr_never_contains_the_key(client, conversation, server):
    server.enqueue(reply("hi"))
    conversation.send(f"my key is not {TEST_KEY[:5]}")
    for text in (repr(client), str(client), repr(conversation), str(conversation)):
        assert TEST_KEY not in text
        assert TEST_KEY[8:-4] not in text
    assert client.masked_key == f"<hidden, {len(TEST_KEY)} chars>"  # no key character


def test_short_key_is_fully_masked(server):
    with GMIClient("short-key", base_url=server.base_url) as gmi:
        assert "short" not in repr(gmi) and "key" not in gmi.masked_key


def test_gmi_cloud_apikey_is_accepted(server, monkeypatch):
    monkeypatch.delenv("GMI_API_KEY")
    monkeypatch.setenv("GMI_CLOUD_APIKEY", "gmi-cloud-other-key-1234567890")
    server.enqueue(reply("ok"))
    with GMIClient() as gmi:
        list(gmi.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert server.last_request.headers["authorization"] == "Bearer gmi-cloud-other-key-1234567890"


def test_gmi_api_key_wins_over_gmi_cloud_apikey(client, server, monkeypatch):
    monkeypatch.setenv("GMI_CLOUD_APIKEY", "gmi-cloud-other-key-1234567890")
    server.enqueue(reply("ok"))
    with GMIClient() as gmi:
        list(gmi.stream_chat(HELLO, model=DEFAULT_MODEL))
    assert server.last_request.headers["authorization"] == f"Bearer {TEST_KEY}"


def test_missing_key_fails_before_any_request(server, monkeypatch):
    monkeypatch.delenv("GMI_API_KEY")
    monkeypatch.delenv("GMI_CLOUD_APIKEY", raising=False)
    with (
        GMIClient(base_url="https://api.gmi-serving.com/v1") as gmi,
        pytest.raises(MissingKeyError) as caught,
    ):
        gmi.stream_chat(HELLO, model=DEFAULT_MODEL)  # GMI Cloud needs a key (local servers: none)
    assert "GMI_API_KEY" in caught.value.message


@pytest.mark.parametrize(
    "script",
    [
        status(401, {"error": {"message": f"Incorrect API key provided: {TEST_KEY}"}}),
        status(403, f"key {TEST_KEY} may not use this model"),
        sse(chunk("Hi"), {"error": {"message": f"key {TEST_KEY} was revoked"}}, DONE),
    ],
    ids=["401-json", "403-text", "stream-error-event"],
)
def test_a_key_echoed_by_the_server_never_reaches_the_error(client, server, script):
    server.enqueue(script)
    with pytest.raises(Exception) as caught:
        list(client.stream_chat(HELLO, model=DEFAULT_MODEL))
    error = caught.value
    shown = [str(error), repr(error), error.message, "".join(error._render_traceback_())]
    assert not [text for text in shown if TEST_KEY in text]


# --- Conversation history rules ----------------------------------------------------------


def test_turn_is_added_only_when_the_reply_completes(conversation, server):
    server.enqueue(reply(["One ", "two ", "three"]))
    during = []
    answer = conversation.send("Count", on_delta=lambda _d: during.append(len(conversation.turns)))
    assert during and set(during) == {0}
    assert answer.text == "One two three"
    assert len(conversation.turns) == 1
    turn = conversation.turns[0]
    assert (turn.user, turn.reply.text, turn.interrupted) == ("Count", "One two three", False)


def test_history_is_sent_with_the_system_prompt(client, server):
    chat = Conversation(client, model=DEFAULT_MODEL, system="Be brief.")
    server.enqueue(reply("A1"), reply("A2"))
    chat.send("Q1")
    chat.send("Q2")
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]


@pytest.mark.parametrize(
    "failure",
    [
        status(400, {"error": {"message": "bad"}}),
        status(401, {"error": {"message": "bad key"}}),
        status(503, "down", headers={"x-should-retry": "false"}),
        sse(chunk("Partial"), DISCONNECT),
        sse(chunk("Partial"), {"error": {"message": "overloaded"}}),
        sse(chunk("Partial"), "data: {not json\n\n"),
        sse(chunk("Partial")),
    ],
    ids=["400", "401", "503", "disconnect", "error-event", "malformed", "truncated"],
)
def test_errors_leave_history_unchanged(conversation, server, failure):
    server.enqueue(reply("Good answer"))
    conversation.send("Good question")
    before = [(t.user, t.reply) for t in conversation.turns]
    server.enqueue(failure)
    with pytest.raises(Exception) as caught:
        conversation.send("Doomed question")
    assert [(t.user, t.reply) for t in conversation.turns] == before
    partial = getattr(caught.value, "partial", None)
    if isinstance(failure, type(sse())):
        assert partial is not None and partial.text == "Partial"
    server.enqueue(reply("Next answer"))
    conversation.send("Next question")
    assert [m["content"] for m in server.last_request.json["messages"]] == [
        "Good question",
        "Good answer",
        "Next question",
    ]


def test_interrupt_keeps_the_partial_reply_as_an_interrupted_turn(conversation, server):
    server.enqueue(reply("Seed"))
    conversation.send("Seed?")
    server.enqueue(reply([f"part{i} " for i in range(20)], chunk_delay=0.05))
    seen = []

    def on_delta(delta):
        seen.append(delta.content)
        if len([c for c in seen if c]) == 3:
            raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(ReplyInterrupted) as caught:
        conversation.send("Long answer please", on_delta=on_delta)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert time.monotonic() - started < 0.8  # stopped, not read to the end
    partial = caught.value.reply
    assert partial.interrupted is True
    assert partial.text == "part0 part1 part2"
    assert [(t.user, t.reply.text, t.interrupted) for t in conversation.turns] == [
        ("Seed?", "Seed", False),
        ("Long answer please", "part0 part1 part2", True),
    ]
    server.enqueue(reply("Next"))
    conversation.send("Go on")
    assert [m["content"] for m in server.last_request.json["messages"]] == [
        "Seed?",
        "Seed",
        "Long answer please",
        "part0 part1 part2",
        "Go on",
    ]
    conversation.undo()  # "Go on"
    dropped = conversation.undo()
    assert dropped is not None and dropped.interrupted and dropped.user == "Long answer please"
    assert [t.user for t in conversation.turns] == ["Seed?"]


def test_non_streaming_send_records_the_turn(conversation, server):
    server.enqueue(reply("Whole"))
    answer = conversation.send("Q", stream=False)
    assert answer.text == "Whole"
    assert server.last_request.json["stream"] is False
    assert [t.reply.text for t in conversation.turns] == ["Whole"]


def test_undo_and_reset(conversation, server):
    server.enqueue(reply("A1"), reply("A2"), reply("A3"))
    conversation.send("Q1")
    conversation.send("Q2")
    dropped = conversation.undo()
    assert dropped is not None and (dropped.user, dropped.reply.text) == ("Q2", "A2")
    assert [t.user for t in conversation.turns] == ["Q1"]
    conversation.send("Q3")
    assert [m["content"] for m in server.last_request.json["messages"]] == ["Q1", "A1", "Q3"]
    conversation.reset()
    assert conversation.turns == []
    assert conversation.undo() is None


def test_history_false_neither_sees_nor_joins(client, server):
    chat = Conversation(client, model=DEFAULT_MODEL, system="Sys")
    server.enqueue(reply("A1"), reply("Aside"), reply("A2"))
    chat.send("Q1")
    chat.send("One-off?", history=False)
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "Sys"},
        {"role": "user", "content": "One-off?"},
    ]
    assert [t.user for t in chat.turns] == ["Q1"]
    chat.send("Q2")
    assert [m["content"] for m in server.last_request.json["messages"]] == [
        "Sys",
        "Q1",
        "A1",
        "Q2",
    ]


def test_conversation_params_and_per_call_params(client, server):
    chat = Conversation(client, model=DEFAULT_MODEL, temperature=0)
    server.enqueue(reply("a"), reply("b"))
    chat.send("Q1")
    assert server.last_request.json["temperature"] == 0
    chat.send("Q2", temperature=0.9, max_tokens=10, model="Qwen/Qwen3-32B")
    body = server.last_request.json
    assert (body["temperature"], body["max_tokens"], body["model"]) == (0.9, 10, "Qwen/Qwen3-32B")


def test_slow_first_byte_is_waited_for(conversation, server):
    server.enqueue(delay(0.3))  # then the canned reply
    answer = conversation.send("Patience")
    assert "Patience" in answer.text
    assert answer.latency >= 0.3


# --- no IPython needed -------------------------------------------------------------------

SCRIPT = """
import sys
from gmi_magics import Conversation
chat = Conversation(model="deepseek-ai/DeepSeek-V3.2-Exp", system="Be brief.")
first = chat.send("Hello from a script")
second = chat.send("And again", stream=False)
assert len(chat.turns) == 2, chat.turns
print(json.dumps({
    "first": first.text,
    "second": second.text,
    "ipython": "IPython" in sys.modules,
    "ipywidgets": "ipywidgets" in sys.modules,
}))
"""


def test_core_works_without_ipython(server):
    server.enqueue(reply("Script answer one"), reply("Script answer two"))
    env = {**os.environ, "GMI_BASE_URL": server.base_url, "GMI_API_KEY": TEST_KEY}
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert TEST_KEY not in done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "first": "Script answer one",
        "second": "Script answer two",
        "ipython": False,
        "ipywidgets": False,
    }
    assert [r.json["stream"] for r in server.chat_requests] == [True, False]
    assert server.last_request.json["messages"][:3] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello from a script"},
        {"role": "assistant", "content": "Script answer one"},
    ]


ODD_SHAPES = [  # parts of a chunk with the wrong JSON type: skipped, never a crash
    pytest.param({"choices": [{"index": 0, "delta": "text"}]}, id="delta-a-string"),
    pytest.param({"choices": [{"index": 0, "delta": ["a"]}]}, id="delta-a-list"),
    pytest.param({"choices": [{"index": 0, "message": 5}]}, id="message-a-number"),
    pytest.param(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": "f"}]}}]},
        id="function-a-string",
    ),
    pytest.param(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"name": 5}}]}}]},
        id="tool-name-a-number",
    ),
    pytest.param(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": ["x"], "function": {}}]}}]},
        id="tool-id-a-list",
    ),
    pytest.param({"choices": [{"index": 0, "delta": {"content": 7}}]}, id="content-a-number"),
]


@pytest.mark.parametrize("odd", ODD_SHAPES)
def test_chunk_parts_of_the_wrong_type_are_skipped(shell, server, odd):
    server.enqueue(sse(chunk("Hel"), odd, chunk("lo"), chunk(finish_reason="stop"), DONE))
    result = shell.run("%%gmi\nHi")
    assert result.error is None, result.error
    assert shell.conversation.turns[-1].reply.text == "Hello"
    assert "Traceback" not in result.stdout + result.stderr
