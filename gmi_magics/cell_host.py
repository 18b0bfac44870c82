"""What a cell and the subcommands need from ``GMIMagics`` (the door), as a Protocol."""

from __future__ import annotations

from typing import Any, Protocol

from .session import Session
from .settings import Settings

__all__ = ["Host"]


class Host(Protocol):
    """What a cell and the subcommands need from ``GMIMagics`` (the door)."""

    shell: Any
    tools: list[str]
    aliases: dict[str, str]
    personas: dict[str, str]
    context_cells: int
    max_image_side: int

    @property
    def session(self) -> Session: ...
    def settings(self) -> Settings: ...
    def renderer_kind(self) -> str: ...
    def next_turn_key(self) -> str | None: ...
