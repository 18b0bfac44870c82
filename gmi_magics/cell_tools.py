"""Tools for a cell: ``@tool`` functions, configured and ``--tools`` names, and the
``--confirm`` question before each call."""

from __future__ import annotations

import builtins
import json
from types import FunctionType, MethodType
from typing import Any

from IPython.core.error import UsageError

from .cell_host import Host
from .jsonsafe import loads_bounded
from .settings import DEFAULT_CHAT
from .tools.registry import Tool, ToolRegistry, any_marked
from .tools.schema import ToolSchemaError
from .types import ToolCall

__all__ = ["ask_before_tool_call", "confirm_prompt", "tool_registry"]

MAX_PROMPT_CHARS = 2_000


def tool_registry(host: Host, names: str | None, chat: str = DEFAULT_CHAT) -> ToolRegistry:
    """Tools for a cell: ``@tool`` functions, ``GMIMagics.tools``, the thread's default
    tools (``%gmi tools --chat NAME f g``) and the cell's ``--tools`` names."""
    namespace = host.shell.user_ns
    registry = ToolRegistry()
    wanted = [
        *host.tools,
        *host.session.thread_tools.get(chat, []),
        *(n.strip() for n in (names or "").split(",") if n.strip()),
    ]
    try:
        for value in list(namespace.values()) if any_marked() else ():
            if isinstance(_marker(value), Tool):
                registry.add(value)
        for name in wanted:
            registry.add(_namespace_callable(namespace, name))
    except ToolSchemaError as error:
        raise UsageError(f"Cannot offer that tool to the model: {error}") from None
    return registry


def _marker(value: Any) -> Any:
    """The ``@tool`` marker of a function or method; never runs user ``__getattr__``.

    Called for every value in the namespace on every cell, so it must stay cheap.
    """
    if isinstance(value, MethodType):
        value = value.__func__
    if isinstance(value, FunctionType):
        return value.__dict__.get("__gmi_tool__")
    return None


def _namespace_callable(namespace: dict[str, Any], name: str) -> Any:
    """The callable called ``name`` as a Tool (named after the variable unless decorated)."""
    if name not in namespace:
        raise UsageError(f"--tools: no function named {name!r} in the notebook.")
    value = namespace[name]
    if not callable(value):
        raise UsageError(f"--tools: {name!r} is a {type(value).__name__}, not a function.")
    return value if isinstance(_marker(value), Tool) else Tool.from_callable(value, name=name)


def ask_before_tool_call(call: ToolCall) -> bool:
    """``--confirm``: ask the user (kernel stdin) before running a tool call."""
    try:
        answer = builtins.input(f"Run {confirm_prompt(call)}? [y/N] ")
    except Exception:  # a frontend without stdin cannot confirm: decline
        return False
    return answer.strip().lower() in ("y", "yes")


def confirm_prompt(call: ToolCall) -> str:
    """``name({...})`` on one printable line: the arguments as parsed, re-serialised."""
    try:
        shown = json.dumps(loads_bounded(call.arguments), ensure_ascii=True)
    except (ValueError, RecursionError):
        shown = ascii(call.arguments)
    name = "".join(c for c in call.name if c.isprintable())
    return f"{name}({shown[:MAX_PROMPT_CHARS]}{'…' if len(shown) > MAX_PROMPT_CHARS else ''})"
