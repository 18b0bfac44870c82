"""Where the per-turn time goes: the cost of each stage per streamed chunk, offline.

Feeds the bytes of a 200-chunk OpenAI-style stream (one SSE event per network read,
as the stand-in server and most APIs send them) through each stage of the package
on its own, next to httpx's own line decoder (what the raw baseline runs).
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from typing import Any

from harness import NullWriter, Row

CHUNKS = 200


def _wire(count: int) -> list[bytes]:
    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        chunk = {
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
            "model": "stand-in", "choices": [choice],
        }  # fmt: skip
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    body = [event({"role": "assistant"})]
    body += [event({"content": "tok "}) for _ in range(count)]
    return [*body, event({}, "stop"), b"data: [DONE]\n\n"]


def _per_chunk(call: Callable[[], None], chunks: int, number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number / chunks


def measure(number: int = 100) -> dict[str, float]:
    from httpx._decoders import LineDecoder, TextDecoder

    from gmi_magics.display.render import TextRenderer
    from gmi_magics.wire.deltas import ReplyBuilder, parse_chunk
    from gmi_magics.wire.sse import SSEDecoder

    wire = _wire(CHUNKS)
    datas = [e.data for raw in wire for e in SSEDecoder().feed(raw) if e.data != "[DONE]"]
    objects = [json.loads(d) for d in datas]
    parsed = [parse_chunk(o) for o in objects]

    def httpx_lines() -> None:
        lines, text = LineDecoder(), TextDecoder()
        for raw in wire:
            lines.decode(text.decode(raw))

    def sse() -> None:
        decoder = SSEDecoder()
        for raw in wire:
            decoder.feed(raw)

    def loads() -> None:
        for data in datas:
            json.loads(data)

    def parse() -> None:
        for obj in objects:
            parse_chunk(obj)

    def build() -> None:
        builder = ReplyBuilder("m")
        for delta in parsed:
            builder.add(delta)

    def text() -> None:
        renderer = TextRenderer(stream=NullWriter())
        for delta in parsed:
            renderer.update(delta.content, delta.reasoning)

    stages = {
        "httpx lines": (httpx_lines, len(wire)),
        "SSEDecoder.feed": (sse, len(wire)),
        "json.loads": (loads, len(datas)),
        "parse_chunk": (parse, len(objects)),
        "ReplyBuilder.add": (build, len(parsed)),
        "TextRenderer.update": (text, len(parsed)),
    }
    return {name: _per_chunk(call, size, number) for name, (call, size) in stages.items()}


def rows(result: dict[str, float]) -> list[Row]:
    mine = {k: v for k, v in result.items() if k != "httpx lines"}
    total = sum(mine.values())
    parts = ", ".join(f"{name} {us * 1e6:.1f}" for name, us in mine.items())
    return [
        Row(
            "per chunk, offline: decode → Delta → accumulate → text (µs per chunk)",
            f"httpx line decoder {result['httpx lines'] * 1e6:.2f} µs",
            f"{total * 1e6:.1f} µs = {parts}",
            f"+{(total - result['httpx lines']) * 1e6:.1f} µs/chunk "
            f"(≈ {(total - result['httpx lines']) * 1e3 * CHUNKS:.1f} ms per {CHUNKS} tokens)",
            "(info)",
        )
    ]
