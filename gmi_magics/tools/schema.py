"""JSON schemas for Python callables, and checks on the arguments a model sends back.

``function_schema`` turns a type-hinted, documented function into an OpenAI ``tools``
entry; ``validate_arguments`` checks decoded arguments against that (small) subset of
JSON Schema; ``coerce_arguments`` turns JSON values back into Enums, dataclasses and
tuples. The last two live in :mod:`gmi_magics.tools.arguments` and docstring parsing in
:mod:`gmi_magics.tools.docstrings`; all are importable from here. Only the standard library
is used.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import typing
from collections.abc import Callable
from typing import Any

from .arguments import (
    _ARRAYS,
    _MAPPINGS,
    _UNIONS,
    _WRAPPERS,
    ToolSchemaError,
    _hints,
    _json_type,
    coerce_arguments,
    validate_arguments,
)
from .docstrings import parse_docstring as parse_docstring

__all__ = [
    "ToolSchemaError",
    "coerce_arguments",
    "function_schema",
    "validate_arguments",
]

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    None: "null",
}
_NO_DEFAULT = object()
_SPECIAL_KINDS: dict[Any, str] = {
    inspect.Parameter.VAR_POSITIONAL: "parameter *{}",
    inspect.Parameter.VAR_KEYWORD: "parameter **{}",
    inspect.Parameter.POSITIONAL_ONLY: "positional-only parameter {}",
}


class _Unsupported(Exception):
    """Raised inside the type walk; re-raised as ToolSchemaError with context."""


def function_schema(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The ``{"type": "function", "function": {...}}`` entry describing ``func``."""
    tool_name = _tool_name(func, name)
    hints = _hints(func, tool_name)
    summary, docs = parse_docstring(inspect.getdoc(func))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in _parameters(func, tool_name):
        properties[param.name] = _param_schema(param, hints, docs, tool_name)
        if param.default is param.empty:
            required.append(param.name)
    function: dict[str, Any] = {"name": tool_name}
    text = summary if description is None else description
    if text:
        function["description"] = text
    function["parameters"] = _object(properties, required)
    return {"type": "function", "function": function}


def _tool_name(func: Callable[..., Any], name: str | None) -> str:
    given = name if name is not None else getattr(func, "__name__", None)
    if given is None or given == "<lambda>":
        raise ToolSchemaError(f"{func!r} has no usable name; pass name='...'")
    if not _NAME.match(given):
        raise ToolSchemaError(f"tool name {given!r} must be 1-64 letters, digits, '_' or '-'")
    return given


def _parameters(func: Callable[..., Any], tool_name: str) -> list[inspect.Parameter]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        raise ToolSchemaError(f"{tool_name}: cannot read its signature: {exc}") from exc
    for param in params:
        shown = _SPECIAL_KINDS.get(param.kind)
        if shown is not None:
            raise ToolSchemaError(
                f"{tool_name}: {shown.format(param.name)} cannot be expressed as a "
                "JSON schema (tools are called with keyword arguments)"
            )
    return params


