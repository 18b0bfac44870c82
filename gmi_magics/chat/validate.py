"""Check a parsed chat file field by field before anything of it is used (``persist``).

Everything a loaded turn feeds later must be safe there: history and transcripts,
the next request's ``messages`` (tool calls answered by tool results, in order),
``%gmi retry``'s replayed options, and JSON encoding on the way out (no lone
surrogates; NaN and Infinity are refused by the parser).  A problem raises
``Invalid`` naming the JSON path of the bad field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..types import Message, Reply, ToolCall, Usage
from .checks import (
    Check,
    Invalid,
    array,
    check_tree,
    count,
    each,
    flag,
    integer,
    label,
    nullable,
    number,
    obj,
    opt,
    place,
    positive,
    req,
    seconds,
    text,
)
from .turns import Part, Turn, decode_data_url

__all__ = ["Invalid", "LoadedThread", "load_threads_document", "place"]

EXTRA_ROLES = ("assistant", "tool")
IMAGE_DETAIL = ("auto", "low", "high")


@dataclass
class LoadedThread:
    """One thread read from a chat file, ready to be applied to a ``Conversation``."""

    system: str | None
    model: str
    turns: list[Turn] = field(default_factory=list)


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
