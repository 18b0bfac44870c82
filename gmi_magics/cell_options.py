"""A cell's options (magic_arguments) over the settings → one ``RequestOptions``:
model, system prompt or persona, request parameters, tools."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from .cell_host import Host
from .cell_tools import ask_before_tool_call, tool_registry
from .chat.json_replies import json_instruction
from .chat.options import RequestOptions
from .chat.params import (
    ParamError,
    configured_params,
    deep_merge,
    params_from_pairs,
    think_params,
)
from .chat.personas import persona_prompt
from .settings import Settings

__all__ = ["cell_params", "options_from_args", "request_options", "system_prompt"]


def options_from_args(args: Any, host: Host, settings: Settings, text: str) -> RequestOptions:
    """Cell options parsed by magic_arguments, over the settings → ``RequestOptions``."""
    json_format = args.format == "json"
    model = settings.model_id(args.model)
    return request_options(
        host,
        chat=args.chat,
        model=model,
        system=system_prompt(args, settings),
        history=not args.no_history,
        stream=False if args.no_stream else settings.stream,
        cell_id=host.next_turn_key() if settings.rerun == "replace" else None,
        max_history=args.max_history,
        tools=args.tools,
        confirm=args.confirm or settings.confirm_tools,
        instruction=json_instruction(text) if json_format else "",
        params=cell_params(args, settings, model),
    )


def cell_params(args: Any, settings: Settings, model: str) -> dict[str, Any]:
    """Request parameters: the cell's over ``%config`` for this model over every model."""
    if args.think and args.no_think:
        raise UsageError("Use --think or --no-think, not both.")
    try:
        params = configured_params(settings.params, model)
        cell: dict[str, Any] = {
            "temperature": _first(args.temperature, settings.temperature),
            "max_tokens": _first(args.max_tokens, settings.max_tokens),
            "response_format": {"type": "json_object"} if args.format == "json" else None,
        }
        params = deep_merge(params, {k: v for k, v in cell.items() if v is not None})
        if args.think or args.no_think:
            params = deep_merge(params, think_params(model, on=args.think))
        return deep_merge(params, params_from_pairs(args.param))
    except ParamError as error:
        raise UsageError(str(error)) from None


def system_prompt(args: Any, settings: Settings) -> str | None:
    """``-s TEXT`` or ``--persona NAME`` (one of them) for this cell."""
    if args.persona is None:
        return args.system  # type: ignore[no-any-return]
    if args.system is not None:
        raise UsageError("Use -s or --persona, not both: each sets the system prompt.")
    try:
        return persona_prompt(args.persona, settings.personas)
    except KeyError as error:
        raise UsageError(error.args[0]) from None


def request_options(
    host: Host, *, chat: str, tools: str | None, confirm: bool, **values: Any
) -> RequestOptions:
    """The one ``RequestOptions`` of a request: tools resolved, confirmation wired."""
    return RequestOptions.build(
        chat=chat,
        tools=tool_registry(host, tools, chat),
        confirm=ask_before_tool_call if confirm else None,
        **values,
    )


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)
