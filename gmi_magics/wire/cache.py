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
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx

from ..errors import ConfigurationError, GMIError
from ..jsonsafe import loads_bounded
from ..settings import DEFAULT_MAX_REPLY_BYTES
from .deltas import parse_chunk
from .limits import WIRE_FACTOR
from .sse import iter_sse

CacheMode = Literal["off", "record", "replay", "auto"]
FORMAT = "gmi_magics.wire.cache"


class ReplayMissError(ConfigurationError):
    """Replay mode found no recorded response for a request."""

    hint = "Record it first (%config GMIMagics.cache = 'record'), or use 'auto'."


def request_key(request: httpx.Request) -> str:
    """A stable name for a request: method, path and canonical JSON body."""
    try:
        body: Any = loads_bounded(request.content) if request.content else None
    except ValueError:
        body = request.content.decode("utf-8", "replace")
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class ReplayTransport(httpx.BaseTransport):
    """Wraps a transport with a directory of recorded responses.

    Only a reply the client would accept is saved (see :func:`acceptable`), and a
    recording read back is checked the same way: a damaged one is an error in
    ``replay`` mode and is fetched (and recorded) again in ``auto`` mode.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        mode: CacheMode,
        inner: httpx.BaseTransport,
        *,
        max_bytes: int = DEFAULT_MAX_REPLY_BYTES * WIRE_FACTOR,
    ) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self.inner = inner
        self.max_bytes = max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = self.directory / f"{request_key(request)}.json"
        if self.mode in ("replay", "auto") and path.exists():
            replayed = _replayed(path, request.url.path, self.max_bytes)
            if isinstance(replayed, httpx.Response):
                return replayed
            if self.mode == "replay":
                raise replayed
        if self.mode == "replay":
            raise ReplayMissError(
                f"No recorded reply for this request in {self.directory} (cache mode 'replay')."
            )
        response = self.inner.handle_request(request)
        if response.status_code != 200:
            return response
        tee = _Tee(response, request.url.path, path, self.max_bytes)
        return httpx.Response(response.status_code, headers=response.headers, stream=tee)

    def close(self) -> None:
        self.inner.close()


class _Tee(httpx.SyncByteStream):
    """Passes bytes through as they arrive; on close, saves them if the reply is acceptable."""

    def __init__(self, response: httpx.Response, url_path: str, path: Path, limit: int) -> None:
        self._stream: Any = response.stream
        self._headers = response.headers
        self._url_path = url_path
        self._path = path
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._size += len(chunk)
            if self._size <= self._limit:  # past it the reply is never recorded
                self._chunks.append(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        if self._size > self._limit:
            return
        body = _decoded(
            b"".join(self._chunks), self._headers.get("content-encoding", ""), self._limit
        )
        content_type = self._headers.get("content-type", "")
        if body is not None and acceptable(self._url_path, content_type, body):
            _save(self._path, 200, {"content-type": content_type}, body)


def _decoded(raw: bytes, encoding: str, limit: int) -> bytes | None:
    """The body with its content-encoding undone (gzip/deflate), or None."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        return None  # br, zstd, chains: not recorded rather than recorded wrong
    for wbits in (47, -15):  # 47: gzip or zlib header; -15: raw deflate
        try:
            inflater = zlib.decompressobj(wbits)
            body = inflater.decompress(raw, limit + 1)
        except zlib.error:
            continue
        return body if len(body) <= limit and inflater.eof else None
    return None


def acceptable(url_path: str, content_type: str, body: bytes) -> bool:
    """True if the client accepts ``body`` as a whole reply, the way it reads it."""
    try:
        if url_path.endswith("/models"):
            data = loads_bounded(body)
            return isinstance(data, dict) and isinstance(data.get("data"), list)
        if "json" in content_type:
            delta = parse_chunk(loads_bounded(body))
            return bool(delta.finish_reason or delta.content or delta.tool_calls)
        return _acceptable_stream(body)
    except (ValueError, GMIError):
        return False


def _acceptable_stream(body: bytes) -> bool:
    """A stream that reached ``[DONE]`` after a chunk, or ended after a finish_reason."""
    received = finished = False
    for event in iter_sse([body]):
        if event.data.startswith("[DONE]"):
            return received
        delta = parse_chunk(loads_bounded(event.data))  # StreamError on an error event
        received = True
        finished = finished or delta.finish_reason is not None
    return finished


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


def _replayed(path: Path, url_path: str, limit: int) -> httpx.Response | ConfigurationError:
    """The recorded response, or the error that says why it cannot be replayed."""
    try:
        if path.stat().st_size > limit * 2 + 4096:  # \u escapes may double the body
            return _damaged(path, f"larger than {limit * 2} bytes")
        record = loads_bounded(path.read_bytes(), max_depth=8)
    except (OSError, ValueError) as error:
        return _damaged(path, _short(error))
    status, headers, body = _fields(record)
    if status is None or headers is None or body is None:
        return _damaged(path, "not a gmi_magics recording")
    content = body.encode("utf-8", "replace")
    if not acceptable(url_path, headers.get("content-type", ""), content):
        return _damaged(path, "the recorded reply is incomplete or broken")
    return httpx.Response(status, headers=headers, content=content)


def _fields(record: Any) -> tuple[int | None, dict[str, str] | None, str | None]:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None, None, None
    status, headers, body = record.get("status"), record.get("headers"), record.get("body")
    ok_status = type(status) is int and status == 200
    ok_headers = isinstance(headers, dict) and all(
        isinstance(k, str) and isinstance(v, str) and k.isascii() and v.isascii()
        for k, v in headers.items()
    )
    return (
        status if ok_status else None,
        headers if ok_headers else None,
        body if isinstance(body, str) else None,
    )


def _damaged(path: Path, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"The recorded reply {path.name} is damaged ({reason}).",
        hint=f"Delete it from {path.parent} and record again, or use cache mode 'auto'.",
    )


def _short(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:80]
