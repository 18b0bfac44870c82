"""Check a parsed chat file field by field before anything of it is used (``persist``).

Everything a loaded turn feeds later must be safe there: history and transcripts,
the next request's ``messages`` (tool calls answered by tool results, in order),
``%gmi retry``'s replayed options, and JSON encoding on the way out (no lone
surrogates; NaN and Infinity are refused by the parser).  A problem raises
``Invalid`` naming the JSON path of the bad field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..types import Message, Reply, ToolCall, Usage
from .turns import Part, Turn, decode_data_url

MAX_DEPTH = 64
MAX_COUNT = 10**15  # more tokens than any conversation spends
MAX_LABEL = 512
EXTRA_ROLES = ("assistant", "tool")
IMAGE_DETAIL = ("auto", "low", "high")

T = TypeVar("T")
Check = Callable[[Any, str], T]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Invalid(Exception):
    """A problem at one place (a JSON path) of the document."""


@dataclass
class LoadedThread:
    """One thread read from a chat file, ready to be applied to a ``Conversation``."""

    system: str | None
    model: str
    turns: list[Turn] = field(default_factory=list)


def place(where: str, key: str) -> str:
    """The JSON path of ``key`` under ``where``: ``a.b`` or ``a["odd key"]``."""
    if key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key)}]"


# -- the whole tree -----------------------------------------------------------


def check_tree(document: Any) -> None:
    """Bounded nesting, and no lone surrogates in any string or key."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Invalid(f"{where} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            _unicode(value, where or "the document")
        elif isinstance(value, dict):
            for key, item in value.items():
                _unicode(key, f"a key in {where or 'the document'}")
                stack.append((item, place(where, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def _unicode(text: str, where: str) -> None:
    if _SURROGATE.search(text):
        raise Invalid(f"{where} holds an unpaired surrogate (\\ud800-\\udfff), not text")


# -- leaf checks --------------------------------------------------------------


def _wrong(where: str, kind: str, nullable: bool) -> Invalid:
    return Invalid(f"{where} must be {kind}{' or null' if nullable else ''}")


def text(value: Any, where: str, nullable: bool = False) -> str:
    if not isinstance(value, str):
        raise _wrong(where, "a string", nullable)
    return value


def label(value: Any, where: str, nullable: bool = False) -> str:
    """A short one-line string: a model id, tool name, thread name, finish reason…"""
    checked = text(value, where, nullable)
    if len(checked) > MAX_LABEL:
        raise Invalid(f"{where} is longer than {MAX_LABEL} characters")
    if _CONTROL.search(checked):
        raise Invalid(f"{where} holds a control character")
    return checked


def count(value: Any, where: str, nullable: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(where, "an integer", nullable)
    if not 0 <= value <= MAX_COUNT:
        raise Invalid(f"{where} must be between 0 and {MAX_COUNT}")
    return value


def integer(value: Any, where: str, nullable: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(where, "an integer", nullable)
    if abs(value) > MAX_COUNT:
        raise Invalid(f"{where} must be between -{MAX_COUNT} and {MAX_COUNT}")
    return value


def positive(value: Any, where: str, nullable: bool = False) -> int:
    if count(value, where, nullable) < 1:
        raise Invalid(f"{where} must be at least 1")
    return cast(int, value)


def number(value: Any, where: str, nullable: bool = False) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _wrong(where, "a number", nullable)
    if not math.isfinite(value) or abs(value) > MAX_COUNT:
        raise Invalid(f"{where} must be a finite number")
    return float(value)


def seconds(value: Any, where: str, nullable: bool = False) -> float:
    if number(value, where, nullable) < 0:
        raise Invalid(f"{where} must not be negative")
    return float(value)


def flag(value: Any, where: str, nullable: bool = False) -> bool:
    if not isinstance(value, bool):
        raise _wrong(where, "true or false", nullable)
    return value


def obj(value: Any, where: str, nullable: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(where, "an object", nullable)
    return value


def array(value: Any, where: str, nullable: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong(where, "a list", nullable)
    return value


def req(data: dict[str, Any], key: str, where: str, check: Check[T]) -> T:
    if key not in data:
        raise Invalid(f"{place(where, key)} is missing")
    return check(data[key], place(where, key))


def opt(data: dict[str, Any], key: str, where: str, check: Check[T], default: T) -> T:
    return check(data[key], place(where, key)) if key in data else default


def nullable(data: dict[str, Any], key: str, where: str, check: Callable[..., T]) -> T | None:
    value = data.get(key)
    return None if value is None else check(value, place(where, key), True)


def each(items: list[Any], where: str, check: Callable[[Any, str], T]) -> list[T]:
    return [check(item, f"{where}[{i}]") for i, item in enumerate(items)]


# -- the document's parts -----------------------------------------------------


def load_threads_document(document: dict[str, Any]) -> dict[str, LoadedThread]:
    """Every thread of a checked-header document (``Invalid`` on the first problem)."""
    check_tree(document)
    threads = req(document, "threads", "", obj)
    loaded = {}
    for name, value in threads.items():
        where = place("threads", name)
        if not name.strip():
            raise Invalid(f"{where}: a thread name must not be blank")
        label(name, f"the name of {where}")
        loaded[name] = load_thread(value, where)
    return loaded


def load_thread(value: Any, where: str) -> LoadedThread:
    data = obj(value, where)
    turns = req(data, "turns", where, array)
    return LoadedThread(
        system=nullable(data, "system", where, text),
        model=req(data, "model", where, label),
        turns=each(turns, f"{where}.turns", load_turn),
    )


def load_turn(value: Any, where: str) -> Turn:
    data = obj(value, where)
    content = nullable(data, "content", where, array)
    return Turn(
        user=req(data, "user", where, text),
        reply=load_reply(req(data, "reply", where, obj), place(where, "reply")),
        extra=load_extra(opt(data, "extra", where, array, []), place(where, "extra")),
        cell_id=nullable(data, "cell_id", where, label),
        tools=each(opt(data, "tools", where, array, []), place(where, "tools"), label),
        content=None if content is None else load_parts(content, place(where, "content")),
    )


def load_parts(items: list[Any], where: str) -> list[Part]:
    if not items:
        raise Invalid(f"{where} must not be an empty list")
    return each(items, where, load_part)


def load_part(value: Any, where: str) -> Part:
    data = obj(value, where)
    kind = req(data, "type", where, label)
    if kind == "text":
        return {"type": "text", "text": req(data, "text", where, text)}
    if kind != "image_url":
        raise Invalid(f'{place(where, "type")} must be "text" or "image_url"')
    inner = place(where, "image_url")
    image = req(data, "image_url", where, obj)
    url = req(image, "url", inner, text)
    if decode_data_url(url) is None:
        raise Invalid(f"{inner}.url must be a base64 data:image/png, jpeg, gif or webp URL")
    part: dict[str, Any] = {"url": url}
    detail = opt(image, "detail", inner, label, None)
    if detail is not None:
        if detail not in IMAGE_DETAIL:
            raise Invalid(f"{inner}.detail must be one of {', '.join(IMAGE_DETAIL)}")
        part["detail"] = detail
    return {"type": "image_url", "image_url": part}


def load_reply(data: dict[str, Any], where: str) -> Reply:
    usage = nullable(data, "usage", where, obj)
    return Reply(
        text=req(data, "text", where, text),
        reasoning=opt(data, "reasoning", where, text, ""),
        tool_calls=tuple(
            each(opt(data, "tool_calls", where, array, []), f"{where}.tool_calls", load_call)
        ),
        usage=None if usage is None else load_usage(usage, place(where, "usage")),
        finish_reason=nullable(data, "finish_reason", where, label),
        model=opt(data, "model", where, label, ""),
        latency=opt(data, "latency", where, seconds, 0.0),
        interrupted=opt(data, "interrupted", where, flag, False),
        metadata=load_metadata(opt(data, "metadata", where, obj, {}), place(where, "metadata")),
    )


def load_usage(data: dict[str, Any], where: str) -> Usage:
    names = ("prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens")
    return Usage(*(opt(data, name, where, count, 0) for name in (*names, "cached_tokens")))


def load_call(value: Any, where: str) -> ToolCall:
    data = obj(value, where)
    return ToolCall(
        req(data, "id", where, label),
        req(data, "name", where, label),
        req(data, "arguments", where, text),
    )


# -- metadata: only what later code reads, each with its type -------------------


def load_params(value: Any, where: str) -> dict[str, Any]:
    """A reply's request options (``%gmi retry`` sends them again)."""
    data = obj(value, where)
    for key, check in PARAM_CHECKS.items():
        nullable(data, key, where, check)
    return data


def _stop(value: Any, where: str, nullable: bool = False) -> str | list[str]:
    if isinstance(value, list):
        return each(value, where, text)
    return text(value, where + " (or a list of strings)", nullable)


PARAM_CHECKS: dict[str, Callable[..., Any]] = {
    "temperature": number,
    "top_p": number,
    "presence_penalty": number,
    "frequency_penalty": number,
    "max_tokens": positive,
    "stop": _stop,
    "response_format": obj,
    "seed": integer,
}
METADATA_CHECKS: dict[str, Check[Any]] = {
    "params": load_params,
    "thread": label,
    "turn": positive,
    "host": label,
    "requested_model": label,
    "stream": flag,
    "confirm": flag,  # retry asks before each tool call again
    "instruction": text,  # retry appends it to the question again (e.g. the JSON request)
}


def load_metadata(data: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        key: req(data, key, where, check) for key, check in METADATA_CHECKS.items() if key in data
    }


# -- the tool loop's messages ---------------------------------------------------


def load_extra(items: list[Any], where: str) -> list[Message]:
    """Assistant tool-call messages, each followed by a result for every call it made."""
    messages: list[Message] = []
    waiting: list[str] = []  # ids of calls not yet answered
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        message = load_message(item, at)
        if message["role"] == "assistant":
            _all_answered(waiting, at)
            waiting = [call["id"] for call in message["tool_calls"]]
        elif message["tool_call_id"] in waiting:
            waiting.remove(message["tool_call_id"])
        else:
            raise Invalid(f"{at}.tool_call_id answers no tool call of the message before it")
        messages.append(message)
    _all_answered(waiting, where)
    return messages


def _all_answered(waiting: list[str], where: str) -> None:
    if waiting:
        raise Invalid(f"{where}: the tool call {waiting[0]!r} before it has no tool result")


def load_message(value: Any, where: str) -> Message:
    data = obj(value, where)
    role = req(data, "role", where, label)
    if role not in EXTRA_ROLES:
        raise Invalid(f"{where}.role must be one of {', '.join(EXTRA_ROLES)}")
    if role == "tool":
        message: Message = {
            "role": "tool",
            "tool_call_id": req(data, "tool_call_id", where, label),
            "content": req(data, "content", where, text),
        }
        return message
    calls = req(data, "tool_calls", where, array)
    if not calls:
        raise Invalid(f"{where}.tool_calls must not be an empty list")
    message = {
        "role": "assistant",
        "content": nullable(data, "content", where, text),
        "tool_calls": each(calls, f"{where}.tool_calls", load_wire_call),
    }
    reasoning = opt(data, "reasoning_content", where, text, "")
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


def load_wire_call(value: Any, where: str) -> dict[str, Any]:
    data = obj(value, where)
    if data.get("type", "function") != "function":
        raise Invalid(f'{where}.type must be "function"')
    function = req(data, "function", where, obj)
    inner = place(where, "function")
    name, arguments = req(function, "name", inner, label), req(function, "arguments", inner, text)
    call_id = req(data, "id", where, label)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
