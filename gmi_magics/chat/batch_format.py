"""Reading batch replies: text as ``Reply``, ``format="json"`` parsed and schema-checked.

A reply that cannot be read becomes an ``ItemError`` holding the raw reply, never an
exception: one bad item does not end a run of thousands.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..jsonsafe import loads_bounded
from ..types import Reply
from .batch_run import ItemError
from .json_replies import JSON_INSTRUCTION, json_instruction, json_text
from .turns import with_cost

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def json_schema(schema: Any) -> dict[str, Any] | None:
    """A JSON-schema dict from a dict or a pydantic model class (``None`` for none)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        return schema
    make = getattr(schema, "model_json_schema", None)
    if callable(make):
        made = make()
        if isinstance(made, dict):
            return made
    raise TypeError("schema must be a JSON-schema dict or a pydantic model class")


def item_json_instruction(prompt: str, schema: Any) -> str:
    """What is appended to a JSON item's prompt (sent, and part of its key)."""
    shape = json_schema(schema)
    if shape is not None:
        return f"{JSON_INSTRUCTION[:-1]}, matching this JSON schema: {json.dumps(shape)}"
    return json_instruction(prompt)


def finisher(format: str, schema: Any, prices: Mapping[str, Any]) -> Callable[[Reply], Any]:
    """The function that turns one finished reply into the item's result."""

    def finish(reply: Reply) -> Any:
        reply = with_cost(reply, prices) if prices else reply
        if format != "json":
            return reply
        return parse_json(reply, schema)

    return finish


def parse_json(reply: Reply, schema: Any = None) -> Any:
    """The JSON value of a reply (code fences tolerated), checked against ``schema``."""
    try:
        value = loads_bounded(json_text(reply.text))
    except (ValueError, RecursionError) as error:
        cut = " (cut off at max_tokens)" if reply.finish_reason == "length" else ""
        reason = str(error).split(":")[0][:120]
        return ItemError("ReplyFormatError", f"The reply is not valid JSON{cut}: {reason}.",
                         "See .reply for the raw text.", reply)  # fmt: skip
    if schema is None:
        return value
    validate = getattr(schema, "model_validate", None)
    if callable(validate):
        try:
            return validate(value)
        except Exception as error:  # pydantic.ValidationError, without importing pydantic
            first = " ".join(str(error).split())[:200]
            return ItemError("SchemaError", f"The reply does not fit the schema: {first}",
                             "See .reply for the raw text.", reply)  # fmt: skip
    problem = schema_problem(value, json_schema(schema) or {})
    if problem:
        return ItemError("SchemaError", f"The reply does not fit the schema: {problem}.",
                         "See .reply for the raw text.", reply)  # fmt: skip
    return value


def schema_problem(value: Any, schema: dict[str, Any], path: str = "$") -> str:
    """The first way ``value`` breaks the schema's type / required / enum / properties."""
    expected = schema.get("type")
    names = expected if isinstance(expected, list) else [expected] if expected else []
    if names and not any(_is(value, name) for name in names):
        return f"{path} should be {' or '.join(map(str, names))}, not {_kind(value)}"
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        return f"{path} is not one of {schema['enum'][:10]!r}"
    if isinstance(value, dict):
        for key in schema.get("required") or []:
            if key not in value:
                return f"{path} lacks {key!r}"
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if key in value and isinstance(sub, dict):
                problem = schema_problem(value[key], sub, f"{path}.{key}")
                if problem:
                    return problem
    return ""


def _is(value: Any, name: Any) -> bool:
    if name == "null":
        return value is None
    kinds = _TYPES.get(str(name))
    if kinds is None:
        return True  # a type this light check does not know: accept
    if isinstance(value, bool) and name != "boolean":
        return False
    return isinstance(value, kinds)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
