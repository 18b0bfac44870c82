"""How the stand-in server plays a script over HTTP: a threading server that tracks
its connections, and a handler writing complete bodies, SSE streams and faults
(disconnects, trickles, endless streams).

Like a real API server it sets TCP_NODELAY, listens with a deep accept queue, and
sends what is ready at the same moment in one write: the SSE events up to the next
``Delay`` (or the end) go out together, each still in its own HTTP chunk, so the
bytes are the same as with one write per event."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from .standin_canned import canned_reply
from .standin_encoders import completion, reply_stream
from .standin_scripts import (
    DISCONNECT,
    SSE,
    Delay,
    Endless,
    Reply,
    Script,
    Status,
    encode_item,
    status,
)

__all__ = ["CHAT_PATH", "MODELS_PATH", "RecordedRequest", "ScriptSource", "StandInHTTPServer"]

CHAT_PATH = "/v1/chat/completions"
NOT_ECHOED = {"host", "content-length", "content-type", "transfer-encoding", "connection"}
MODELS_PATH = "/v1/models"
WRITE_AT = 65536  # buffered SSE bytes that are written at once, without waiting for a Delay


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any | None


class ScriptSource(Protocol):
    """What the handler needs from ``StandInServer``: recording, scripts, stopping."""

    stopping: threading.Event

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> RecordedRequest: ...
    def _next_chat_script(self, record: RecordedRequest) -> Script: ...
    def _next_models_script(self) -> Script | dict[str, Any]: ...


class StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver listens with a backlog of 5: 16 clients reconnecting at once overflow
    # it and wait for a retransmitted handshake (200 ms to 1 s); real servers use hundreds
    request_queue_size = 128

    def __init__(self, owner: ScriptSource, address: tuple[str, int]) -> None:
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
    disable_nagle_algorithm = True  # TCP_NODELAY, as real API servers and proxies set
    server: StandInHTTPServer
    _request_headers: dict[str, str]
    _pending: list[bytes]
    _pending_size: int

    def setup(self) -> None:
        super().setup()
        self._pending, self._pending_size = [], 0

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
                self._flush()
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
        """Events are buffered and written before each pause, fault and at the end."""
        self._start_stream(script.code, script.headers)
        for item in script.items:
            if self.server.owner.stopping.is_set() or item is DISCONNECT:
                self._disconnect()
                return
            if isinstance(item, Delay):
                self._flush()
                self._wait(item.seconds)
            else:
                self._write_chunk(encode_item(item))
        self._pending.append(b"0\r\n\r\n")
        self._flush()

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
        """Buffer one HTTP chunk; written by ``_flush`` (at once past ``WRITE_AT``)."""
        if data:
            self._pending.append(b"%x\r\n%s\r\n" % (len(data), data))
            self._pending_size += len(data)
            if self._pending_size >= WRITE_AT:
                self._flush()

    def _flush(self) -> None:
        """Write the buffered chunks in one call."""
        pending, self._pending, self._pending_size = self._pending, [], 0
        if pending:
            self.wfile.write(b"".join(pending))

    def _wait(self, seconds: float) -> None:
        self.server.owner.stopping.wait(seconds)

    def _disconnect(self) -> None:
        """Cut the connection mid-body (after what was buffered): the chunked body
        never terminates."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
