"""JSON schemas for Python callables, and checks on the arguments a model sends back.

``function_schema`` turns a type-hinted, documented function into an OpenAI ``tools``
entry; ``validate_arguments`` checks decoded arguments against that (small) subset of
JSON Schema; ``coerce_arguments`` turns JSON values back into Enums, dataclasses and
tuples. Only the standard library is used.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from typing import Any

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
_ARRAYS: tuple[Any, ...] = (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable)
_MAPPINGS: tuple[Any, ...] = (dict, cabc.Mapping, cabc.MutableMapping)
_UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)
_WRAPPERS: tuple[Any, ...] = tuple(
    w
    for w in (getattr(typing, "Required", None), getattr(typing, "NotRequired", None))
    if w is not None
)
_NO_DEFAULT = object()
_SPECIAL_KINDS: dict[Any, str] = {
    inspect.Parameter.VAR_POSITIONAL: "parameter *{}",
    inspect.Parameter.VAR_KEYWORD: "parameter **{}",
    inspect.Parameter.POSITIONAL_ONLY: "positional-only parameter {}",
}


class ToolSchemaError(ValueError):
    """A callable cannot be described as a tool (bad name, parameter kind or type)."""


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


def _hints(func: Callable[..., Any], tool_name: str) -> dict[str, Any]:
    target = func if inspect.isroutine(func) else type(func).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # NameError for unresolvable forward references, etc.
        raise ToolSchemaError(f"{tool_name}: cannot resolve type hints: {exc}") from exc


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


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        module = tp.__module__
        return tp.__qualname__ if module == "builtins" else f"{module}.{tp.__qualname__}"
    return repr(tp).replace("typing.", "")


# -- docstrings ---------------------------------------------------------------------

_GOOGLE_HEADER = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(.*?\))?\s*:(?:\s+(.*))?$")
_NUMPY_ENTRY = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:(?:\s+(.*))?$")
_RULE = re.compile(r"^\s*-{3,}\s*$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The summary paragraph and per-parameter descriptions (Google, NumPy, reST)."""
    lines = (doc or "").expandtabs().splitlines()
    params: dict[str, str] = {}
    for i, line in enumerate(lines):
        text = line.strip()
        if _GOOGLE_HEADER.match(text):
            block = _indented_block(lines[i + 1 :], _indent(line))
            params.update(_entries(block, _google_head))
        elif text == "Parameters" and i + 1 < len(lines) and _RULE.match(lines[i + 1]):
            params.update(_entries(_numpy_block(lines[i + 2 :]), _numpy_head))
        elif text.startswith(":param"):
            block = [text, *_indented_block(lines[i + 1 :], _indent(line))]
            params.update(_entries(block, _rest_head))
    return _summary(lines), params


def _summary(lines: list[str]) -> str:
    taken: list[str] = []
    for i, line in enumerate(lines):
        text = line.strip()
        next_is_rule = i + 1 < len(lines) and _RULE.match(lines[i + 1])
        if not text or next_is_rule or _GOOGLE_HEADER.match(text) or text[0] == ":":
            break
        taken.append(text)
    return " ".join(taken)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indented_block(lines: list[str], indent: int) -> list[str]:
    """Lines up to the first non-blank one indented no deeper than ``indent``."""
    for n, line in enumerate(lines):
        if line.strip() and _indent(line) <= indent:
            return lines[:n]
    return lines


def _numpy_block(lines: list[str]) -> list[str]:
    """Lines up to the next NumPy section header (a line underlined by dashes)."""
    for n in range(len(lines) - 1):
        if lines[n].strip() and _RULE.match(lines[n + 1]):
            return lines[:n]
    return lines


def _entries(
    block: list[str], head: Callable[[str], tuple[list[str], str] | None]
) -> dict[str, str]:
    """Entries start at the block's base indent; deeper lines continue them."""
    found: dict[str, list[str]] = {}
    base = min((_indent(line) for line in block if line.strip()), default=0)
    names: list[str] = []
    for line in block:
        text = line.strip()
        parsed = head(text) if text and _indent(line) <= base else None
        if parsed:
            names, first = parsed
            for name in names:
                found[name] = [first] if first else []
        elif text:
            for name in names:
                found[name].append(text)
    return {name: " ".join(parts) for name, parts in found.items() if parts}


def _google_head(text: str) -> tuple[list[str], str] | None:
    match = _GOOGLE_ENTRY.match(text)
    return ([match[1]], match[2] or "") if match else None


def _numpy_head(text: str) -> tuple[list[str], str] | None:
    match = _NUMPY_ENTRY.match(text)
    if not match:
        return None
    return [name.strip().lstrip("*") for name in match[1].split(",")], ""


def _rest_head(text: str) -> tuple[list[str], str] | None:
    match = _REST_PARAM.match(text)
    return ([match[1]], match[2] or "") if match else None


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
