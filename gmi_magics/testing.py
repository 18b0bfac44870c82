"""A stand-in for GMI Cloud's chat-completions API: a real HTTP server on loopback.

Tests script its answers (``server.enqueue(reply("hi"), status(429))``) and assert on
what it received (``server.last_request.json``). With nothing enqueued it answers a
canned markdown reply, so demos and notebooks run offline. Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = [
    "DISCONNECT",
    "DONE",
    "KEEPALIVE",
    "RecordedRequest",
    "StandInServer",
    "chunk",
    "delay",
    "hang",
    "reply",
    "sse",
    "status",
]

DEFAULT_MODELS = [
    "deepseek-ai/DeepSeek-V3.2-Exp",
    "deepseek-ai/DeepSeek-V3.2",
    "Qwen/Qwen3-32B",
]
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
UsageArg = dict[str, Any] | None | Literal["auto"]


# --- scripts -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Marker:
    name: str


DONE = _Marker("DONE")
"""``sse`` item: ``data: [DONE]``."""
KEEPALIVE = _Marker("KEEPALIVE")
"""``sse`` item: a ``: keep-alive`` comment."""
DISCONNECT = _Marker("DISCONNECT")
"""``sse`` item: cut the connection mid-body (the client sees a protocol error)."""


@dataclass(frozen=True)
class Reply:
    """A normal reply, streamed or not as the request asks; built by :func:`reply`."""

    text: tuple[str, ...]
    reasoning: tuple[str, ...]
    tool_calls: tuple[dict[str, Any], ...]
    finish_reason: str | None
    usage: UsageArg
    usage_mode: Literal["separate", "last", "none"]
    model: str | None
    done: bool
    chunk_delay: float
    keepalives: int


@dataclass(frozen=True)
class Status:
    """A complete non-streamed response; built by :func:`status`."""

    code: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Delay:
    """Sleep; inside ``sse(...)`` after flushing, alone: then send the default reply."""

    seconds: float


SSEItem = dict[str, Any] | _Marker | str | bytes | Delay


@dataclass(frozen=True)
class SSE:
    """A low-level stream written exactly as given; built by :func:`sse`."""

    items: tuple[SSEItem, ...]
    code: int = 200
    headers: tuple[tuple[str, str], ...] = ()


Script = Reply | Status | SSE | Delay


def _pieces(value: str | list[str]) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(value)
    return tuple(value[i : i + 4] for i in range(0, len(value), 4))


def reply(
    text: str | list[str] = "",
    *,
    reasoning: str | list[str] = "",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = "stop",
    usage: UsageArg = "auto",
    usage_mode: Literal["separate", "last", "none"] = "separate",
    model: str | None = None,
    done: bool = True,
    chunk_delay: float = 0.0,
    keepalives: int = 0,
) -> Reply:
    """A normal reply; a str streams in ~4-character pieces, a list piece by piece."""
    return Reply(
        _pieces(text), _pieces(reasoning), tuple(tool_calls or ()), finish_reason,
        usage, usage_mode, model, done, chunk_delay, keepalives,
    )  # fmt: skip


def status(
    code: int,
    body: str | bytes | dict[str, Any] = "",
    *,
    headers: dict[str, str] | None = None,
    content_type: str | None = None,
) -> Status:
    """Any complete response: a dict body is sent as JSON, str/bytes as plain text."""
    if isinstance(body, dict):
        data, default_type = json.dumps(body).encode(), "application/json"
    else:
        data = body.encode() if isinstance(body, str) else body
        default_type = "text/plain; charset=utf-8"
    all_headers = {"Content-Type": content_type or default_type, **(headers or {})}
    return Status(code, data, tuple(all_headers.items()))


def sse(*items: SSEItem, status: int = 200, headers: dict[str, str] | None = None) -> SSE:
    """A raw stream: dicts as ``data:`` events, markers, raw str/bytes, delays."""
    return SSE(tuple(items), status, tuple((headers or {}).items()))


def delay(seconds: float) -> Delay:
    """A pause inside ``sse(...)``; enqueued alone, a pause before the default reply."""
    return Delay(seconds)


def hang(seconds: float) -> SSE:
    """A 200 stream of only keep-alive comments, every 0.2 s for ``seconds``."""
    return SSE((KEEPALIVE, Delay(0.2)) * max(1, math.ceil(seconds / 0.2)))


def chunk(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    empty_choices: bool = False,
    model: str = "stand-in",
) -> dict[str, Any]:
    """One OpenAI-style ``chat.completion.chunk`` dict, for use inside ``sse(...)``."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choice = {
        "index": 0,
        "delta": delta,
        "logprobs": None,
        "finish_reason": finish_reason,
    }
    out: dict[str, Any] = {
        "id": "chatcmpl-standin", "object": "chat.completion.chunk",
        "created": 0, "model": model, "choices": [] if empty_choices else [choice],
    }  # fmt: skip
    if usage is not None:
        out["usage"] = usage
    return out


