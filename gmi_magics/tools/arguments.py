"""Checks on the arguments a model sends back, and their conversion for the call.

``validate_arguments`` checks decoded arguments against the (small) subset of JSON
Schema that ``function_schema`` writes; ``coerce_arguments`` turns JSON values back
into Enums, dataclasses and tuples. Also home to what both sides share: the type
groupings, ``ToolSchemaError`` and hint resolution. Only the standard library is used.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import inspect
import json
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = [
    "ToolSchemaError",
    "coerce_arguments",
    "validate_arguments",
]

_ARRAYS: tuple[Any, ...] = (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable)
_MAPPINGS: tuple[Any, ...] = (dict, cabc.Mapping, cabc.MutableMapping)
_UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)
_WRAPPERS: tuple[Any, ...] = tuple(
    w
    for w in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None))
    if w is not None
)


class ToolSchemaError(ValueError):
    """A callable cannot be described as a tool (bad name, parameter kind or type)."""


# Public home stays gmi_magics.tools.schema (tracebacks, pickling, docs), as before the split.
ToolSchemaError.__module__ = "gmi_magics.tools.schema"


def _hints(func: Callable[..., Any], tool_name: str) -> dict[str, Any]:
    target = func if inspect.isroutine(func) else type(func).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for unresolvable forward references, etc.
        raise ToolSchemaError(f"{tool_name}: cannot resolve type hints: {exc}") from exc


def _json_type(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    kinds = {
        float: "number",
        str: "string",
        list: "array",
        tuple: "array",
        dict: "object",
    }
    return next((k for t, k in kinds.items() if isinstance(value, t)), None)


# -- validation ---------------------------------------------------------------------


def validate_arguments(schema: dict[str, Any], arguments: Any) -> list[str]:
    """Problems with ``arguments`` under ``schema`` (empty list: valid).

    ``schema`` is a tool entry from :func:`function_schema` or its ``parameters``.
    Only the keywords that ``function_schema`` writes are checked.
    """
    if schema.get("type") == "function" and "function" in schema:
        schema = schema["function"].get("parameters", {})
    problems: list[str] = []
    _check(schema, arguments, "", problems)
    return problems


def _check(schema: dict[str, Any], value: Any, path: str, out: list[str]) -> None:
    if "anyOf" in schema:
        _check_any(schema["anyOf"], value, path, out)
        return
    expected = schema.get("type")
    if expected is not None and not _has_type(value, expected):
        out.append(f"{_at(path)}expected {_type_words(expected)}, got {_show(value)}")
    elif "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        choices = ", ".join(_literal(e) for e in schema["enum"])
        out.append(f"{_at(path)}{_literal(value)} is not one of {choices}")
    elif isinstance(value, dict):
        _check_object(schema, value, path, out)
    elif isinstance(value, list):
        _check_array(schema, value, path, out)


def _check_any(branches: list[Any], value: Any, path: str, out: list[str]) -> None:
    results = [_problems(branch, value, path) for branch in branches]
    if any(not found for found in results):
        return
    typed = [r for b, r in zip(branches, results, strict=True) if _has_type(value, b.get("type"))]
    if len(typed) == 1:  # e.g. Optional[Point]: explain what is wrong with the Point
        out.extend(typed[0])
        return
    words = " or ".join(_type_words(b.get("type")) for b in branches)
    out.append(f"{_at(path)}expected {words}, got {_show(value)}")


def _problems(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    out: list[str] = []
    _check(schema, value, path, out)
    return out


def _check_object(schema: dict[str, Any], value: dict[str, Any], path: str, out: list[str]) -> None:
    properties = schema.get("properties", {})
    noun = "field" if path else "argument"
    for name in schema.get("required", []):
        if name not in value:
            out.append(f"{_at(path, top=False)}missing required {noun} {name!r}")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(properties[key], item, _join(path, key), out)
        elif extra is False:
            out.append(f"{_at(path, top=False)}unexpected {noun} {key!r}")
        elif isinstance(extra, dict):
            _check(extra, item, _join(path, key), out)


def _check_array(schema: dict[str, Any], value: list[Any], path: str, out: list[str]) -> None:
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    if low == high and len(value) != low:
        out.append(f"{_at(path)}expected {low} items, got {len(value)}")
    elif len(value) < low:
        out.append(f"{_at(path)}expected at least {low} items, got {len(value)}")
    elif high is not None and len(value) > high:
        out.append(f"{_at(path)}expected at most {high} items, got {len(value)}")
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        item_schema = prefix[i] if i < len(prefix) else schema.get("items")
        if isinstance(item_schema, dict):
            _check(item_schema, item, f"{path}[{i}]", out)


def _has_type(value: Any, expected: str | list[str] | None) -> bool:
    if expected is None:
        return True
    if isinstance(expected, list):
        return any(_has_type(value, kind) for kind in expected)
    kind = _json_type(value)
    return kind == expected or (expected == "number" and kind == "integer")


def _same(value: Any, member: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1``."""
    return _json_type(value) == _json_type(member) and value == member


def _type_words(expected: str | list[str] | None) -> str:
    if expected is None:
        return "any value"
    return " or ".join(expected) if isinstance(expected, list) else expected


def _show(value: Any) -> str:
    kind = _json_type(value) or type(value).__name__
    return kind if kind in ("null", "array", "object") else f"{kind} {_literal(value)}"


def _literal(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _at(path: str, *, top: bool = True) -> str:
    if path:
        return f"{path}: "
    return "arguments: " if top else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- coercion -----------------------------------------------------------------------


def coerce_arguments(func: Callable[..., Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """Validated JSON arguments as ``func`` expects them: Enum members, dataclass
    instances and tuples (recursively); everything else is passed through."""
    hints = _hints(func, getattr(func, "__name__", repr(func)))
    return {key: _coerce(hints.get(key, Any), value) for key, value in arguments.items()}


def _coerce(tp: Any, value: Any) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if value is None or tp is Any:
        return value
    if origin is typing.Annotated or origin in _WRAPPERS:
        return _coerce(args[0], value)
    if origin in _UNIONS:
        return _coerce_union(args, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if isinstance(value, dict) and (dataclasses.is_dataclass(tp) or typing.is_typeddict(tp)):
        return _coerce_record(tp, value)
    if isinstance(value, dict) and origin in _MAPPINGS and len(args) == 2:
        return {k: _coerce(args[1], v) for k, v in value.items()}
    if isinstance(value, list) and (tp is tuple or origin is tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        return tuple(_coerce(t, v) for t, v in zip(args or value, value, strict=False))
    if isinstance(value, list) and origin in _ARRAYS and args:
        return [_coerce(args[0], v) for v in value]
    return value


def _coerce_record(cls: Any, value: dict[str, Any]) -> Any:
    """A dataclass instance, or a TypedDict's dict, with its fields coerced."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {k: _coerce(hints.get(k, Any), v) for k, v in value.items()}
    return fields if typing.is_typeddict(cls) else cls(**fields)


def _coerce_union(args: tuple[Any, ...], value: Any) -> Any:
    """The first branch that converts ``value`` (e.g. to an Enum member) wins."""
    for branch in args:
        try:
            converted = _coerce(branch, value)
        except (TypeError, ValueError):
            continue
        if converted is not value:
            return converted
    return value
