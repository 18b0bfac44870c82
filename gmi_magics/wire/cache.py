"""Record and replay API responses under the client, for offline demos and classes.

A request is identified by its method, path and JSON body (sorted keys): the model,
the messages and every parameter, never a header, so the API key is not part of
any key or file.  ``record`` saves each complete successful response while passing
it through as it streams; ``replay`` answers only from the files (a miss is a clear
error, nothing goes to the network); ``auto`` replays what it has and records the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx

from ..errors import ConfigurationError

CacheMode = Literal["off", "record", "replay", "auto"]
FORMAT = "gmi_magics.wire.cache"


class ReplayMissError(ConfigurationError):
    """Replay mode found no recorded response for a request."""

    hint = "Record it first (%config GMIMagics.cache = 'record'), or use 'auto'."


def request_key(request: httpx.Request) -> str:
    """A stable name for a request: method, path and canonical JSON body."""
    try:
        body: Any = json.loads(request.content) if request.content else None
    except ValueError:
        body = request.content.decode("utf-8", "replace")
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class ReplayTransport(httpx.BaseTransport):
    """Wraps a transport with a directory of recorded responses."""

    def __init__(
        self, directory: str | os.PathLike[str], mode: CacheMode, inner: httpx.BaseTransport
    ) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = self.directory / f"{request_key(request)}.json"
        if self.mode in ("replay", "auto") and path.exists():
            return _replayed(path)
        if self.mode == "replay":
            raise ReplayMissError(
                f"No recorded reply for this request in {self.directory} (cache mode 'replay')."
            )
        response = self.inner.handle_request(request)
        if response.status_code != 200:
            return response
        headers = {"content-type": response.headers.get("content-type", "")}
        tee = _Tee(response.stream, lambda body: _save(path, response.status_code, headers, body))
        return httpx.Response(response.status_code, headers=response.headers, stream=tee)

    def close(self) -> None:
        self.inner.close()


class _Tee(httpx.SyncByteStream):
    """Passes bytes through as they arrive; saves them once the body is complete."""

    def __init__(self, stream: Any, on_complete: Callable[[bytes], None]) -> None:
        self._stream = stream
        self._on_complete = on_complete
        self._chunks: list[bytes] = []
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._chunks.append(chunk)
            yield chunk
        self._complete = True

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        body = b"".join(self._chunks)
        # complete: read to the end, or an SSE stream that reached [DONE] (the client
        # stops reading there); an interrupted or broken stream is never recorded
        if self._complete or b"data: [DONE]" in body[-64:]:
            self._on_complete(body)


def _save(path: Path, status: int, headers: dict[str, str], body: bytes) -> None:
    record = {
        "format": FORMAT,
        "status": status,
        "headers": headers,
        "body": body.decode("utf-8", "replace"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(record, file, ensure_ascii=False)
    os.replace(temporary, path)


def _replayed(path: Path) -> httpx.Response:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record.get("format") == FORMAT
        return httpx.Response(
            record["status"], headers=record["headers"], content=record["body"].encode()
        )
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise ConfigurationError(
            f"The recorded reply {path} is damaged.", hint="Delete it and record again."
        ) from None
