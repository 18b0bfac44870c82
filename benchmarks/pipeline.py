"""Where the per-turn time goes: each stage per streamed chunk, and the fixed steps of
a cell, timed alone, offline (no network; ``per_turn.py`` times whole turns).

Feeds the bytes of a 200-chunk OpenAI-style stream (one SSE event per network read,
as the stand-in server and most APIs send them) through each stage of the package
on its own, next to httpx's own line decoder (what the raw baseline runs); then the
same bytes through ``read_stream`` whole.  Each figure is the smallest of repeated
timings (noise only ever adds).
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable, Iterator
from typing import Any

from harness import NullWriter, Row

CHUNKS = 200
KEY = "bench-key-0123456789abcdef"
KEY = "bench-key-0123456789abcdef"


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


class _Body:
    """Just enough of an ``httpx.Response`` for ``read_stream``: the chunks, unencoded."""

    is_stream_consumed = False

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.headers: dict[str, str] = {}

    def iter_raw(self) -> Iterator[bytes]:
        return iter(self.chunks)


def _each(make: Callable[[], Any], method: str, items: list[Any]) -> Callable[[], None]:
    """One stage object per reply (as in a turn), its ``method`` on every item."""

    def run() -> None:
        call = getattr(make(), method)
        for item in items:
            call(item)

    return run


def measure(number: int = 100) -> dict[str, float]:
    from httpx._decoders import LineDecoder, TextDecoder

    from gmi_magics.display.render import TextRenderer
    from gmi_magics.wire.chunks import loads_chunk
    from gmi_magics.wire.deltas import ReplyBuilder, parse_chunk
    from gmi_magics.wire.limits import ReplyMeter
    from gmi_magics.wire.redaction import DeltaScrubber
    from gmi_magics.wire.response_body import read_stream
    from gmi_magics.wire.sse import SSEDecoder

    wire = _wire(CHUNKS)
    datas = [d for raw in wire for d in SSEDecoder().feed_data(raw) if d != "[DONE]"]
    objects = [json.loads(d) for d in datas]
    parsed = [parse_chunk(o) for o in objects]

    def httpx_lines() -> None:
        lines, text = LineDecoder(), TextDecoder()
        for raw in wire:
            lines.decode(text.decode(raw))

    def whole() -> None:
        for _ in read_stream(_Body(wire), deadline=1e12, timeout=1, max_bytes=1 << 22, secret=KEY):
            pass

    def text() -> None:
        renderer = TextRenderer(stream=NullWriter())
        for delta in parsed:
            renderer.update(delta.content, delta.reasoning)

    stages = {
        "httpx lines": (httpx_lines, len(wire)),
        "SSE": (_each(SSEDecoder, "feed_data", wire), len(wire)),
        "JSON (orjson)": (lambda: [loads_chunk(d, KEY) for d in datas], len(datas)),
        "parse_chunk": (lambda: [parse_chunk(o) for o in objects], len(objects)),
        "key redaction": (_each(lambda: DeltaScrubber(KEY), "scrub", parsed), len(parsed)),
        "reply cap": (_each(lambda: ReplyMeter(1 << 22), "take", parsed), len(parsed)),
        "read_stream whole": (whole, len(wire)),
        "ReplyBuilder.add": (_each(lambda: ReplyBuilder("m"), "add", parsed), len(parsed)),
        "TextRenderer.update": (text, len(parsed)),
    }
    return {name: _per_chunk(call, size, number) for name, (call, size) in stages.items()}


def turn_steps(ip: Any, number: int = 200) -> dict[str, float]:
    """Seconds of each fixed step of one ``%%gmi`` cell (the smallest of ``number``)."""
    from gmi_magics.cell_options import options_from_args
    from gmi_magics.display.blocks import BlockRenderer
    from gmi_magics.types import Reply, Usage

    magics = ip.magics_manager.registry["GMIMagics"]
    settings = magics.settings()
    args = magics._parse("--no-history")
    text = "tok " * CHUNKS
    reply = Reply(text=text.strip(), usage=Usage(5, CHUNKS, CHUNKS + 5), model="stand-in")
    conversation = magics.session.conversation(settings)

    def finish() -> None:
        renderer = BlockRenderer()
        renderer.update(text, "")
        renderer.finish(reply)

    steps: dict[str, Callable[[], Any]] = {
        "option line parsed (argparse)": lambda: magics._parse_fresh("--no-history"),
        "option line, kept parse": lambda: magics._parse("--no-history"),
        "settings": magics.settings,
        "request options": lambda: options_from_args(args, magics, settings, "hi"),
        "messages": lambda: conversation.build_messages("hi"),
        "HTML finish (last part, footer, provenance: 3 display messages)": finish,
    }
    return {name: min(timeit.repeat(call, number=1, repeat=number)) for name, call in steps.items()}


def rows(result: dict[str, float], steps: dict[str, float]) -> list[Row]:
    stages = {k: v for k, v in result.items() if k not in ("httpx lines", "read_stream whole")}
    parts = ", ".join(f"{name} {seconds * 1e6:.1f}" for name, seconds in stages.items())
    total = result["read_stream whole"] + result["ReplyBuilder.add"]
    total += result["TextRenderer.update"]
    added = total - result["httpx lines"]
    fixed = ", ".join(f"{name} {seconds * 1e6:.0f}" for name, seconds in steps.items())
    kept = sum(steps.values()) - steps["option line parsed (argparse)"]
    return [
        Row(
            "per chunk, offline: bytes → Delta → accumulate → text (µs per chunk)",
            f"httpx line decoder {result['httpx lines'] * 1e6:.2f} µs",
            f"{total * 1e6:.1f} µs (read_stream {result['read_stream whole'] * 1e6:.1f}); "
            f"stages alone: {parts}",
            f"+{added * 1e6:.1f} µs/chunk (≈ {added * 1e3 * CHUNKS:.1f} ms per {CHUNKS} tokens)",
            "(info)",
        ),
        Row(
            "per turn, offline: the fixed steps of one cell (µs)",
            "—",
            fixed,
            f"{kept * 1e3:.2f} ms in all, the option line's parse kept",
            "(info)",
        ),
    ]
