"""Token estimation and history trimming (``gmi_magics.chat.budget``)."""

from __future__ import annotations

import time

import pytest

from gmi_magics.chat.budget import (
    DEFAULT_CONTEXT_TOKENS,
    MessagesView,
    TokenEstimator,
    context_limit_for,
    trim_history,
    trim_note,
    turn_token_count,
)
from gmi_magics.types import Message

SYSTEM: list[Message] = [{"role": "system", "content": "s" * 40}]  # 4 + 10 tokens
NEW: list[Message] = [{"role": "user", "content": "n" * 40}]  # 14 tokens


def _turn(index: int, chars: int = 40) -> list[Message]:
    """A user + assistant turn costing 2 × (4 + chars/4) tokens at 4 chars/token."""
    return [
        {"role": "user", "content": f"{index:0{chars}d}"},
        {"role": "assistant", "content": "a" * chars},
    ]


def test_estimates_chars_over_four_plus_overhead() -> None:
    estimator = TokenEstimator()
    assert estimator.text_tokens("") == 0
    assert estimator.text_tokens("abcde") == 2
    assert estimator.message_tokens({"role": "user", "content": "a" * 8}) == 6
    assert estimator.message_tokens({"role": "assistant", "content": None}) == 4
    call = {"id": "c", "type": "function", "function": {"name": "abcd", "arguments": "{}"}}
    assert estimator.message_tokens({"role": "assistant", "tool_calls": [call]}) == 4 + 2
    assert turn_token_count(_turn(1), estimator) == 28


def test_calibration_moves_toward_the_observed_ratio() -> None:
    estimator = TokenEstimator()
    estimator.calibrate(estimated=100, actual_prompt_tokens=200)  # really 2 chars/token
    assert 2.0 < estimator.chars_per_token < 4.0
    for _ in range(50):
        estimator.calibrate(estimated=estimator.text_tokens("x" * 400), actual_prompt_tokens=200)
    assert estimator.chars_per_token == pytest.approx(2.0, rel=0.02)


@pytest.mark.parametrize(("actual", "bound"), [(1, 8.0), (10**9, 1.5)])
def test_calibration_is_bounded(actual: int, bound: float) -> None:
    estimator = TokenEstimator()
    for _ in range(100):
        estimator.calibrate(estimated=1000, actual_prompt_tokens=actual)
    assert estimator.chars_per_token == bound


def test_calibration_ignores_empty_counts() -> None:
    estimator = TokenEstimator()
    estimator.calibrate(0, 100)
    estimator.calibrate(100, 0)
    assert estimator.chars_per_token == 4.0


def test_everything_fits() -> None:
    turns = [_turn(i) for i in range(3)]
    messages, dropped = trim_history(
        SYSTEM, turns, NEW, max_tokens=10_000, max_turns=None, estimator=TokenEstimator()
    )
    assert dropped == 0
    assert messages == [*SYSTEM, *turns[0], *turns[1], *turns[2], *NEW]


def test_keeps_system_and_newest_whole_turns() -> None:
    turns = [_turn(i) for i in range(10)]
    # 28 (system + new) + 3 turns × 28 = 112; one token short of a fourth turn
    messages, dropped = trim_history(
        SYSTEM, turns, NEW, max_tokens=28 + 3 * 28 + 27, max_turns=None, estimator=TokenEstimator()
    )
    assert dropped == 7
    assert messages == [*SYSTEM, *turns[7], *turns[8], *turns[9], *NEW]
    assert len(messages) % 2 == 0  # no half turns


def test_stops_at_the_first_turn_that_does_not_fit() -> None:
    turns = [_turn(0), _turn(1, chars=4000), _turn(2)]
    messages, dropped = trim_history(
        SYSTEM, turns, NEW, max_tokens=200, max_turns=None, estimator=TokenEstimator()
    )
    assert dropped == 2  # the small oldest turn is not sent without the big one after it
    assert messages == [*SYSTEM, *turns[2], *NEW]


