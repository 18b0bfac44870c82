"""Checks of one JSON value at a path of a document (``Invalid`` names the path).

Each leaf check takes ``(value, where)`` and returns the value with its type, or
raises ``Invalid("<where> must be ...")``; ``req``/``opt``/``nullable`` read a key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

MAX_DEPTH = 64
MAX_COUNT = 10**15  # more tokens than any conversation spends
MAX_LABEL = 512

T = TypeVar("T")
Check = Callable[[Any, str], T]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Invalid(Exception):
    """A problem at one place (a JSON path) of the document."""


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
