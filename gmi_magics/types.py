"""Wire shapes (TypedDicts) and the frozen value objects the rest of the package passes around."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, TypedDict

Role = Literal["system", "user", "assistant", "tool"]


class Message(TypedDict, total=False):
    """One chat-completions message as it goes on the wire."""

    role: Role
    content: str | None
    name: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str
    reasoning_content: str


@dataclass(frozen=True)
class Usage:
    """Token counts the server reported for one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cached_tokens + other.cached_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        """The counts by name (``dataclasses.asdict`` without its deep copy: per reply)."""
        return dict(vars(self))

    @classmethod
    def from_wire(cls, data: dict[str, Any] | None) -> Usage | None:
        """Build from an OpenAI/DeepSeek ``usage`` object; ``None`` stays ``None``."""
        if not isinstance(data, dict):
            return None
        details = data.get("completion_tokens_details") or {}
        prompt_details = data.get("prompt_tokens_details") or {}
        prompt = _as_int(data.get("prompt_tokens"))
        completion = _as_int(data.get("completion_tokens"))
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=_as_int(data.get("total_tokens")) or prompt + completion,
            reasoning_tokens=_as_int(details.get("reasoning_tokens")),
            cached_tokens=_as_int(
                prompt_details.get("cached_tokens", data.get("prompt_cache_hit_tokens"))
            ),
        )


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of one streamed tool call; merged by ``index``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class Delta(NamedTuple):
    """One decoded streaming chunk: whatever part of the reply it carried.

    Immutable like the dataclasses here, but a NamedTuple: one is built per chunk.
    """

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """A complete tool call requested by the model."""

    id: str
    name: str
    arguments: str

    def to_wire(self) -> dict[str, Any]:
        """The ``tool_calls`` entry for an assistant message."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


_FENCE = re.compile(
    r"^ {0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.M | re.S
)
PYTHON_LANGUAGES = frozenset({"", "python", "py", "python3", "ipython", "ipython3"})


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block of a reply."""

    language: str
    code: str


@dataclass(frozen=True)
class Reply:
    """One finished (or interrupted) assistant reply."""

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str = ""
    latency: float = 0.0
    interrupted: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return self.text

    @property
    def code_blocks(self) -> list[CodeBlock]:
        """Every fenced code block, in order, with its language ("" when unmarked)."""
        return [
            CodeBlock(match.group(2).lower(), match.group(3).rstrip("\n"))
            for match in _FENCE.finditer(self.text)
        ]

    @property
    def code(self) -> str:
        """The reply's Python code (all blocks when none is Python), fences stripped."""
        blocks = self.code_blocks
        python = [b for b in blocks if b.language in PYTHON_LANGUAGES]
        return "\n\n".join(b.code for b in (python or blocks))


@dataclass(frozen=True)
class ToolBlock:
    """One tool call as the user sees it: name, arguments, result or error, time."""

    name: str
    arguments: str
    output: str
    seconds: float = 0.0
    error: str | None = None


class ResponseInfo(NamedTuple):
    """What a client hook sees of one HTTP response (see ``GMIClient.add_hooks``)."""

    status: int
    headers: Mapping[str, str]
    abort: Callable[[], None]  # shut the connection from any thread: a blocked read ends


class Renderer(Protocol):
    """What shows one reply as it streams: cells and the chat panel alike."""

    def start(self) -> None: ...
    def update(self, text_delta: str, reasoning_delta: str) -> None: ...
    def tool(self, block: ToolBlock) -> None: ...
    def finish(self, reply: Reply, *, notes: Sequence[str] = ..., error: str = ...) -> None: ...
