"""Benchmark 2: what one ``%%gmi`` turn adds over a raw httpx streaming request.

The stand-in server runs in another process; each request gets one 200-piece reply.
Baseline and the two display modes are interleaved (rotating order) turn by turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import Row, Sample, gmi_shell, median, ms, quiet_stdout, timed

TOKENS = 200
TARGET = 0.003
MODEL = "deepseek-ai/DeepSeek-V3.2-Exp"
BODY = {  # what %%gmi --no-history sends for "hi"
    "model": MODEL,
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def raw_stream(client: Any, url: str, body: dict[str, Any]) -> Callable[[], None]:
    """The baseline: POST, iterate SSE lines until ``[DONE]``."""
    headers = {"Authorization": "Bearer bench-key"}

    def call() -> None:
        with client.stream("POST", url, json=body, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data: [DONE]"):
                    break

    return call


def gmi_cell(ip: Any, kind: str) -> Callable[[], None]:
    magics = ip.magics_manager.registry["GMIMagics"]

    def call() -> None:
        magics.display = kind
        with quiet_stdout():
            ip.run_cell_magic("gmi", "--no-history", "hi")

    return call


def measure(server: Any, turns: int, *, tokens: int = TOKENS, warmup: int = 2) -> dict:
    import httpx

    ip = gmi_shell(server.base_url)
    with httpx.Client() as client:
        calls = {
            "raw httpx": raw_stream(client, server.base_url + "/chat/completions", BODY),
            "text": gmi_cell(ip, "text"),
            "html": gmi_cell(ip, "html"),
        }
        server.enqueue("tok", tokens, (warmup + turns) * len(calls))
        rounds: list[dict[str, Sample]] = []
        order = list(calls)
        for turn in range(warmup + turns):
            order = order[1:] + order[:1]
            samples = {name: timed(calls[name]) for name in order}
            if turn >= warmup:
                rounds.append(samples)
    server.check_drained("per-turn benchmark")
    result: dict[str, Any] = {"turns": turns, "tokens": tokens}
    for name in calls:
        result[name] = {
            "wall": median([r[name].wall for r in rounds]),
            "cpu": median([r[name].cpu for r in rounds]),
            "added": median([r[name].wall - r["raw httpx"].wall for r in rounds]),
            "cpu_added": median([r[name].cpu - r["raw httpx"].cpu for r in rounds]),
        }
    return result


def rows(result: dict) -> list[Row]:
    base = result["raw httpx"]
    out = []
    for kind in ("text", "html"):
        mine = result[kind]
        added = mine["added"]
        out.append(
            Row(
                f"per turn: `%%gmi --no-history`, {result['tokens']} tokens, display={kind} "
                f"(median of {result['turns']}; CPU in brackets)",
                f"raw httpx {ms(base['wall'], 2)} ({ms(base['cpu'], 2)} CPU)",
                f"{ms(mine['wall'], 2)} ({ms(mine['cpu'], 2)} CPU)",
                f"{added * 1000:+.2f} ms ({mine['cpu_added'] * 1000:+.2f} ms CPU); "
                "median of paired differences",
                "≤ 3 ms added",
                added <= TARGET,
            )
        )
    return out
