"""Where one ``%%gmi`` turn's overhead goes: each stage timed alone, in this process.

    python benchmarks/turn_breakdown.py [--tokens 200] [--runs 300]

Per chunk: a reply of ``--tokens`` chunks shaped like a chat stream's goes through each
stage of the reading path on its own (SSE decoding, JSON, chunk parsing, key
redaction, the reply cap, accumulation, the live renderer), then through all of
``read_stream`` at once.  Per turn: the fixed steps of a cell (option parsing,
settings, request options and messages, the renderer's finish).  Each figure is the
smallest of ``--runs`` timings (the machine's noise only ever adds), in microseconds.
No network: ``benchmarks/per_turn.py`` measures the whole turn over loopback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import NullWriter, gmi_shell, quiet_stdout  # noqa: E402

KEY = "bench-key-0123456789abcdef"
MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
ENVELOPE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL}


def wire_chunks(tokens: int) -> list[bytes]:
    """What a stream sends: a role chunk, a chunk per token, a finish, usage, [DONE]."""
    deltas = [{"role": "assistant"}] + [{"content": f"word{i % 7} "} for i in range(tokens)]
    chunks = [
        {**ENVELOPE, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    chunks.append({**ENVELOPE, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append(
        {**ENVELOPE, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": tokens}}
    )
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


class Body:
    """Just enough of an ``httpx.Response`` for ``read_stream``: the chunks, unencoded."""

    is_stream_consumed = False

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.headers: dict[str, str] = {}

    def iter_raw(self) -> Iterator[bytes]:
        return iter(self.chunks)


def smallest(call: Callable[[], Any], runs: int) -> float:
    """The smallest wall time of ``runs`` calls, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def chunk_stages(tokens: int) -> dict[str, Callable[[], Any]]:
    """Each stage of the reading path over a whole reply's chunks."""
    from gmi_magics.chat.live import LiveReply
    from gmi_magics.display.blocks import BlockRenderer
    from gmi_magics.display.render import TextRenderer
    from gmi_magics.wire.deltas import ReplyBuilder, parse_chunk
    from gmi_magics.wire.limits import ReplyMeter
    from gmi_magics.wire.redaction import DeltaScrubber
    from gmi_magics.wire.response_body import _loads_chunk, read_stream
    from gmi_magics.wire.sse import SSEDecoder

    chunks = wire_chunks(tokens)[:-1]
    data = [c[6:-2].decode() for c in chunks]
    objects = [json.loads(d) for d in data]
    deltas = [parse_chunk(o) for o in objects]

    def live(renderer: Any) -> Callable[[], None]:
        def run() -> None:
            reply, builder = LiveReply(renderer()), ReplyBuilder(MODEL)
            for delta in deltas:
                reply.update(builder.add(delta))

        return run

    def each(make: Callable[[], Any], method: str, items: list[Any]) -> Callable[[], None]:
        """One stage object for the reply (as in a turn), its ``method`` on every item."""

        def run() -> None:
            call = getattr(make(), method)
            for item in items:
                call(item)

        return run

    def read_all() -> None:
        for _ in read_stream(Body(chunks), deadline=1e12, timeout=1, max_bytes=1 << 22, secret=KEY):
            pass

    return {
        "SSE decoding (`SSEDecoder.feed_data`)": each(SSEDecoder, "feed_data", chunks),
        "JSON (orjson, depth-checked)": lambda: [_loads_chunk(d, KEY) for d in data],
        "chunk → `Delta` (`parse_chunk`)": lambda: [parse_chunk(o) for o in objects],
        "key redaction (`DeltaScrubber`)": each(lambda: DeltaScrubber(KEY), "scrub", deltas),
        "reply cap (`ReplyMeter`)": each(lambda: ReplyMeter(1 << 22), "add_delta", deltas),
        "accumulate (`ReplyBuilder.add`)": each(lambda: ReplyBuilder(MODEL), "add", deltas),
        "all of `read_stream` (the above, one generator)": read_all,
        "accumulate + live text renderer": live(lambda: TextRenderer(NullWriter())),
        "accumulate + live HTML renderer (blocks)": live(BlockRenderer),
    }


def turn_steps(ip: Any, tokens: int) -> dict[str, Callable[[], Any]]:
    """The fixed steps of one cell, around the stream."""
    from gmi_magics.cell_options import options_from_args
    from gmi_magics.display.blocks import BlockRenderer
    from gmi_magics.types import Reply, Usage

    magics = ip.magics_manager.registry["GMIMagics"]
    settings = magics.settings()
    args = magics._parse("--no-history")
    text = "word " * tokens
    reply = Reply(text=text.strip(), usage=Usage(5, tokens, tokens + 5), model=MODEL)
    conversation = magics.session.conversation(settings)

    def finish() -> None:
        renderer = BlockRenderer()
        renderer.update(text, "")
        renderer.finish(reply)

    return {
        "option line, first parse (argparse)": lambda: magics._parse_fresh("--no-history"),
        "option line, kept parse": lambda: magics._parse("--no-history"),
        "settings (`GMIMagics.settings`)": magics.settings,
        "request options (`options_from_args`)": lambda: options_from_args(
            args, magics, settings, "hi"
        ),
        "messages (`build_messages`)": lambda: conversation.build_messages("hi"),
        "HTML renderer: finish (final markdown, footer)": finish,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    ip = gmi_shell("http://127.0.0.1:9/v1")  # displays go to a counting publisher
    print(f"| per chunk ({args.tokens}-token reply) | µs per chunk | ms per reply |")
    print("|---|---|---|")
    for name, call in chunk_stages(args.tokens).items():
        seconds = smallest(call, args.runs)
        print(f"| {name} | {seconds / (args.tokens + 3) * 1e6:.2f} | {seconds * 1e3:.2f} |")
    print("\n| per turn | µs |\n|---|---|")
    steps = turn_steps(ip, args.tokens)
    with quiet_stdout():
        timings = {name: smallest(call, args.runs) for name, call in steps.items()}
    for name, seconds in timings.items():
        print(f"| {name} | {seconds * 1e6:.0f} |")


if __name__ == "__main__":
    main()
