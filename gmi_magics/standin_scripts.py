"""Scripts for the stand-in server (:mod:`gmi_magics.testing`), and the replies they become.

``reply``, ``status``, ``sse``, ``delay`` and ``hang`` build the scripts a test enqueues;
``chunk`` builds one raw stream chunk. The rest turns a ``Reply`` into a completion or
its stream of chunks, and picks the canned answer when nothing is enqueued. Stdlib only
(and ``chat.content``, to read the images it is sent).
"""

from __future__ import annotations

import gzip as gzip_module
import json
import math
import struct
import time
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from .chat.content import DATA_URL, image_tokens, is_image, part_url, url_image_size

__all__ = [
    "DISCONNECT", "DONE", "KEEPALIVE", "SSE", "Delay", "Endless", "Reply", "SSEItem",
    "Script", "Status", "UsageArg", "canned_reply", "chunk", "default_script", "delay",
    "endless", "gzip_bomb", "hang", "merge_tool_calls", "reply", "sse", "status",
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
    item: SSEItem = "data: "
    + '{"choices":[{"index":0,"delta":{"content":"'
    + "x" * 900
    + '"}}]}\n\n',
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
    return Endless(
        _encode_item(item), _encode_item(prefix), seconds, tuple((headers or {}).items())
    )


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
        if isinstance(content, list):  # parts: words of the text, images by their size
            total += len(message_text(content).split())
            total += sum(image_tokens(url_image_size(part_url(p) or "")) for p in content)
        elif content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            total += len(text.split())
    return total


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return json.dumps(content)
    texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n\n".join(t for t in texts if isinstance(t, str))


def seen_images(content: Any) -> str:
    """``I see 2 images (PNG 640×480, JPEG 300×200).`` for the images in ``content``."""
    shown = []
    for part in content if isinstance(content, list) else ():
        url = part_url(part) if is_image(part) else None
        if url is None:
            continue
        match, size = DATA_URL.match(url), url_image_size(url)
        kind = match.group(1).upper() if match else "unreadable"
        shown.append(f"{kind} {size[0]}×{size[1]}" if size else kind)
    if not shown:
        return ""
    noun = "image" if len(shown) == 1 else "images"
    return f"I see {len(shown)} {noun} ({', '.join(shown)}).\n\n"


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


def _reply_stream(script: Reply, body: dict[str, Any], model: str) -> SSE:
    """A streamed reply as the raw stream that is written for it."""
    items: list[SSEItem] = [KEEPALIVE] * script.keepalives
    for index, data in enumerate(_stream_chunks(script, body, model)):
        if index and script.chunk_delay:
            items.append(Delay(script.chunk_delay))
        items.append(data)
    return SSE(tuple(items) + ((DONE,) if script.done else ()))


def default_script(
    body: dict[str, Any], models: list[str], image_models: set[str] | None = None
) -> Script:
    """The deterministic answer when nothing is enqueued.

    With ``image_models`` set, any other model refuses image parts as GMI does (400).
    """
    model = body.get("model")
    if model not in models:
        return status(404, f"No matching target server found for model {model}")
    if image_models is not None and model not in image_models and _has_images(body):
        return status(400, IMAGE_REFUSAL)
    return canned_reply(body)


IMAGE_REFUSAL = {
    "error": {
        "message": "Backend request failed with status 400",
        "type": "backend_error",
        "code": 400,
        "details": json.dumps(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Failed to deserialize the JSON body into the target type: "
                    "messages[0]: unknown variant `image_url`, expected `text`",
                }
            }
        ),
    }
}


def _has_images(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    return any(
        isinstance(m, dict) and isinstance(m.get("content"), list)
        and any(is_image(p) for p in m["content"])
        for m in messages
    )  # fmt: skip


def canned_reply(body: dict[str, Any]) -> Reply:
    """A deterministic reply to the request, for demos.

    A tool call when the request offers tools the message names (or asks about the
    weather); the tool's result quoted after a tool message; a JSON object for
    ``response_format: json_object``; a Python block when asked for code; otherwise
    markdown quoting the last message, after a line naming the images it was sent
    ("I see 1 image (PNG 640×480).").
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    content = last.get("content")
    text, seen = message_text(content), seen_images(content)
    text = text.rpartition("</notebook_context>")[2].strip() or text  # the question itself
    if last.get("role") == "tool":
        return reply(f"**Stand-in reply** (offline demo): the tool returned\n\n> {text[:200]}\n")
    call = _default_tool_call(body.get("tools") or [], text)
    if call is not None:
        return reply(tool_calls=[call], finish_reason="tool_calls")
    if (body.get("response_format") or {}).get("type") == "json_object":
        return reply(json.dumps({"stand_in": True, "question": text[:200], "answer": 42}))
    if "```" in text or "code" in text.lower():
        return reply(
            f"{seen}**Stand-in reply** (offline demo, canned code):\n\n"
            "```python\nprint('hello from the stand-in server')\n```\n"
        )
    return reply(
        f"{seen}**Stand-in reply** (offline demo, canned reply) to: \n\n"
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
