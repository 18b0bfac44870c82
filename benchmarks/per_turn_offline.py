"""Benchmark 2b: the per-turn overhead with sockets and the server taken out.

Loopback figures (``per_turn.py``) swing by ±2 ms between runs on a shared VM: the
stand-in server's process, the kernel's socket buffers and the scheduler all add
noise.  Here both the raw httpx baseline and ``%%gmi --no-history`` read the same
pre-encoded 200-chunk stream from an in-process transport, so what differs between
them is only what each does with the bytes (httpx's own layers are still run).

How: ``httpx.Client`` builds its default transport from ``httpx._client.HTTPTransport``;
for this process that name is pointed at an ``httpx.MockTransport`` serving the bytes
(benchmark-only: the test suite always talks to a real server).  Run in a child
process by ``run.py``, so nothing else sees the patch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOKENS = 200
BASE_URL = "http://127.0.0.1:9/v1"  # never connected to


def stream_bytes(tokens: int) -> list[bytes]:
    """A chat stream as the stand-in sends it: role, tokens, finish, usage, [DONE]."""
    base = {"id": "chatcmpl-offline", "object": "chat.completion.chunk", "created": 0}
    base["model"] = "deepseek-ai/DeepSeek-V3.2-Exp"

    def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [event({"role": "assistant"})] + [event({"content": "tok "})] * tokens
    usage = {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": tokens + 5}
    chunks += [event({}, "stop"), {**base, "choices": [], "usage": usage}]
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def patch_transport(chunks: list[bytes]) -> None:
    """Every ``httpx.Client`` made from now on in this process answers with ``chunks``."""
    import httpx
    import httpx._client

    class Body(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            return iter(chunks)

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Body())

    def transport(*_args: Any, **_kwargs: Any) -> httpx.BaseTransport:
        return httpx.MockTransport(answer)

    httpx._client.HTTPTransport = transport  # type: ignore[misc,assignment]


def in_process(turns: int) -> dict[str, dict[str, float]]:
    """Patch this process's transport, then interleaved turns: medians and minimums."""
    sys.path.insert(0, str(HERE))
    import httpx
    from harness import gmi_shell, median, timed
    from per_turn import BODY, gmi_cell, raw_stream

    patch_transport(stream_bytes(TOKENS))
    ip = gmi_shell(BASE_URL)
    with httpx.Client() as client:
        calls = {
            "raw httpx": raw_stream(client, BASE_URL + "/chat/completions", BODY),
            "text": gmi_cell(ip, "text"),
            "html": gmi_cell(ip, "html"),
        }
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for turn in range(turns + 10):
            for name, call in calls.items():
                wall = timed(call).wall
                if turn >= 10:  # warm-up turns dropped
                    samples[name].append(wall)
    return {k: {"median": median(v), "min": min(v)} for k, v in samples.items()}


def measure(turns: int = 200) -> dict[str, dict[str, float]]:
    """Run ``in_process`` in a fresh process (the transport patch stays there)."""
    done = subprocess.run(
        [sys.executable, __file__, str(turns)], capture_output=True, text=True, check=True
    )
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def rows(result: dict[str, dict[str, float]]) -> list[Any]:
    from harness import Row

    base = result["raw httpx"]
    out = []
    for kind in ("text", "html"):
        mine = result[kind]
        added = mine["median"] - base["median"]
        out.append(
            Row(
                f"per turn, no sockets: `%%gmi --no-history`, {TOKENS} tokens, display={kind}",
                f"raw httpx {base['median'] * 1e3:.2f} ms (fastest {base['min'] * 1e3:.2f})",
                f"{mine['median'] * 1e3:.2f} ms (fastest {mine['min'] * 1e3:.2f})",
                f"{added * 1e3:+.2f} ms median, "
                f"{(mine['min'] - base['min']) * 1e3:+.2f} ms fastest vs fastest",
                "≤ 3 ms added",
                added <= 0.003,
            )
        )
    return out


if __name__ == "__main__":
    print(json.dumps(in_process(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
