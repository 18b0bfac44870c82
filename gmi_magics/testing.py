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
import threading
import time
from collections import deque
from typing import Any

from .standin_canned import default_script
from .standin_encoders import merge_tool_calls as merge_tool_calls
from .standin_http import CHAT_PATH, StandInHTTPServer
from .standin_http import RecordedRequest as RecordedRequest
from .standin_scripts import (
    DISCONNECT,
    DONE,
    KEEPALIVE,
    SCRIPT_TYPES,
    Script,
    chunk,
    delay,
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
        self._httpd: StandInHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> StandInServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._httpd is None:
            self.stopping.clear()
            self._httpd = StandInHTTPServer(self, (self.host, self.port))
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
            if not isinstance(script, SCRIPT_TYPES):
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
