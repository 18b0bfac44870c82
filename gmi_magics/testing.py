"""A stand-in for GMI Cloud's chat-completions API: a real HTTP server on loopback.

Tests script its answers (``server.enqueue(reply("hi"), status(429))``) and assert on
what it received (``server.last_request.json``). With nothing enqueued it answers a
canned markdown reply, so demos and notebooks run offline; that reply names the
images it was sent ("I see 1 image (PNG 640×480)."). ``server.image_models = {...}``
makes every other model refuse image parts as GMI does (HTTP 400) and marks those
models' ``/models`` entries with ``input_modalities``. Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .standin_canned import canned_reply, default_script
from .standin_encoders import completion, reply_stream
from .standin_encoders import merge_tool_calls as merge_tool_calls
from .standin_scripts import (
    DISCONNECT,
    DONE,
    KEEPALIVE,
    SSE,
    Delay,
    Endless,
    Reply,
    Script,
    Status,
    chunk,
    delay,
    encode_item,
    endless,
    gzip_bomb,
    hang,
    reply,
    sse,
    status,
)
from .standin_scripts import SSEItem as SSEItem
from .standin_scripts import UsageArg as UsageArg

__all__ = [
    "DISCONNECT", "DONE", "KEEPALIVE", "RecordedRequest", "StandInServer",
    "chunk", "delay", "endless", "gzip_bomb", "hang", "reply", "sse", "status",
]  # fmt: skip

DEFAULT_MODELS = [
    "deepseek-ai/DeepSeek-V3.2-Exp",
    "deepseek-ai/DeepSeek-V3.2",
    "Qwen/Qwen3-32B",
]
CHAT_PATH = "/v1/chat/completions"
NOT_ECHOED = {"host", "content-length", "content-type", "transfer-encoding", "connection"}
MODELS_PATH = "/v1/models"


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
    _request_headers: dict[str, str]

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
        self._request_headers = record.headers
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
        elif isinstance(script, Endless):
            self._play_endless(script)
        elif isinstance(script, Reply):
            self._play_reply(script, request)
        else:
            self._play_sse(script)

    def _send_complete(self, script: Status) -> None:
        self.send_response(script.code)
        for name, value in script.headers:
            self.send_header(name, value)
        if script.echo_headers:
            for name, value in self._request_headers.items():
                if name not in NOT_ECHOED:
                    self.send_header(name, value)
        self.send_header("Content-Length", str(len(script.body)))
        self.end_headers()
        if script.trickle <= 0:
            self.wfile.write(script.body)
            return
        for index in range(len(script.body)):  # bounded by the body's length
            if self.server.owner.stopping.is_set():
                self._disconnect()
                return
            self.wfile.write(script.body[index : index + 1])
            self.wfile.flush()
            self._wait(script.trickle)

    def _play_endless(self, script: Endless) -> None:
        """Repeat the item in ~64 KB writes until the client hangs up or time is up."""
        self._start_stream(200, script.headers)
        self._write_chunk(script.prefix)
        batch = script.item * max(1, 65536 // max(1, len(script.item)))
        end = time.monotonic() + script.seconds
        while time.monotonic() < end and not self.server.owner.stopping.is_set():
            try:
                self._write_chunk(batch)
            except OSError:  # the client hung up: the normal way this ends
                return
        self._disconnect()

    def _play_reply(self, script: Reply, request: dict[str, Any]) -> None:
        model = script.model or str(request.get("model") or "stand-in")
        if not request.get("stream"):
            self._send_complete(status(200, completion(script, request, model)))
        else:
            self._play_sse(reply_stream(script, request, model))

    def _play_sse(self, script: SSE) -> None:
        self._start_stream(script.code, script.headers)
        for item in script.items:
            if self.server.owner.stopping.is_set() or item is DISCONNECT:
                self._disconnect()
                return
            if isinstance(item, Delay):
                self._wait(item.seconds)
            else:
                self._write_chunk(encode_item(item))
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


# --- the server --------------------------------------------------------------------


class StandInServer:
    """The stand-in server; ``with StandInServer() as server:`` starts and stops it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.models: list[str] = list(DEFAULT_MODELS)
        self.image_models: set[str] | None = None  # a set: only these take images
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
            if not isinstance(script, Reply | Status | SSE | Delay | Endless):
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
            self.image_models = None

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
        return default_script(record.json, self.models, self.image_models)

    def _next_models_script(self) -> Script | dict[str, Any]:
        with self._lock:
            if self._models_queue:
                return self._models_queue.popleft()
            ids, vision = list(self.models), self.image_models
        data: list[dict[str, Any]] = []
        for i in ids:
            data.append({"id": i, "object": "model", "created": 0, "owned_by": "stand-in"})
            if vision is not None:
                data[-1]["input_modalities"] = ["text", "image"] if i in vision else ["text"]
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
