"""Fit a request into the model's context window, cheaply.

Tokens are estimated from characters (no tokenizer download): ``ceil(chars /
chars_per_token)`` plus a small per-message overhead, and the ratio is calibrated
against the ``prompt_tokens`` the server reports.  Images in a message's content
parts add a fixed count each, from their size (``content.image_tokens``: 85 + 170
per 512-px tile, OpenAI's rule), never from the length of their base64.  Trimming
drops whole turns, oldest first; the system prompt and the new message are always
sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from ..types import Message
from .content import content_cost

DEFAULT_CONTEXT_TOKENS = 120_000
"""Budget for a model not in the table below."""

REPLY_RESERVE = 0.8
"""Share of a model's context window the prompt may use; the rest is room for the reply."""

T = TypeVar("T")

MIN_CHARS_PER_TOKEN = 1.5
MAX_CHARS_PER_TOKEN = 8.0

# (lower-case substring of the model id, context window); first match wins.
_CONTEXT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("deepseek-v3", 163_840),
    ("deepseek-r1", 163_840),
    ("deepseek", 131_072),
    ("qwen3-vl", 262_144),
    ("qwen3-coder", 262_144),
    ("2507", 262_144),  # Qwen3 *-2507 instruct/thinking releases
    ("qwen3", 32_768),
    ("glm-4.5", 131_072),
    ("glm", 202_752),  # GLM-4.6 / 4.7 / 5
    ("kimi", 262_144),
    ("minimax", 196_608),
)


@dataclass
class TokenEstimator:
    """Estimate prompt tokens from characters; ``calibrate`` learns the real ratio."""

    chars_per_token: float = 4.0
    message_overhead: int = 4
    smoothing: float = 0.3

    def text_tokens(self, text: str) -> int:
        """Estimated tokens of ``text`` alone."""
        return math.ceil(len(text) / self.chars_per_token)

    def message_tokens(self, message: Message) -> int:
        """Estimated tokens of one wire message, overhead included."""
        chars, image_tokens = _message_cost(message)
        return self.message_overhead + math.ceil(chars / self.chars_per_token) + image_tokens

    def calibrate(self, estimated: int, actual_prompt_tokens: int) -> None:
        """Move ``chars_per_token`` toward the ratio the server's count implies."""
        if estimated <= 0 or actual_prompt_tokens <= 0:
            return
        observed = self.chars_per_token * estimated / actual_prompt_tokens
        blended = (1 - self.smoothing) * self.chars_per_token + self.smoothing * observed
        self.chars_per_token = min(MAX_CHARS_PER_TOKEN, max(MIN_CHARS_PER_TOKEN, blended))


def _message_cost(message: Message) -> tuple[int, int]:
    """(characters, image tokens) of one message: text, reasoning, tool calls, images."""
    chars, image_tokens = content_cost(message.get("content") or "")
    chars += len(message.get("reasoning_content") or "")
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        chars += len(function.get("name") or "") + len(function.get("arguments") or "")
    return chars, image_tokens


def turn_token_count(messages: Sequence[Message], estimator: TokenEstimator) -> int:
    """Estimated tokens of one turn's messages (cache it per turn)."""
    return sum(estimator.message_tokens(message) for message in messages)


class MessagesView(Sequence[list[Message]], Generic[T]):
    """Turns read as message lists on demand, so trimming builds only the turns it keeps.

    ``trim_history(head, MessagesView(conversation.turns, Turn.messages), new, ...)``
    """

    def __init__(self, items: Sequence[T], to_messages: Callable[[T], list[Message]]) -> None:
        self.items = items
        self.to_messages = to_messages

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> list[Message]: ...
    @overload
    def __getitem__(self, index: slice) -> list[list[Message]]: ...
    def __getitem__(self, index: int | slice) -> list[Message] | list[list[Message]]:
        if isinstance(index, slice):
            return [self.to_messages(item) for item in self.items[index]]
        return self.to_messages(self.items[index])


def trim_history(
    system: list[Message],
    turns: Sequence[list[Message]],
    new: list[Message],
    *,
    max_tokens: int,
    max_turns: int | None,
    estimator: TokenEstimator,
    turn_tokens: Sequence[int] | None = None,
) -> tuple[list[Message], int]:
    """The messages to send and how many of the oldest turns were left out.

    System messages come first and are never dropped, then the newest whole turns that
    fit ``max_tokens`` (and ``max_turns``), oldest first, then ``new``.  If system and
    new alone overflow, they are sent anyway and every turn is dropped.  With
    ``turn_tokens`` (one count per turn) the work is proportional to the turns kept.
    """
    if turn_tokens is not None and len(turn_tokens) != len(turns):
        raise ValueError(f"turn_tokens has {len(turn_tokens)} counts for {len(turns)} turns")
    room = max_tokens - turn_token_count(system, estimator) - turn_token_count(new, estimator)
    first = _first_kept(turns, room, max_turns, estimator, turn_tokens)
    messages = list(system)
    for index in range(first, len(turns)):
        messages.extend(turns[index])
    messages.extend(new)
    return messages, first


def _first_kept(
    turns: Sequence[list[Message]],
    room: int,
    max_turns: int | None,
    estimator: TokenEstimator,
    turn_tokens: Sequence[int] | None,
) -> int:
    """Index of the oldest turn kept: walk newest → oldest until the budget runs out."""
    count = len(turns)
    stop = 0 if max_turns is None else max(0, count - max(0, max_turns))
    index = count
    while index > stop:
        cost = (
            turn_tokens[index - 1]
            if turn_tokens is not None
            else turn_token_count(turns[index - 1], estimator)
        )
        if cost > room:
            break
        room -= cost
        index -= 1
    return index


def context_limit_for(model: str) -> int:
    """Prompt budget for ``model``: 80% of its known context window, else the default."""
    name = model.lower()
    for fragment, window in _CONTEXT_WINDOWS:
        if fragment in name:
            return int(window * REPLY_RESERVE)
    return DEFAULT_CONTEXT_TOKENS


def trim_note(dropped: int) -> str:
    """One line for the user when history was trimmed (``""`` when nothing was)."""
    if dropped <= 0:
        return ""
    noun = "turn" if dropped == 1 else "turns"
    return f"{dropped} oldest {noun} not sent: context budget"
