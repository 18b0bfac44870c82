"""Benchmark 3: the cost of showing long replies while they stream.

* direct: N realistic ~4-character deltas fed to ``BlockRenderer`` (a cell's html
  display) / ``TextRenderer`` as fast as Python can, with the real clock, then ``finish(reply)``;
* paced: the same ``BlockRenderer`` under a simulated token rate (a clock that is the
  real clock plus the simulated gaps between tokens), so the throttle sees a real
  stream's timing while the benchmark does not sleep;
* end to end: ``%%gmi`` through the shell against the stand-in server process, next
  to a raw httpx read of the same stream.

Displays go to a publisher that JSON-encodes each message (as a kernel would) and
drops it; "sent" is the total size of those messages, i.e. what a frontend receives.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from corpus import deltas
from harness import NullWriter, Row, Sample, gmi_shell, kib, median, ms, quiet_stdout, shell, timed

TARGET_RATIO = 12.0
MIN_RUN = 0.05  # seconds of CPU per sample, at least


def _reply(pieces: list[str]) -> Any:
    from gmi_magics.types import Reply, Usage

    usage = Usage(prompt_tokens=1, completion_tokens=len(pieces), total_tokens=len(pieces) + 1)
    text = "".join(pieces).strip()
    return Reply(text=text, usage=usage, finish_reason="stop", model="stand-in", latency=1.0)


class PacedClock:
    """The real clock plus simulated waiting: ``advance()`` one token gap per delta."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate
        self.offset = 0.0
        self.start = time.monotonic()

    def advance(self) -> None:
        self.offset += self.gap

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def elapsed(self) -> float:
        return self() - self.start


def _feed(renderer: Any, pieces: list[str], reply: Any, tick: Callable[[], None]) -> None:
    renderer.start()
    update = renderer.update
    for piece in pieces:
        tick()
        update(piece, "")
    renderer.finish(reply)


@dataclass
class Feed:
    """One measured stream: time, display updates, bytes sent, stream duration."""

    sample: Sample
    updates: int
    sent: int
    stream: float


def _one_feed(kind: str, pieces: list[str], reply: Any, rate: float | None) -> Feed:
    from gmi_magics.display.render import BlockRenderer, TextRenderer

    publisher = shell().display_pub
    publisher.reset()
    clock = PacedClock(rate) if rate else None
    if kind == "text":
        renderer: Any = TextRenderer(stream=NullWriter())
    else:
        renderer = BlockRenderer(clock=clock) if clock else BlockRenderer()
    tick = clock.advance if clock else (lambda: None)
    sample = timed(lambda: _feed(renderer, pieces, reply, tick))
    stream = clock.elapsed() if clock else sample.wall
    return Feed(sample, getattr(renderer, "updates", 0), publisher.bytes, stream)


def _alternate(sizes: tuple[int, ...], run: int) -> tuple[int, ...]:
    return sizes if run % 2 == 0 else sizes[::-1]


def direct(
    kind: str, sizes: tuple[int, ...], runs: int, rate: float | None = None
) -> dict[int, dict]:
    """Drive a renderer directly, the sizes interleaved run by run.

    ``rate`` (tokens/s) simulates pacing.  A run shorter than ``MIN_RUN`` seconds of
    CPU is repeated and averaged (as ``timeit`` does), so clock noise does not swamp
    a cheap renderer.
    """
    inputs = {n: (pieces, _reply(pieces)) for n in sizes for pieces in [deltas(n)]}
    repeat = {}
    for n, (pieces, reply) in inputs.items():
        first = _one_feed(kind, pieces, reply, rate)  # warm-up and calibration
        repeat[n] = 1 if rate else max(1, math.ceil(MIN_RUN / max(first.sample.cpu, 1e-6)))
    results: dict[int, list[Feed]] = {n: [] for n in sizes}
    for run in range(runs):
        for n in _alternate(sizes, run):
            feeds = [_one_feed(kind, *inputs[n], rate) for _ in range(repeat[n])]
            wall = sum(f.sample.wall for f in feeds) / repeat[n]
            cpu = sum(f.sample.cpu for f in feeds) / repeat[n]
            last = feeds[-1]
            results[n].append(Feed(Sample(wall, cpu), last.updates, last.sent, last.stream))
    return {n: _summary(values, n, runs) for n, values in results.items()}


def _summary(results: list[Feed], tokens: int, runs: int) -> dict:
    return {
        "wall": median([r.sample.wall for r in results]),
        "cpu": median([r.sample.cpu for r in results]),
        "cpu_runs": [r.sample.cpu for r in results],
        "updates": median([r.updates for r in results]),
        "bytes": median([r.sent for r in results]),
        "stream": median([r.stream for r in results]),
        "tokens": tokens,
        "runs": runs,
    }


