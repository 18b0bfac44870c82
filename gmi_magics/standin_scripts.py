"""Scripts for the stand-in server (:mod:`gmi_magics.testing`).

``reply``, ``status``, ``sse``, ``delay`` and ``hang`` build the scripts a test enqueues;
``chunk`` builds one raw stream chunk. ``standin_encoders`` turns a ``Reply`` into a
completion or its stream of chunks; ``standin_canned`` answers when nothing is enqueued.
Stdlib only.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DISCONNECT", "DONE", "KEEPALIVE", "SCRIPT_TYPES", "SSE", "Delay", "Endless", "Reply",
    "SSEItem", "Script", "Status", "UsageArg", "chunk", "delay", "encode_item", "endless",
    "gzip_bomb", "hang", "reply", "sse", "status",
]  # fmt: skip

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
    trickle: float = 0.0  # > 0: the body is sent one byte at a time, this far apart
    echo_headers: bool = False  # the request's headers are sent back as response headers


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


@dataclass(frozen=True)
class Endless:
    """A 200 stream that never ends by itself; built by :func:`endless`."""

    item: bytes
    prefix: bytes = b""
    seconds: float = 10.0
    headers: tuple[tuple[str, str], ...] = ()


Script = Reply | Status | SSE | Delay | Endless
SCRIPT_TYPES = (Reply, Status, SSE, Delay, Endless)
"""The classes of ``Script``, for ``isinstance``."""
ENDLESS_CHUNK = 'data: {"choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n' % ("x" * 900)


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
    gzip: bool = False,
    trickle: float = 0.0,
    echo_headers: bool = False,
) -> Status:
    """Any complete response: a dict body is sent as JSON, str/bytes as plain text.

    ``gzip`` compresses the body (``Content-Encoding: gzip``; to send bytes that are
    already compressed, such as a :func:`gzip_bomb`, pass that header yourself);
    ``trickle`` sends the body one byte at a time, ``trickle`` seconds apart;
    ``echo_headers`` sends the request's headers back as response headers.
    """
    if isinstance(body, dict):
        data, default_type = json.dumps(body).encode(), "application/json"
    else:
        data = body.encode() if isinstance(body, str) else body
        default_type = "text/plain; charset=utf-8"
    all_headers = {"Content-Type": content_type or default_type, **(headers or {})}
    if gzip:
        data = gzip_module.compress(data, mtime=0)
        all_headers["Content-Encoding"] = "gzip"
    return Status(code, data, tuple(all_headers.items()), trickle, echo_headers)


def endless(
    item: SSEItem = ENDLESS_CHUNK,
    *,
    prefix: SSEItem = b"",
    seconds: float = 10.0,
    headers: dict[str, str] | None = None,
) -> Endless:
    """A stream that repeats ``item`` as fast as it can, after ``prefix``.

    It stops when the client hangs up, the server stops, or after ``seconds``. The
    default item is a content chunk of 900 characters; ``endless(b"x" * 65536,
    prefix=b"data: ")`` is one line that never ends.
    """
    return Endless(encode_item(item), encode_item(prefix), seconds, tuple((headers or {}).items()))


def gzip_bomb(size: int, *, fill: bytes = b" ", prefix: bytes = b"") -> bytes:
    """A gzip body that inflates to ``prefix`` plus ``size`` bytes of ``fill`` (~1000:1).

    Built from one compressed 1 MiB block repeated after full flushes, so a
    1 GiB bomb (~1 MB compressed) takes well under a second to make.
    """
    block_size = 1 << 20
    block = (fill * (block_size // len(fill) + 1))[:block_size]
    count = max(1, size // block_size)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    head = packer.compress(prefix) + packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    final_block = packer.flush()[:-8]  # the trailer is rewritten for the whole body
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    total = len(prefix) + count * block_size
    trailer = struct.pack("<II", crc, total & 0xFFFFFFFF)
    return head + repeated * (count - 1) + final_block + trailer


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


def encode_item(item: SSEItem) -> bytes:
    """One ``sse`` item as the bytes written for it."""
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