# --- reply building ----------------------------------------------------------------


def merge_tool_calls(fragments: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Merge streamed tool-call fragments by ``index`` into full calls."""
    calls: dict[int, dict[str, Any]] = {}
    for fragment in fragments:
        _merge_into(calls.setdefault(int(fragment.get("index", 0)), {}), fragment)
    return [{k: v for k, v in calls[i].items() if k != "index"} for i in sorted(calls)]


def _merge_into(target: dict[str, Any], fragment: dict[str, Any]) -> None:
    for key, value in fragment.items():
        old = target.get(key)
        if value is None:
            continue
        if isinstance(value, dict):
            _merge_into(target.setdefault(key, {}), value)
        elif isinstance(value, str) and isinstance(old, str) and key not in ("id", "type"):
            target[key] = old + value
        else:
            target[key] = value


def _prompt_words(body: dict[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            total += len(text.split())
    return total


def _usage_for(script: Reply, body: dict[str, Any]) -> dict[str, Any] | None:
    if script.usage_mode == "none" or script.usage is None:
        return None
    if script.usage != "auto":
        return script.usage
    prompt = _prompt_words(body)
    completion = len(script.text) + len(script.reasoning)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(script: Reply, body: dict[str, Any], model: str) -> dict[str, Any]:
    text, reasoning = "".join(script.text), "".join(script.reasoning)
    calls = merge_tool_calls(script.tool_calls)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or (None if calls else ""),
    }
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": script.finish_reason}
    out: dict[str, Any]
    out = {**_envelope("chat.completion", model), "choices": [choice]}
    usage = _usage_for(script, body)
    if usage is not None:
        out["usage"] = usage
    return out


def _envelope(kind: str, model: str) -> dict[str, Any]:
    created = int(time.time())
    return {
        "id": "chatcmpl-standin",
        "object": kind,
        "created": created,
        "model": model,
    }


def _stream_chunks(script: Reply, body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """Every chunk of a streamed reply, in order."""
    steps: list[tuple[dict[str, Any], str | None]] = [({"role": "assistant"}, None)]
    steps += [({"reasoning_content": piece}, None) for piece in script.reasoning]
    steps += [({"content": piece}, None) for piece in script.text]
    steps += [({"tool_calls": [call]}, None) for call in script.tool_calls]
    if script.finish_reason is not None:
        steps.append(({}, script.finish_reason))
    choices = [
        [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]
        for delta, reason in steps
    ]
    base = _envelope("chat.completion.chunk", model)
    out = [{**base, "choices": c} for c in choices]
    usage = _usage_for(script, body)
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    if usage is not None and script.usage_mode == "last" and script.finish_reason is not None:
        out[-1]["usage"] = usage
    elif usage is not None and script.usage_mode == "separate" and include:
        out.append({**base, "choices": [], "usage": usage})
    return out


def default_script(body: dict[str, Any], models: list[str]) -> Script:
    """The deterministic answer when nothing is enqueued."""
    model = body.get("model")
    if model not in models:
        return status(404, f"No matching target server found for model {model}")
    return canned_reply(body)


def canned_reply(body: dict[str, Any]) -> Reply:
    """A markdown reply quoting the last message (or a tool call when tools fit)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    content = last.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    if last.get("role") == "tool":
        return reply(f"**Stand-in reply** (offline demo): the tool returned\n\n> {text[:200]}\n")
    call = _default_tool_call(body.get("tools") or [], text)
    if call is not None:
        return reply(tool_calls=[call], finish_reason="tool_calls")
    return reply(
        "**Stand-in reply** (offline demo, canned reply) to: \n\n"
        f"> {text[:200]}\n\nHere is a small table:\n\n"
        "| n | n² |\n|---|----|\n| 1 | 1 |\n| 2 | 4 |\n"
    )


def _default_tool_call(tools: list[Any], text: str) -> dict[str, Any] | None:
    functions = [t.get("function") or {} for t in tools if isinstance(t, dict)]
    named = [f for f in functions if f.get("name") and f["name"] in text]
    chosen = named or (functions if "weather" in text.lower() else [])
    if not chosen:
        return None
    params = chosen[0].get("parameters") or {}
    props = params.get("properties") or {}
    args = {
        name: "Qingdao"
        for name in params.get("required") or []
        if (props.get(name) or {}).get("type") == "string"
    }
    function = {"name": chosen[0].get("name", ""), "arguments": json.dumps(args)}
    return {
        "index": 0,
        "id": "call_standin_0",
        "type": "function",
        "function": function,
    }


# --- HTTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any | None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: StandInServer, address: tuple[str, int]) -> None:
        self.owner = owner
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections[request] = threading.current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients hanging up and about connections cut by stop()."""
        if isinstance(sys.exc_info()[1], OSError) or self.owner.stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """No request logs on stderr."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        record = owner._record(self.command, self.path, dict(self.headers.items()), body)
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path == CHAT_PATH:
            self._play(owner._next_chat_script(record), record.json)
        elif self.command == "GET" and path == MODELS_PATH:
            self._play(owner._next_models_script(), {})
        else:
            self._play(status(404, f"Not found: {self.command} {path}"), {})

    def _read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _play(self, script: Script | dict[str, Any], body: Any) -> None:
        request = body if isinstance(body, dict) else {}
        if isinstance(script, dict):  # the models list
            script = status(200, script)
        if isinstance(script, Delay):
            self._wait(script.seconds)
            script = canned_reply(request)
        if isinstance(script, Status):
            self._send_complete(script)
        elif isinstance(script, Reply):
            self._play_reply(script, request)
        else:
            self._play_sse(script)

    def _send_complete(self, script: Status) -> None:
        self.send_response(script.code)
        for name, value in script.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(script.body)))
        self.end_headers()
        self.wfile.write(script.body)

    def _play_reply(self, script: Reply, request: dict[str, Any]) -> None:
        model = script.model or str(request.get("model") or "stand-in")
        if not request.get("stream"):
            self._send_complete(status(200, _completion(script, request, model)))
            return
        items: list[SSEItem] = [KEEPALIVE] * script.keepalives
        for index, data in enumerate(_stream_chunks(script, request, model)):
            if index and script.chunk_delay:
                items.append(Delay(script.chunk_delay))
            items.append(data)
        self._play_sse(SSE(tuple(items) + ((DONE,) if script.done else ())))

    def _play_sse(self, script: SSE) -> None:
        self._start_stream(script.code, script.headers)
        for item in script.items:
            if self.server.owner.stopping.is_set() or item is DISCONNECT:
                self._disconnect()
                return
            if isinstance(item, Delay):
                self._wait(item.seconds)
            else:
                self._write_chunk(_encode_item(item))
        self.wfile.write(b"0\r\n\r\n")

    def _start_stream(self, code: int, headers: tuple[tuple[str, str], ...]) -> None:
        self.close_connection = True
        self.send_response(code)
        merged = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        merged.update(headers)
        for name, value in merged.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _wait(self, seconds: float) -> None:
        self.server.owner.stopping.wait(seconds)

    def _disconnect(self) -> None:
        """Cut the connection mid-body: the chunked body never terminates."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _encode_item(item: SSEItem) -> bytes:
    if isinstance(item, dict):
        return b"data: " + json.dumps(item).encode() + b"\n\n"
    if item is DONE:
        return b"data: [DONE]\n\n"
    if item is KEEPALIVE:
        return b": keep-alive\n\n"
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, bytes):
        return item
    raise TypeError(f"not an sse item: {item!r}")


# --- the server --------------------------------------------------------------------


class StandInServer:
    """The stand-in server; ``with StandInServer() as server:`` starts and stops it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.models: list[str] = list(DEFAULT_MODELS)
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._chat_queue: deque[Script] = deque()
        self._models_queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> StandInServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is None:
            self.stopping.clear()
            self._httpd = _HTTPServer(self, (self.host, self.port))
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name="stand-in-server", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cutting any open streams; returns promptly."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        with httpd.conn_lock:
            open_connections = dict(httpd.connections)
        for sock in open_connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in open_connections.values():
            thread.join(timeout=1.0)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request (AssertionError if there was none)."""
        with self._lock:
            if not self.requests:
                raise AssertionError("the stand-in server has received no requests")
            return self.requests[-1]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the ``POST /v1/chat/completions`` requests."""
        with self._lock:
            return [
                r for r in self.requests
                if r.method == "POST" and r.path.split("?", 1)[0] == CHAT_PATH
            ]  # fmt: skip

    @property
    def pending(self) -> int:
        """How many chat scripts have not been consumed yet."""
        with self._lock:
            return len(self._chat_queue)

    def enqueue(self, *scripts: Script) -> None:
        """Queue responses for chat requests, consumed FIFO, one per request."""
        for script in scripts:
            if not isinstance(script, Reply | Status | SSE | Delay):
                raise TypeError(f"not a stand-in script: {script!r}")
        with self._lock:
            self._chat_queue.extend(scripts)

    def enqueue_models(self, script: Script) -> None:
        """Queue one response for the next ``GET /v1/models``."""
        with self._lock:
            self._models_queue.append(script)

    def reset(self) -> None:
        """Clear the queues and the recorded requests; restore the default models."""
        with self._lock:
            self._chat_queue.clear()
            self._models_queue.clear()
            self.requests.clear()
            self.models = list(DEFAULT_MODELS)

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> RecordedRequest:
        try:
            parsed: Any | None = json.loads(body) if body else None
        except ValueError:
            parsed = None
        lowered = {k.lower(): v for k, v in headers.items()}
        record = RecordedRequest(method, path, lowered, body, parsed)
        with self._lock:
            self.requests.append(record)
        return record

    def _next_chat_script(self, record: RecordedRequest) -> Script:
        with self._lock:
            if self._chat_queue:
                return self._chat_queue.popleft()
        if not isinstance(record.json, dict):
            error = {"message": "Malformed JSON body", "type": "invalid_request_error"}
            return status(400, {"error": {**error, "code": 400}})
        return default_script(record.json, self.models)

    def _next_models_script(self) -> Script | dict[str, Any]:
        with self._lock:
            if self._models_queue:
                return self._models_queue.popleft()
            ids = list(self.models)
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "stand-in"} for i in ids]
        return {"object": "list", "data": data}


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in server until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Stand-in GMI chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with StandInServer(args.host, args.port) as server:
        print(
            f"Stand-in GMI chat server on {server.base_url} "
            "(offline demo, canned replies). Ctrl-C to stop.",
            flush=True,
        )
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
