"""Tools the model may call: a registry of Python callables and a safe way to run calls.

>>> @tool
... def add(a: int, b: int) -> int:
...     '''Add two numbers.'''
...     return a + b
>>> registry = ToolRegistry([add])
>>> run_tool_call(ToolCall("call_1", "add", '{"a": 1, "b": 2}'), registry).output
'3'

A failing call never raises (only ``KeyboardInterrupt`` and friends propagate): it
becomes a ``ToolResult`` whose ``output`` starts with ``"Error: "`` so the model can
read what went wrong and try again.
"""

from __future__ import annotations

import dataclasses
import json
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from ..context.clipping import describe_exception
from ..context.preview import preview
from ..jsonsafe import loads_bounded
from ..types import Message, ToolCall
from .schema import coerce_arguments, function_schema, validate_arguments

__all__ = [
    "MAX_OUTPUT_CHARS",
    "Tool",
    "ToolRegistry",
    "ToolResult",
    "default_serialise",
    "run_tool_call",
    "run_tool_calls",
    "tool",
]

MAX_OUTPUT_CHARS = 20_000
"""Longest tool output ``default_serialise`` returns to the model."""

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Tool:
    """A callable with the JSON schema the model sees for it."""

    name: str
    func: Callable[..., Any]
    schema: dict[str, Any]

    @classmethod
    def from_callable(
        cls,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Tool:
        """Build from ``func``, reusing what ``@tool`` attached to it if anything."""
        attached = getattr(func, "__gmi_tool__", None)
        if isinstance(attached, Tool):
            if attached.func is func and name is None and description is None:
                return attached
            # A bound method of a decorated function, or new overrides: recompute.
            name = attached.name if name is None else name
            if description is None:
                description = attached.description
        schema = function_schema(func, name=name, description=description)
        return cls(schema["function"]["name"], func, schema)

    @property
    def description(self) -> str | None:
        """The description the model sees, if any."""
        text: str | None = self.schema["function"].get("description")
        return text


_marked: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()  # the live @tool functions


@overload
def tool(func: _F, /) -> _F: ...
@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[_F], _F]: ...
def tool(
    func: _F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> _F | Callable[[_F], _F]:
    """Mark a function as a tool: ``@tool`` or ``@tool(name=..., description=...)``.

    The schema is built now, so a function that cannot be a tool fails at its
    definition with ``ToolSchemaError``. The function is returned unchanged, with
    its ``Tool`` in ``__gmi_tool__``.
    """

    def attach(f: _F) -> _F:
        f.__gmi_tool__ = Tool.from_callable(  # type: ignore[attr-defined]
            f, name=name, description=description
        )
        _marked.add(f)
        return f

    return attach if func is None else attach(func)


def any_marked() -> bool:
    """Whether a function marked with ``@tool`` is alive in this process (a cell looks
    for them in the namespace only then: the scan costs per name, on every cell)."""
    return bool(_marked)


class ToolRegistry:
    """The tools offered to the model, by name; adding a name again replaces it."""

    def __init__(self, tools: Iterable[Callable[..., Any] | Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, func_or_tool: Callable[..., Any] | Tool) -> Tool:
        """Register a callable (or a ready ``Tool``) and return its ``Tool``."""
        item = func_or_tool if isinstance(func_or_tool, Tool) else Tool.from_callable(func_or_tool)
        self._tools[item.name] = item
        return item

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or ``None``."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The request's ``tools`` array."""
        return [item.schema for item in self._tools.values()]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._tools)})"


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call, ready to go back to the model."""

    call: ToolCall
    output: str
    """What the model reads as the tool message's ``content``."""
    value: Any = None
    """The Python return value (``None`` when the call failed)."""
    error: str | None = None
    """Why the call failed (``output`` is then ``"Error: " + error``)."""
    seconds: float = 0.0
    """Time spent in the function itself."""
    exception: Exception | None = field(default=None, compare=False, repr=False)
    """The exception the tool raised, kept for debugging; never sent to the model."""

    @property
    def ok(self) -> bool:
        """True if the function ran and returned."""
        return self.error is None

    def to_message(self) -> Message:
        """The ``{"role": "tool", ...}`` message answering the call."""
        return {"role": "tool", "tool_call_id": self.call.id, "content": self.output}


