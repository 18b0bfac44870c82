"""Benchmark: building one request for a 10,000-turn thread, trimmed to the context budget.

Three figures, each the median of RUNS runs:
- ``trim_history`` alone, with per-turn messages and token counts already at hand;
- ``Conversation.build_messages`` end to end (what a ``%%gmi`` cell pays), after a
  first call has cached every turn's token count;
- the same request with turns read lazily through ``MessagesView`` (only kept turns
  are turned into messages).

Run: ``python benchmarks/bench_context.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness import median, ms

from gmi_magics.chat.budget import (
    TokenEstimator,
    trim_history,
    turn_token_count,
)
from gmi_magics.chat.conversation import Conversation, Turn
from gmi_magics.types import Message, Reply
from gmi_magics.wire.client import GMIClient

TURNS = 10_000
RUNS = 25
TARGET = 0.005
QUESTION = "Explain the difference between a list and a tuple in Python, with examples. " * 3
ANSWER = "A list is mutable; a tuple is not. " * 40


def _timed(work: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return median(times)


def bench_trim() -> tuple[float, int]:
    estimator = TokenEstimator()
    system: list[Message] = [{"role": "system", "content": "Be concise."}]
    new: list[Message] = [{"role": "user", "content": "And a set?"}]
    turns: list[list[Message]] = [
        [{"role": "user", "content": f"{i}: {QUESTION}"}, {"role": "assistant", "content": ANSWER}]
        for i in range(TURNS)
    ]
    counts = [turn_token_count(turn, estimator) for turn in turns]
    _, dropped = trim_history(
        system,
        turns,
        new,
        max_tokens=120_000,
        max_turns=None,
        estimator=estimator,
        turn_tokens=counts,
    )
    seconds = _timed(
        lambda: trim_history(
            system,
            turns,
            new,
            max_tokens=120_000,
            max_turns=None,
            estimator=estimator,
            turn_tokens=counts,
        )
    )
    return seconds, dropped


def bench_conversation() -> tuple[float, int]:
    with GMIClient(api_key="bench-key", base_url="http://127.0.0.1:9") as client:
        conversation = Conversation(client, model="deepseek-ai/DeepSeek-V3.2", system="Be concise.")
        conversation.turns = _turns()
        _, dropped = conversation.build_messages("And a set?")  # fills the token cache
        seconds = _timed(lambda: conversation.build_messages("And a set?"))
    return seconds, dropped


def _turns() -> list[Turn]:
    return [Turn(user=f"{i}: {QUESTION}", reply=Reply(text=ANSWER)) for i in range(TURNS)]


def main() -> None:
    for label, bench in (
        ("trim_history (counts precomputed)", bench_trim),
        ("Conversation.build_messages", bench_conversation),
    ):
        seconds, dropped = bench()
        verdict = "met" if seconds <= TARGET else "NOT met"
        print(
            f"{label}: median {ms(seconds, 2)} over {RUNS} runs, {TURNS:,} turns, "
            f"{TURNS - dropped:,} sent, {dropped:,} trimmed (target ≤ {ms(TARGET)}: {verdict})"
        )


if __name__ == "__main__":
    main()
