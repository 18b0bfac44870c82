"""One ``%%gmi`` cell, behind the thin magic: context, tools, formats, output."""

from __future__ import annotations

import builtins
import json
import re
import sys
from pathlib import Path
from types import FunctionType, MethodType
from typing import Any, Protocol

from IPython.core.error import UsageError

from .chat.images import MAX_IMAGE_SIDE, encode_image, image_source
from .chat.options import RequestOptions
from .chat.params import (
    ParamError,
    configured_params,
    deep_merge,
    params_from_pairs,
    think_params,
)
from .chat.personas import persona_prompt
from .context.explain import exception_report
from .context.interpolate import interpolate_with_notes
from .context.notebook import (
    NotebookContext,
    context_block,
    error_report,
    raising_cell,
    recent_cells,
)
from .context.references import InterpolationError, evaluate
from .context.secret_check import SecretValueError
from .display.render import RendererKind, make_renderer
from .errors import GMIError
from .jsonsafe import loads_bounded
from .session import Session
from .settings import DEFAULT_CHAT, Settings, find_api_key
from .tools.registry import Tool, ToolRegistry
from .tools.schema import ToolSchemaError
from .types import Reply, ToolCall

MAX_CELL_CHARS = 1_000_000
MAX_PROMPT_CHARS = 2_000
MAX_IMAGES = 16  # images one message may carry (--image and --context together)
JSON_INSTRUCTION = "\n\nAnswer with a single JSON object only."  # sent, never in history


class ReplyFormatError(GMIError):
    """The reply could not be read in the requested format."""

    hint = "The reply is kept in the conversation; ask again, or use -f markdown."


class Host(Protocol):
    """What a cell and the subcommands need from ``GMIMagics`` (the door)."""

    shell: Any
    tools: list[str]
    aliases: dict[str, str]
    personas: dict[str, str]

    @property
    def session(self) -> Session: ...
    def settings(self) -> Settings: ...
    def renderer_kind(self) -> str: ...
    def next_turn_key(self) -> str | None: ...


def run_cell(host: Host, args: Any, text: str) -> Reply:
    """One ``%%gmi`` cell (or ``%gmi`` line) from parsed options to stored output."""
    namespace = host.shell.user_ns
    settings = host.settings()
    if not args.no_interpolate:
        text = fill_in(text, namespace, find_api_key(settings.api_key_env))
    if args.error:  # after filling in: the report quotes code, never interpolated
        text = "\n\n".join(part for part in (last_error_report(host.shell), text) if part)
    options = options_from_args(args, host, settings, text)
    options = options.updated(**notebook_parts(host, args, settings))
    reply = ask(host, text, options, kind="text" if args.format == "text" else None)
    value: Any = reply
    if args.format == "code" and not reply.interrupted:
        if reply.code:
            host.shell.set_next_input(reply.code, replace=False)
        else:
            print("The reply has no code block, so no new cell was made.")
    if args.format == "json" and not reply.interrupted:
        value = parse_json_reply(reply)
    if args.out:
        namespace[args.out] = value
    return reply


def notebook_parts(host: Host, args: Any, settings: Settings) -> dict[str, Any]:
    """``images`` (``--image``, and ``--context``'s figures) and the ``context`` block."""
    count = args.context if args.context is not None else getattr(host, "context_cells", 0)
    if count < 0:
        raise UsageError(f"--context takes a number of cells (0 or more), not {count}.")
    labelled = named_images(args.image, host.shell.user_ns)
    block = (
        notebook_context(host.shell, count, find_api_key(settings.api_key_env)) if count else None
    )
    if block is not None:
        labelled += block.images
        for number in block.left_out:
            print(f"Cell In [{number}] was left out of the context: it shows your API key.")
    if len(labelled) > MAX_IMAGES:
        raise UsageError(f"{len(labelled)} images; one message takes at most {MAX_IMAGES}.")
    max_side = getattr(host, "max_image_side", MAX_IMAGE_SIDE)
    parts = [encode_image(value, label, max_side).part() for label, value in labelled]
    images = tuple({part["image_url"]["url"]: part for part in parts}.values())  # once each
    return {"images": images, "context": block.text if block is not None else ""}


