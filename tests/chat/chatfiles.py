"""A rich, valid chat file (every field the format has) and helpers to mutate it."""

from __future__ import annotations

import base64
import copy
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from gmi_magics.chat.persist import LoadedThread, dump_threads
from gmi_magics.chat.turns import Turn
from gmi_magics.chat.validate import place
from gmi_magics.types import Message, Reply, ToolCall, Usage


def png(width: int, height: int) -> bytes:
    """A real (tiny, grey) PNG of the given size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def data_url(image: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64,{base64.b64encode(image).decode()}"


def image_turn() -> Turn:
    content = [
        {"type": "text", "text": "What does this plot show?"},
        {"type": "image_url", "image_url": {"url": data_url(png(3, 2)), "detail": "low"}},
    ]
    return Turn(
        user="What does this plot show?",
        reply=Reply(text="A flat grey line.", model="vision-model"),
        content=content,
    )


def tool_turn() -> Turn:
    call = ToolCall(id="call_1", name="add", arguments='{"a": 1, "b": 2}')
    extra: list[Message] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call.to_wire()],
            "reasoning_content": "I should add.",
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
    ]
    reply = Reply(
        text="1 + 2 = 3",
        reasoning="Use the tool.",
        tool_calls=(call,),
        usage=Usage(12, 5, 17, 2, 4),
        finish_reason="stop",
        model="deepseek-ai/DeepSeek-V3.2",
        latency=1.25,
        metadata={
            "params": {
                "temperature": 0.2,
                "max_tokens": 300,
                "top_p": 0.9,
                "stop": ["END"],
                "seed": 7,
                "response_format": {"type": "json_object"},
            },
            "thread": "default",
            "turn": 1,
            "host": "api.gmi-serving.com",
            "requested_model": "deepseek-ai/DeepSeek-V3.2",
            "stream": True,
            "confirm": True,
            "instruction": "\n\nAnswer with a single JSON object only.",
        },
    )
    return Turn("What is 1 + 2?", reply, extra, cell_id="cell-a", tools=["add"])


def rich_threads() -> dict[str, LoadedThread]:
    interrupted = Turn(user="Tell a story", reply=Reply(text="Once upon", interrupted=True))
    return {
        "default": LoadedThread("Be brief.", "deepseek-ai/DeepSeek-V3.2", [tool_turn()]),
        "side chat": LoadedThread(None, "qwen3", [interrupted, image_turn()]),
    }


def rich_document() -> dict[str, Any]:
    return dump_threads(rich_threads())


def fields(value: Any, where: str = "") -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(JSON path, key path) of every value below ``value`` (containers too), in order."""
    if where:
        yield where, ()
    if isinstance(value, dict):
        for key, item in value.items():
            for path, keys in fields(item, place(where, key)):
                yield path, (key, *keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for path, keys in fields(item, f"{where}[{index}]"):
                yield path, (index, *keys)


def replaced(document: dict[str, Any], keys: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with the leaf at ``keys`` set to ``value``."""
    copied = copy.deepcopy(document)
    target = copied
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return copied
