"""What a conversation remembers: turns, token spend, and cached token estimates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from ..types import Message, Reply
from .budget import TokenEstimator, turn_token_count
from .content import DATA_URL, Part, decode_data_url, image_size, part_label

__all__ = ["DATA_URL", "Part", "Spend", "Turn", "TurnTokens", "decode_data_url", "image_size"]


@dataclass
class Turn:
    """One exchange: the user's text, any tool-loop messages, and the final reply.

    ``user`` is always the text; ``content``, when set, is the OpenAI list of parts
    (text and images) that was sent in its place.
    """

    user: str
    reply: Reply
    extra: list[Message] = field(default_factory=list)
    cell_id: str | None = None
    tools: list[str] = field(default_factory=list)  # names of the tools offered
    tokens: tuple[float, int] | None = field(default=None, repr=False, compare=False)
    content: list[Part] | None = None

    @property
    def interrupted(self) -> bool:
        return self.reply.interrupted

    def messages(self) -> list[Message]:
        """What this turn contributes to later requests (never the final reasoning)."""
        answer: Message = {"role": "assistant", "content": self.reply.text}
        sent = self.user if self.content is None else cast(str, self.content)  # a list of parts
        return [{"role": "user", "content": sent}, *self.extra, answer]

    def shown_user(self) -> str:
        """The user's message for transcripts: images as ``[image WxH]``, never their URL."""
        if self.content is None:
            return self.user
        return "\n\n".join(_part_text(part) for part in self.content)


def _part_text(part: Part) -> str:
    return str(part.get("text", "")) if part.get("type") == "text" else part_label(part)


@dataclass
class Spend:
    """Tokens one conversation has used, over every request it made."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    by_model: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, reply: Reply, model: str) -> None:
        """Count one request's usage, under the model it asked for."""
        self.requests += 1
        if reply.usage is not None:
            self.count(model, reply.usage.prompt_tokens, reply.usage.completion_tokens)

    def count(self, model: str, tokens_in: int, tokens_out: int) -> None:
        """Add tokens in and out, in total and under ``model``."""
        self.prompt_tokens += tokens_in
        self.completion_tokens += tokens_out
        old_in, old_out = self.by_model.get(model, (0, 0))
        self.by_model[model] = (old_in + tokens_in, old_out + tokens_out)


class TurnTokens(Sequence[int]):
    """Per-turn token estimates, computed on demand and cached per calibration."""

    def __init__(self, turns: Sequence[Turn], estimator: TokenEstimator) -> None:
        self.turns = turns
        self.estimator = estimator

    def __len__(self) -> int:
        return len(self.turns)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        turn = self.turns[index]
        ratio = self.estimator.chars_per_token
        if turn.tokens is None or turn.tokens[0] != ratio:
            turn.tokens = (ratio, turn_token_count(turn.messages(), self.estimator))
        return turn.tokens[1]


def estimate_cost(
    prices: Mapping[str, Any], model: str, tokens_in: int, tokens_out: int
) -> float | None:
    """Cost from per-million-token prices ``{model: (in, out)}``; None when unpriced."""
    price = prices.get(model)
    if not isinstance(price, (list, tuple)) or len(price) != 2:
        return None
    return (tokens_in * float(price[0]) + tokens_out * float(price[1])) / 1_000_000


def with_cost(reply: Reply, prices: Mapping[str, Any]) -> Reply:
    """``reply`` with ``metadata["cost"]`` (every tool round) when its model is priced."""
    usage = reply.usage
    if usage is None:
        return reply
    model = str(reply.metadata.get("requested_model") or reply.model)
    cost = estimate_cost(prices, model, usage.prompt_tokens, usage.completion_tokens)
    return reply if cost is None else replace(reply, metadata={**reply.metadata, "cost": cost})
