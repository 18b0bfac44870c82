"""The stand-in chat-completions server, driven over real HTTP with httpx."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gmi_magics.testing import (
    DISCONNECT,
    DONE,
    KEEPALIVE,
    StandInServer,
    chunk,
    delay,
    hang,
    reply,
    sse,
    status,
)

MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"


@pytest.fixture(scope="module")
def module_server() -> Iterator[StandInServer]:
    with StandInServer() as server:
        yield server


@pytest.fixture
def server(module_server: StandInServer) -> StandInServer:
    module_server.reset()
    return module_server


def body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def post(server: StandInServer, payload: Any, **kwargs: Any) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(f"{server.base_url}/chat/completions", json=payload, **kwargs)


def stream_events(server: StandInServer, payload: dict[str, Any]) -> list[Any]:
    """POST with stream=true; return the ``data:`` payloads, ``[DONE]`` as a str."""
    response = post(server, {**payload, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events: list[Any] = []
    for block in response.text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def joined(events: list[Any], key: str) -> str:
    return "".join(
        e["choices"][0]["delta"].get(key) or ""
        for e in events
        if isinstance(e, dict) and e["choices"]
    )


def test_default_reply_streams_markdown_quoting_the_prompt(
    server: StandInServer,
) -> None:
    events = stream_events(server, body("What is 2+2?"))
    text = joined(events, "content")
    assert "**Stand-in reply**" in text
    assert "> What is 2+2?" in text
    assert "| 2 | 4 |" in text
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[0]["object"] == "chat.completion.chunk"
    assert events[0]["model"] == MODEL
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1] == "[DONE]"


def test_default_reply_non_streaming_has_usage(server: StandInServer) -> None:
    data = post(server, body("one two three")).json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["role"] == "assistant"
    assert "> one two three" in data["choices"][0]["message"]["content"]
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["prompt_tokens"] == 3
    assert data["usage"]["total_tokens"] == sum(
        data["usage"][k] for k in ("prompt_tokens", "completion_tokens")
    )


def test_default_tool_call_and_tool_result(server: StandInServer) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    data = post(server, body("What's the weather?", tools=[tool])).json()
    call = data["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Qingdao"}',
    }
    assert data["choices"][0]["finish_reason"] == "tool_calls"
    messages = [{"role": "tool", "tool_call_id": call["id"], "content": "Sunny, 21C"}]
    data = post(server, {"model": MODEL, "messages": messages}).json()
    assert "Sunny, 21C" in data["choices"][0]["message"]["content"]


def test_reply_text_list_and_reasoning_stream_piece_by_piece(
    server: StandInServer,
) -> None:
    server.enqueue(reply(["Hel", "lo"], reasoning="think hard", model="m/x"))
    events = stream_events(server, body())
    deltas = [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]]
    assert [d.get("content") for d in deltas if "content" in d] == ["Hel", "lo"]
    assert [d["reasoning_content"] for d in deltas if "reasoning_content" in d] == [
        "thin",
        "k ha",
        "rd",
    ]
    assert {e["model"] for e in events[:-1]} == {"m/x"}


def test_reply_tool_calls_stream_fragments_and_merge_when_not_streaming(
    server: StandInServer,
) -> None:
    fragments: list[dict[str, Any]] = [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "f", "arguments": '{"a":'},
        },
        {"index": 0, "id": None, "function": {"arguments": " 1}"}},
        {
            "index": 1,
            "id": "call_2",
            "type": "function",
            "function": {"name": "g", "arguments": "{}"},
        },
    ]
    script = reply(tool_calls=fragments, finish_reason="tool_calls")
    server.enqueue(script, script)
    events = stream_events(server, body())
    sent = [e["choices"][0]["delta"].get("tool_calls") for e in events[:-1]]
    assert [s[0] for s in sent if s] == fragments
    message = post(server, body()).json()["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "f", "arguments": '{"a": 1}'},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "g", "arguments": "{}"},
        },
    ]


def test_usage_separate_only_with_include_usage(server: StandInServer) -> None:
    server.enqueue(reply("hi"), reply("hi"))
    events = stream_events(server, body())
    assert not any("usage" in e for e in events if isinstance(e, dict))
    events = stream_events(server, body(stream_options={"include_usage": True}))
    assert events[-2]["choices"] == []
    assert events[-2]["usage"]["completion_tokens"] == 1
    assert events[-3]["choices"][0]["finish_reason"] == "stop"


def test_usage_last_and_none(server: StandInServer) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    server.enqueue(reply("hi", usage=usage, usage_mode="last"), reply("hi", usage_mode="none"))
    events = stream_events(server, body())
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-2]["usage"] == usage
    events = stream_events(server, body(stream_options={"include_usage": True}))
    assert not any("usage" in e for e in events if isinstance(e, dict))


def test_reply_without_finish_reason_or_done(server: StandInServer) -> None:
    server.enqueue(reply("hi", finish_reason=None, done=False, keepalives=2))
    response = post(server, body(stream=True))
    assert response.text.startswith(": keep-alive\n\n: keep-alive\n\n")
    assert "[DONE]" not in response.text
    assert '"finish_reason": "stop"' not in response.text


def test_status_json_text_and_headers(server: StandInServer) -> None:
    error = {"error": {"message": "Invalid API key", "type": "authentication_error"}}
    details = json.dumps({"error": {"message": "Invalid max_tokens value"}})
    server.enqueue(
        status(401, error),
        status(400, {"error": {"message": "Backend request failed", "details": details}}),
        status(404, "No matching target server found for model foo/bar"),
        status(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"}),
        status(502, b"<html>nginx</html>", content_type="text/html"),
    )
    with httpx.Client() as client:
        url = f"{server.base_url}/chat/completions"
        responses = [client.post(url, json=body()) for _ in range(5)]
    assert responses[0].status_code == 401
    assert responses[0].json() == error
    assert responses[0].headers["content-type"] == "application/json"
    assert json.loads(responses[1].json()["error"]["details"])["error"]["message"]
    assert responses[2].status_code == 404
    assert responses[2].headers["content-type"].startswith("text/plain")
    assert responses[2].text == "No matching target server found for model foo/bar"
    assert responses[3].headers["retry-after"] == "0"
    assert responses[4].headers["content-type"] == "text/html"
    assert responses[4].text == "<html>nginx</html>"
    assert server.pending == 0


def test_sse_raw_items_written_verbatim(server: StandInServer) -> None:
    server.enqueue(
        sse(
            KEEPALIVE,
            chunk("a", reasoning="r"),
            "data: {not json\n\n",
            b'data: {"choices": [{"delta": {"content": "\xe4\xb8',
            delay(0.05),
            b'\xad"}}]}\n\n',
            chunk(finish_reason="stop", usage={"total_tokens": 1}),
            chunk(empty_choices=True),
            DONE,
            headers={"X-Test": "yes"},
        )
    )
    response = post(server, body(stream=True))
    assert response.headers["x-test"] == "yes"
    blocks = response.text.split("\n\n")
    assert blocks[0] == ": keep-alive"
    first = json.loads(blocks[1].removeprefix("data: "))
    assert first["choices"][0]["delta"] == {"content": "a", "reasoning_content": "r"}
    assert blocks[2] == "data: {not json"
    assert json.loads(blocks[3].removeprefix("data: "))["choices"][0]["delta"] == {"content": "中"}
    assert json.loads(blocks[4].removeprefix("data: "))["usage"] == {"total_tokens": 1}
    assert json.loads(blocks[5].removeprefix("data: "))["choices"] == []
    assert blocks[6:] == ["data: [DONE]", ""]


def test_sse_status_and_clean_eof_without_done(server: StandInServer) -> None:
    server.enqueue(sse(chunk("x"), status=500))
    response = post(server, body(stream=True))
    assert response.status_code == 500
    assert response.text.endswith("\n\n")
    assert "[DONE]" not in response.text


def test_disconnect_breaks_the_stream_on_the_client(server: StandInServer) -> None:
    server.enqueue(sse(chunk("partial"), delay(0.05), DISCONNECT, DONE))
    received: list[bytes] = []
    url = f"{server.base_url}/chat/completions"
    with (
        httpx.Client() as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", url, json=body()) as response,
    ):
        for piece in response.iter_bytes():
            received.append(piece)
    assert b"partial" in b"".join(received)
    assert b"[DONE]" not in b"".join(received)


def test_requests_are_recorded(server: StandInServer) -> None:
    with pytest.raises(AssertionError, match="no requests"):
        _ = server.last_request
    post(server, body("hi"), headers={"Authorization": "Bearer sk-test", "X-Org": "o"})
    with httpx.Client() as client:
        client.get(f"{server.base_url}/models")
    assert [r.method for r in server.requests] == ["POST", "GET"]
    (chat,) = server.chat_requests
    assert chat.path == "/v1/chat/completions"
    assert chat.headers["authorization"] == "Bearer sk-test"
    assert chat.headers["x-org"] == "o"
    assert chat.json == body("hi")
    assert json.loads(chat.body) == body("hi")
    assert server.last_request.path == "/v1/models"
    assert server.last_request.json is None


def test_unknown_model_is_a_plain_text_404(server: StandInServer) -> None:
    response = post(server, {**body(), "model": "foo/bar"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "No matching target server found for model foo/bar"
    server.models.append("foo/bar")
    assert post(server, {**body(), "model": "foo/bar"}).status_code == 200


def test_malformed_json_and_unknown_path(server: StandInServer) -> None:
    response = post(server, None, content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    assert server.last_request.body == b"{nope"
    with httpx.Client() as client:
        response = client.get(f"{server.base_url}/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")


def test_models_endpoint_and_scripted_models(server: StandInServer) -> None:
    server.enqueue_models(status(500, "boom"))
    with httpx.Client() as client:
        assert client.get(f"{server.base_url}/models").status_code == 500
        data = client.get(f"{server.base_url}/models").json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == [
        "deepseek-ai/DeepSeek-V3.2-Exp",
        "deepseek-ai/DeepSeek-V3.2",
        "Qwen/Qwen3-32B",
    ]
    assert data["data"][0] == {
        "id": "deepseek-ai/DeepSeek-V3.2-Exp",
        "object": "model",
        "created": 0,
        "owned_by": "stand-in",
    }


def test_scripts_are_consumed_fifo_and_reset_clears(server: StandInServer) -> None:
    server.enqueue(reply("one"), reply("two"), reply("three"))
    assert server.pending == 3
    with httpx.Client() as client:  # one keep-alive connection for several requests
        url = f"{server.base_url}/chat/completions"
        texts = [client.post(url, json=body()).json() for _ in range(2)]
    assert [t["choices"][0]["message"]["content"] for t in texts] == ["one", "two"]
    assert server.pending == 1
    server.reset()
    assert server.pending == 0
    assert server.requests == []


def test_enqueue_rejects_non_scripts(server: StandInServer) -> None:
    with pytest.raises(TypeError, match="not a stand-in script"):
        server.enqueue("hello")  # type: ignore[arg-type]


def test_delay_alone_then_default_reply(server: StandInServer) -> None:
    server.enqueue(delay(0.1))
    started = time.monotonic()
    data = post(server, body("late")).json()
    assert time.monotonic() - started >= 0.1
    assert "> late" in data["choices"][0]["message"]["content"]


def test_chunk_delay_spaces_chunks(server: StandInServer) -> None:
    server.enqueue(reply(["a", "b", "c"], chunk_delay=0.05))
    started = time.monotonic()
    assert joined(stream_events(server, body()), "content") == "abc"
    assert time.monotonic() - started >= 0.2


def test_stop_returns_quickly_while_a_hang_stream_is_open() -> None:
    with StandInServer() as server, httpx.Client() as client:
        server.enqueue(hang(30))
        url = f"{server.base_url}/chat/completions"
        with client.stream("POST", url, json=body()) as response:
            pieces = response.iter_bytes()
            assert next(pieces) == b": keep-alive\n\n"
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 2
            with pytest.raises(httpx.HTTPError):
                for _ in pieces:
                    pass


def test_cli_prints_the_banner_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gmi_magics.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Stand-in GMI chat server on http://127.0.0.1:")
        assert line.rstrip().endswith("/v1 (offline demo, canned replies). Ctrl-C to stop.")
        base_url = line.split(" on ")[1].split(" ")[0]
        with httpx.Client() as client:
            assert client.get(f"{base_url}/models").status_code == 200
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in stderr