def _param_schema(
    param: inspect.Parameter, hints: dict[str, Any], docs: dict[str, str], tool: str
) -> dict[str, Any]:
    hint = hints.get(param.name, Any)
    try:
        schema = _type_schema(hint, ())
    except _Unsupported as exc:
        raise ToolSchemaError(
            f"{tool}: parameter {param.name!r} has type {_type_name(hint)}, "
            f"which cannot be expressed as a JSON schema ({exc})"
        ) from None
    if "description" not in schema and param.name in docs:
        schema["description"] = docs[param.name]
    default = _json_default(param.default)
    if param.default is not param.empty and default is not _NO_DEFAULT:
        schema["default"] = default
    return schema


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _type_schema(tp: Any, seen: tuple[type, ...]) -> dict[str, Any]:
    """Schema for one type hint; ``{}`` (any JSON value) for ``Any`` or no hint."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return {}
    if origin is typing.Annotated:
        notes = [m for m in tp.__metadata__ if isinstance(m, str)]
        schema = _type_schema(args[0], seen)
        return {**schema, "description": " ".join(notes)} if notes else schema
    if origin in _WRAPPERS:
        return _type_schema(args[0], seen)
    if origin in _UNIONS:
        return _union_schema(args, seen)
    if origin is typing.Literal:
        return _enum_schema(list(args), tp)
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return _type_schema(tp.__supertype__, seen)
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is tuple or origin is tuple:
        return _tuple_schema(args, seen)
    if tp in _ARRAYS or origin in _ARRAYS:
        items = _type_schema(args[0], seen) if args else {}
        return {"type": "array", "items": items} if items else {"type": "array"}
    if tp in _MAPPINGS or origin in _MAPPINGS:
        return _mapping_schema(args, seen)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema([m.value for m in tp], tp)
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or typing.is_typeddict(tp)):
        return _record_schema(tp, seen)
    raise _Unsupported(f"unsupported type {_type_name(tp)}")


def _union_schema(args: tuple[Any, ...], seen: tuple[type, ...]) -> dict[str, Any]:
    schemas = [_type_schema(a, seen) for a in args if a is not type(None)]
    if not all(schemas):  # a branch accepts anything
        return {}
    if len(schemas) < len(args):
        schemas.append({"type": "null"})
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def _enum_schema(values: list[Any], tp: Any) -> dict[str, Any]:
    kinds: list[str] = []
    for value in values:
        kind = _json_type(value)
        if kind is None or kind in ("array", "object"):
            raise _Unsupported(f"{_type_name(tp)} has a non-JSON value {value!r}")
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def _tuple_schema(args: tuple[Any, ...], seen: tuple[type, ...]) -> dict[str, Any]:
    if not args:
        return {"type": "array"}
    if len(args) == 2 and args[1] is Ellipsis:
        items = _type_schema(args[0], seen)
        return {"type": "array", "items": items} if items else {"type": "array"}
    return {
        "type": "array",
        "prefixItems": [_type_schema(a, seen) for a in args],
        "minItems": len(args),
        "maxItems": len(args),
    }


def _mapping_schema(args: tuple[Any, ...], seen: tuple[type, ...]) -> dict[str, Any]:
    if not args:
        return {"type": "object"}
    if args[0] is not str:
        raise _Unsupported(f"JSON object keys are strings, not {_type_name(args[0])}")
    values = _type_schema(args[1], seen)
    return {"type": "object", "additionalProperties": values} if values else {"type": "object"}


def _record_schema(cls: type, seen: tuple[type, ...]) -> dict[str, Any]:
    """A dataclass or TypedDict as a nested object."""
    if cls in seen:
        raise _Unsupported(f"{_type_name(cls)} refers to itself")
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:
        raise _Unsupported(f"cannot resolve hints of {_type_name(cls)}: {exc}") from exc
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, default in _record_fields(cls, hints):
        properties[name] = _type_schema(hints.get(name, Any), (*seen, cls))
        if default is dataclasses.MISSING:
            required.append(name)
        elif (value := _json_default(default)) is not _NO_DEFAULT:
            properties[name]["default"] = value
    return _object(properties, required)


def _record_fields(cls: type, hints: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, default) pairs; MISSING for required, ``_NO_DEFAULT`` for factories."""
    if not dataclasses.is_dataclass(cls):
        needed: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
        return [(k, dataclasses.MISSING if k in needed else _NO_DEFAULT) for k in hints]
    fields = [f for f in dataclasses.fields(cls) if f.init]
    return [
        (
            f.name,
            _NO_DEFAULT if f.default_factory is not dataclasses.MISSING else f.default,
        )
        for f in fields
    ]


def _json_default(value: Any) -> Any:
    """``value`` as plain JSON, or ``_NO_DEFAULT`` if it cannot be written as JSON."""
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return _NO_DEFAULT


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        module = tp.__module__
        return tp.__qualname__ if module == "builtins" else f"{module}.{tp.__qualname__}"
    return repr(tp).replace("typing.", "")
