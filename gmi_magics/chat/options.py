"""``RequestOptions``: everything one request needs besides its text, built once.

A ``%%gmi`` cell, ``%gmi retry``, the chat panel and the Python API each build one
frozen ``RequestOptions`` and hand it down unchanged: session → conversation → tool
loop → client.  A new option is one new field here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from ..settings import DEFAULT_CHAT
from ..tools.registry import ToolRegistry
from ..types import ToolCall

ConfirmCallback = Callable[[ToolCall], bool]


@dataclass(frozen=True)
class RequestOptions:
    """Per-request options; ``params`` are sent as-is in the request body."""

    model: str | None = None
    system: str | None = None
    history: bool = True
    stream: bool = True
    chat: str = DEFAULT_CHAT
    cell_id: str | None = None
    max_history: int | None = None
    tools: ToolRegistry | Iterable[Any] | None = None  # a registry, or callables / Tools
    confirm: ConfirmCallback | None = None
    instruction: str = ""  # appended to this request's user message only, never to history
    images: tuple[dict[str, Any], ...] = ()  # image_url content parts, sent after the text
    context: str = ""  # a notebook-context block sent (and kept) before the text
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean = {k: v for k, v in self.params.items() if v is not None}
        object.__setattr__(self, "params", MappingProxyType(clean))

    @classmethod
    def build(cls, **values: Any) -> RequestOptions:
        """Known names become fields; anything else (``temperature=…``) a request param."""
        return cls().updated(**values)

    def updated(self, **values: Any) -> RequestOptions:
        """A copy with fields replaced and extra names merged into ``params``."""
        if not values:
            return self
        names = _field_names()
        known = {k: v for k, v in values.items() if k in names and k != "params"}
        extra = {k: v for k, v in values.items() if k not in names}
        params = {**self.params, **values.get("params", {}), **extra}
        return replace(self, **known, params=params)

    @property
    def max_tokens(self) -> int | None:
        value = self.params.get("max_tokens")
        return value if isinstance(value, int) else None


@functools.cache
def _field_names() -> frozenset[str]:
    return frozenset(f.name for f in fields(RequestOptions))