def default_serialise(value: Any, *, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """Tool output for the model: strings as is, JSON where possible, else a preview.

    The result is cut to ``max_chars`` with a marker saying how much was dropped.
    """
    if isinstance(value, str):
        text = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        text = _json(dataclasses.asdict(value)) or _preview(value)
    elif value is None or isinstance(value, (bool, int, float, dict, list, tuple)):
        text = _json(value) or _preview(value)
    else:
        text = _preview(value)
    return _clip(text, max_chars)


def _json(value: Any) -> str | None:
    """JSON text, or ``None`` for non-string keys or circular references."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return None


def _preview(value: Any) -> str:
    return preview(value, max_chars=2000)  # pandas/numpy-aware, imports neither


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    marker = f"\n… [truncated, {len(text) - max_chars:,} more chars]"
    return text[:max_chars] + marker


MAX_CALLS_PER_ROUND = 16
TOO_MANY_CALLS = (
    f"not run: at most {MAX_CALLS_PER_ROUND} tool calls run in one round; "
    "ask for the rest in the next round."
)


def run_tool_call(
    call: ToolCall,
    registry: ToolRegistry,
    *,
    serialise: Callable[[Any], str] = default_serialise,
    confirm: Callable[[ToolCall], bool] | None = None,
) -> ToolResult:
    """Validate, confirm and run one call; every failure becomes an error result."""
    item = registry.get(call.name)
    if item is None:
        available = ", ".join(registry.names) or "(none)"
        return _failed(call, f"unknown tool {call.name!r}. Available tools: {available}")
    arguments = _parse_arguments(call.arguments)
    if isinstance(arguments, str):
        return _failed(call, arguments)
    problems = validate_arguments(item.schema, arguments)
    if problems:
        return _failed(call, "invalid arguments: " + "; ".join(problems))
    if confirm is not None and not confirm(call):
        return _failed(call, "the user declined this call.")
    return _invoke(call, item, arguments, serialise)


def run_tool_calls(
    calls: Iterable[ToolCall],
    registry: ToolRegistry,
    *,
    serialise: Callable[[Any], str] = default_serialise,
    confirm: Callable[[ToolCall], bool] | None = None,
) -> list[ToolResult]:
    """Run ``calls`` one after another, in order; past ``MAX_CALLS_PER_ROUND`` none runs."""
    results = []
    for number, call in enumerate(calls):
        if number >= MAX_CALLS_PER_ROUND:
            results.append(_failed(call, TOO_MANY_CALLS))
        else:
            results.append(run_tool_call(call, registry, serialise=serialise, confirm=confirm))
    return results


def _parse_arguments(text: str) -> dict[str, Any] | str:
    """The decoded arguments object, or an error message."""
    if not text.strip():
        return {}
    try:
        value = loads_bounded(text)  # deeply nested: an error result, not RecursionError
    except ValueError as exc:
        return f"arguments are not valid JSON ({exc})"
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else "null"
        return f"arguments must be a JSON object, not {kind}"
    return value


def _invoke(
    call: ToolCall,
    item: Tool,
    arguments: dict[str, Any],
    serialise: Callable[[Any], str],
) -> ToolResult:
    start = time.perf_counter()
    try:
        value = item.func(**coerce_arguments(item.func, arguments))
    except Exception as exc:  # the model should see it; KeyboardInterrupt propagates
        return _failed(call, describe_exception(exc), time.perf_counter() - start, exc)
    seconds = time.perf_counter() - start
    try:
        output = serialise(value)
    except Exception as exc:
        message = f"could not serialise the result: {describe_exception(exc)}"
        return _failed(call, message, seconds, exc)
    return ToolResult(call, output, value, None, seconds)


def _failed(
    call: ToolCall, error: str, seconds: float = 0.0, exc: Exception | None = None
) -> ToolResult:
    return ToolResult(call, f"Error: {error}", None, error, seconds, exc)