def named_images(words: list[str], namespace: dict[str, Any]) -> list[tuple[str, Any]]:
    """``--image a,b --image c``: each name's value (interpolation rules) or a file path."""
    names = [name.strip() for word in words for name in word.split(",") if name.strip()]
    return [(name, _image_value(name, namespace)) for name in names]


def _image_value(name: str, namespace: dict[str, Any]) -> Any:
    try:
        return evaluate(name, namespace)
    except InterpolationError as error:
        if Path(name).expanduser().is_file():
            return name  # the literal path form: --image plots/fig1.png
        raise UsageError(
            f"--image {name}: {error.reason}, and there is no file of that name."
        ) from None


def notebook_context(shell: Any, count: int, key: str | None) -> NotebookContext:
    """``--context N``: the last N cells of IPython's history, their values and last error."""
    history = shell.history_manager
    cell_files: dict[str, int] = getattr(shell.compile, "_filename_map", {})
    errors: dict[int, str] = {}
    error = last_error()
    if error is not None and own_error_explanation(error) is None:
        number = raising_cell(error.__traceback__, cell_files.get)
        if number is None and isinstance(error, SyntaxError):
            number = cell_files.get(str(error.filename))
        if number is not None:
            errors[number] = error_report(error, cell_files.__contains__)
    cells = recent_cells(
        history.input_hist_raw,
        history.output_hist,
        count,
        before=shell.execution_count,
        errors=errors,
    )
    return context_block(cells, image_of=image_source, secrets=[key] if key else [])


def ask(host: Host, text: str, options: RequestOptions, kind: RendererKind | None = None) -> Reply:
    """Send one message and show the streamed reply."""
    text = text.strip()
    if not text:
        raise UsageError("Nothing to send: write your question under %%gmi (or after %gmi).")
    if len(text) > MAX_CELL_CHARS:
        raise UsageError(
            f"The message is {len(text):,} characters; the limit is {MAX_CELL_CHARS:,}. "
            "Send a smaller piece."
        )
    renderer = make_renderer(kind or host.renderer_kind())  # type: ignore[arg-type]
    return host.session.ask(text, host.settings(), options, renderer)


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
        instruction=JSON_INSTRUCTION if json_format and "json" not in text.lower() else "",
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


def fill_in(text: str, namespace: dict[str, Any], key: str | None = None) -> str:
    """``{name}`` interpolation, each cut or unfilled value announced in one line.

    A failing expression, or a value holding the API key, is one clear UsageError.
    """
    try:
        filled = interpolate_with_notes(text, namespace, secrets=[key] if key else [])
    except SecretValueError as error:
        raise UsageError(str(error)) from None
    except InterpolationError as error:
        raise UsageError(f"{error} (use --no-interpolate to send braces as written)") from None
    for note in filled.notes:
        print(note)
    return filled.text


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
        for value in list(namespace.values()):
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


def last_error() -> BaseException | None:
    """The exception of the last failed cell, if any."""
    error = getattr(sys, "last_value", None) or getattr(sys, "last_exc", None)
    return error if isinstance(error, BaseException) else None


def own_error_explanation(error: BaseException) -> str | None:
    """For a failure of %gmi itself (not the user's code): what happened and what to do."""
    if not isinstance(error, (UsageError, GMIError)):
        return None
    message = error.message if isinstance(error, GMIError) else str(error)
    hint = getattr(error, "hint", "") or "See %%gmi? for the options."
    return (
        f"The last error came from %gmi itself, not from your code, so there is nothing to "
        f"send: {type(error).__name__}: {message}\nWhat to do: {hint}"
    )


def last_error_report(shell: Any) -> str:
    """The prompt for ``--error`` / ``%gmi explain`` from the last exception."""
    error = last_error()
    if error is None:
        raise UsageError("No error to explain yet: run the failing cell first.")
    explanation = own_error_explanation(error)
    if explanation is not None:
        raise UsageError(explanation.replace("\n", " "))
    cell_files = getattr(getattr(shell, "compile", None), "_filename_map", {})
    return exception_report(error, lambda filename: filename in cell_files)


def parse_json_reply(reply: Reply) -> Any:
    """The JSON object in a ``-f json`` reply (code fences tolerated)."""
    text = reply.text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*?)\n?```", text, flags=re.DOTALL)
    try:
        return loads_bounded(fenced.group(1) if fenced else text)
    except ValueError as error:
        raise ReplyFormatError(f"The reply is not valid JSON ({error}).") from None