def test_max_turns_keeps_the_newest() -> None:
    turns = [_turn(i) for i in range(5)]
    estimator = TokenEstimator()
    messages, dropped = trim_history(
        SYSTEM, turns, NEW, max_tokens=10_000, max_turns=2, estimator=estimator
    )
    assert dropped == 3
    assert messages == [*SYSTEM, *turns[3], *turns[4], *NEW]
    assert trim_history([], turns, NEW, max_tokens=10_000, max_turns=0, estimator=estimator) == (
        NEW,
        5,
    )


def test_overflow_still_sends_system_and_new_message() -> None:
    turns = [_turn(i) for i in range(4)]
    big: list[Message] = [{"role": "user", "content": "x" * 10_000}]
    messages, dropped = trim_history(
        SYSTEM, turns, big, max_tokens=100, max_turns=None, estimator=TokenEstimator()
    )
    assert (messages, dropped) == ([*SYSTEM, *big], 4)


def test_precomputed_counts_are_used_and_checked() -> None:
    turns = [_turn(i) for i in range(4)]
    estimator = TokenEstimator()
    messages, dropped = trim_history(
        SYSTEM,
        turns,
        NEW,
        max_tokens=100,
        max_turns=None,
        estimator=estimator,
        turn_tokens=[1, 1, 80, 1],
    )
    assert dropped == 3 and messages == [*SYSTEM, *turns[3], *NEW]  # estimates say 2 fit
    with pytest.raises(ValueError, match="3 counts for 4 turns"):
        trim_history(
            SYSTEM,
            turns,
            NEW,
            max_tokens=100,
            max_turns=None,
            estimator=estimator,
            turn_tokens=[1, 1, 1],
        )


def test_ten_thousand_turns_trim_fast() -> None:
    estimator = TokenEstimator()
    turns = [_turn(i, chars=400) for i in range(10_000)]
    counts = [turn_token_count(turn, estimator) for turn in turns]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        messages, dropped = trim_history(
            SYSTEM,
            turns,
            NEW,
            max_tokens=120_000,
            max_turns=None,
            estimator=estimator,
            turn_tokens=counts,
        )
        best = min(best, time.perf_counter() - started)
    assert 0 < dropped < 10_000
    assert len(messages) == 2 + 2 * (10_000 - dropped)
    assert best < 0.050


def test_messages_view_builds_only_the_kept_turns() -> None:
    built: list[int] = []

    def to_messages(index: int) -> list[Message]:
        built.append(index)
        return _turn(index)

    view = MessagesView(range(1000), to_messages)
    assert len(view) == 1000 and view[1:3] == [_turn(1), _turn(2)]
    built.clear()
    messages, dropped = trim_history(
        SYSTEM,
        view,
        NEW,
        max_tokens=28 + 2 * 28,
        max_turns=None,
        estimator=TokenEstimator(),
        turn_tokens=[28] * 1000,
    )
    assert dropped == 998
    assert messages == [*SYSTEM, *_turn(998), *_turn(999), *NEW]
    assert sorted(built) == [998, 999]


def test_context_limits() -> None:
    assert context_limit_for("deepseek-ai/DeepSeek-V3.2-Exp") == int(163_840 * 0.8)
    assert context_limit_for("Qwen/Qwen3-32B") == int(32_768 * 0.8)
    assert context_limit_for("moonshotai/Kimi-K2-Thinking") == int(262_144 * 0.8)
    assert context_limit_for("zai-org/GLM-4.6") < 202_752
    assert context_limit_for("some/unknown-model") == DEFAULT_CONTEXT_TOKENS


@pytest.mark.parametrize(
    ("dropped", "note"),
    [
        (0, ""),
        (1, "1 oldest turn not sent: context budget"),
        (2, "2 oldest turns not sent: context budget"),
    ],
)
def test_trim_note(dropped: int, note: str) -> None:
    assert trim_note(dropped) == note