def end_to_end(server: Any, sizes: tuple[int, ...], runs: int) -> dict[int, dict[str, dict]]:
    """``%%gmi`` (html, text) and raw httpx on realistic markdown streams, interleaved:
    sizes alternate run by run, and the three clients rotate within each size."""
    import httpx
    from per_turn import BODY, gmi_cell, raw_stream

    ip = gmi_shell(server.base_url)
    publisher = ip.display_pub
    names = ("raw httpx", "text", "html")
    results = {(n, name): [] for n in sizes for name in names}
    with httpx.Client(timeout=60) as client:
        calls = {
            "raw httpx": raw_stream(client, server.base_url + "/chat/completions", BODY),
            "text": gmi_cell(ip, "text"),
            "html": gmi_cell(ip, "html"),
        }
        for run in range(runs):
            for n in _alternate(sizes, run):
                for name in names[run % 3 :] + names[: run % 3]:
                    server.enqueue("md", n, 1)
                    publisher.reset()
                    with quiet_stdout():
                        sample = timed(calls[name])
                    feed = Feed(sample, publisher.count, publisher.bytes, sample.wall)
                    results[(n, name)].append(feed)
    server.check_drained("end-to-end streaming benchmark")
    return {n: {name: _summary(results[(n, name)], n, runs) for name in names} for n in sizes}


# --- rows ----------------------------------------------------------------------------


def _describe(result: dict, *, updates: bool = True, per_stream: bool = False) -> str:
    parts = [f"CPU {ms(result['cpu'], 0)}"]
    if not per_stream:  # a paced run's wall time is simulated: see the label
        parts.append(f"wall {ms(result['wall'], 0)}")
    if updates:
        rate = result["updates"] / result["stream"] if result["stream"] else 0.0
        parts.append(f"{result['updates']:.0f} updates ({rate:.1f}/s)")
        parts.append(f"sent {kib(result['bytes'])}")
    if per_stream:
        parts.append(f"CPU = {100 * result['cpu'] / result['stream']:.0f}% of stream time")
    return ", ".join(parts)


def _ratio_row(label: str, small: dict, big: dict, target: bool = True) -> Row:
    ratio = median([b / s for s, b in zip(small["cpu_runs"], big["cpu_runs"], strict=True)])
    size = big["tokens"] / small["tokens"]
    return Row(
        label,
        f"{size:.0f}× the tokens",
        f"CPU {ms(small['cpu'], 0)} → {ms(big['cpu'], 0)}",
        f"{ratio:.1f}× (median of paired runs)",
        f"≤ {TARGET_RATIO:.0f}×" if target else "(info; linear ≈ 10×)",
        ratio <= TARGET_RATIO if target else None,
    )


def direct_rows(results: dict[tuple[str, int], dict], small: int, big: int) -> list[Row]:
    rows = []
    for kind, name in (("html", "BlockRenderer"), ("text", "TextRenderer")):
        for tokens in (small, big):
            r = results[(kind, tokens)]
            rows.append(
                Row(
                    f"stream: {name} direct, {tokens:,} deltas, full speed (median of {r['runs']})",
                    "—",
                    _describe(r, updates=kind == "html"),
                    "",
                    "(info)",
                )
            )
        rows.append(
            _ratio_row(
                f"stream: {name} direct, CPU({big // 1000}k) / CPU({small // 1000}k)",
                results[(kind, small)],
                results[(kind, big)],
            )
        )
    return rows


def paced_rows(results: dict[tuple[int, float], dict]) -> list[Row]:
    rows = []
    for (tokens, rate), r in sorted(results.items()):
        rows.append(
            Row(
                f"stream: BlockRenderer paced at {rate:,.0f} tok/s, {tokens:,} deltas "
                f"(simulated {r['stream']:.0f} s; median of {r['runs']})",
                "—",
                _describe(r, per_stream=True),
                "",
                "(info)",
            )
        )
    rates = sorted({rate for _, rate in results})
    for rate in rates:
        sizes = sorted(tokens for tokens, r in results if r == rate)
        if len(sizes) < 2:
            continue
        small, big = results[(sizes[0], rate)], results[(sizes[-1], rate)]
        ratio = big["cpu"] / small["cpu"]
        rows.append(
            Row(
                f"stream: BlockRenderer paced at {rate:,.0f} tok/s, "
                f"CPU({sizes[-1] // 1000}k) / CPU({sizes[0] // 1000}k)",
                f"{sizes[-1] / sizes[0]:.0f}× the tokens",
                f"CPU {ms(small['cpu'], 0)} → {ms(big['cpu'], 0)}",
                f"{ratio:.1f}× (ratio of medians)",
                f"≤ {TARGET_RATIO:.0f}× (DESIGN: linear; not the brief's full-speed target)",
                ratio <= TARGET_RATIO,
            )
        )
    return rows


def e2e_rows(results: dict[int, dict[str, dict]], small: int, big: int) -> list[Row]:
    rows = []
    for tokens in (small, big):
        base = results[tokens]["raw httpx"]
        for kind in ("text", "html"):
            r = results[tokens][kind]
            rows.append(
                Row(
                    f"stream: `%%gmi` end to end, display={kind}, {tokens:,} tokens "
                    f"(median of {r['runs']})",
                    f"raw httpx: CPU {ms(base['cpu'], 0)}, wall {ms(base['wall'], 0)}",
                    _describe(r, updates=kind == "html"),
                    f"+{ms(r['wall'] - base['wall'], 0)} wall",
                    "(info)",
                )
            )
    for kind in ("text", "html"):
        rows.append(
            _ratio_row(
                f"stream: `%%gmi` end to end, display={kind}, CPU({big // 1000}k) / "
                f"CPU({small // 1000}k)",
                results[small][kind],
                results[big][kind],
            )
        )
    return rows
