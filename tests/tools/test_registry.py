"""The tool registry and running tool calls (gmi_magics.tools.registry)."""

import doctest
import enum
import json
from dataclasses import dataclass
from typing import Any, Literal

import pytest

import gmi_magics.tools.registry
from gmi_magics.tools.registry import (
    MAX_OUTPUT_CHARS,
    Tool,
    ToolRegistry,
    ToolResult,
    default_serialise,
    run_tool_call,
    run_tool_calls,
    tool,
)
from gmi_magics.tools.schema import ToolSchemaError, function_schema
from gmi_magics.types import ToolCall


class Unit(enum.Enum):
    C = "C"
    F = "F"


@dataclass(frozen=True)
class Reading:
    city: str
    degrees: float
    unit: Unit = Unit.C


@tool
def query_weather(city: str, unit: Literal["C", "F"] = "C") -> dict[str, Any]:
    """Get the weather for a city.

    Args:
        city: The city name, e.g. Beijing.
        unit: Temperature unit.
    """
    return {"city": city, "degrees": 21.5, "unit": unit}


@tool(name="reading", description="A typed reading.")
def make_reading(city: str, unit: Unit = Unit.C, where: tuple[float, float] = (0, 0)) -> Reading:
    assert isinstance(unit, Unit) and isinstance(where, tuple)
    return Reading(city, 20.0, unit)


@tool
def fail(message: str) -> None:
    """Always raises."""
    raise ValueError(message)


def interrupt() -> None:
    raise KeyboardInterrupt


def call(name: str, arguments: str = "{}", id: str = "call_1") -> ToolCall:
    return ToolCall(id, name, arguments)


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([query_weather, make_reading, fail, interrupt])


# -- decorator, Tool, registry ------------------------------------------------------


def test_module_docstring_example() -> None:
    assert doctest.testmod(gmi_magics.tools.registry).failed == 0


def test_bare_decorator_keeps_function_and_attaches_tool() -> None:
    assert query_weather("Oslo") == {"city": "Oslo", "degrees": 21.5, "unit": "C"}
    attached = query_weather.__gmi_tool__  # type: ignore[attr-defined]
    assert isinstance(attached, Tool)
    assert attached.func is query_weather
    assert attached.name == "query_weather"
    assert attached.schema == function_schema(query_weather)
    assert attached.description == "Get the weather for a city."


def test_decorator_with_overrides() -> None:
    attached = make_reading.__gmi_tool__  # type: ignore[attr-defined]
    assert attached.name == "reading"
    assert attached.schema["function"]["description"] == "A typed reading."
    assert make_reading("Rome").city == "Rome"


def test_decorator_errors_surface_at_definition() -> None:
    with pytest.raises(ToolSchemaError, match=r"parameter \*args"):

        @tool
        def bad(*args: int) -> None:
            pass

    with pytest.raises(ToolSchemaError, match="must be 1-64"):

        @tool(name="bad name")
        def also_bad() -> None:
            pass


def test_from_callable_reuses_or_recomputes() -> None:
    attached = query_weather.__gmi_tool__  # type: ignore[attr-defined]
    assert Tool.from_callable(query_weather) is attached
    renamed = Tool.from_callable(query_weather, name="weather")
    assert renamed.name == "weather"
    assert renamed.description == "Get the weather for a city."
    described = Tool.from_callable(make_reading, description="Other.")
    assert (described.name, described.description) == ("reading", "Other.")
    plain = Tool.from_callable(interrupt)
    assert plain.description is None


def test_decorated_method_registered_bound() -> None:
    class Store:
        @tool(name="lookup")
        def get(self, key: str) -> str:
            """Look a key up."""
            return key.upper()

    bound = Tool.from_callable(Store().get)
    assert bound.name == "lookup"
    assert list(bound.schema["function"]["parameters"]["properties"]) == ["key"]
    result = run_tool_call(call("lookup", '{"key": "k"}'), ToolRegistry([bound]))
    assert result.output == "K"


def test_registry(registry: ToolRegistry) -> None:
    assert registry.names == ["query_weather", "reading", "fail", "interrupt"]
    assert len(registry) == 4
    assert "reading" in registry and "nope" not in registry
    assert [t.name for t in registry] == registry.names
    assert registry.get("nope") is None
    assert registry.get("reading") is make_reading.__gmi_tool__  # type: ignore[attr-defined]
    assert registry.schemas()[0] == function_schema(query_weather)
    assert json.loads(json.dumps(registry.schemas())) == registry.schemas()
    assert repr(registry) == "ToolRegistry(query_weather, reading, fail, interrupt)"


def test_registry_add_replaces_same_name(registry: ToolRegistry) -> None:
    def query_weather(city: str) -> str:
        return "new"

    added = registry.add(query_weather)
    assert registry.get("query_weather") is added
    assert len(registry) == 4
    assert registry.add(added) is added


# -- run_tool_call ------------------------------------------------------------------


def test_success(registry: ToolRegistry) -> None:
    result = run_tool_call(call("query_weather", '{"city": "北京"}', "c9"), registry)
    assert result.ok and result.error is None
    assert result.value == {"city": "北京", "degrees": 21.5, "unit": "C"}
    assert result.output == '{"city": "北京", "degrees": 21.5, "unit": "C"}'
    assert result.seconds >= 0
    assert result.to_message() == {
        "role": "tool",
        "tool_call_id": "c9",
        "content": result.output,
    }


def test_coerces_enum_and_tuple_and_serialises_dataclass(registry: ToolRegistry) -> None:
    arguments = '{"city": "Rome", "unit": "F", "where": [1.5, 2]}'
    result = run_tool_call(call("reading", arguments), registry)
    assert result.value == Reading("Rome", 20.0, Unit.F)
    assert json.loads(result.output) == {"city": "Rome", "degrees": 20.0, "unit": "Unit.F"}


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        (
            "nope",
            "{}",
            "unknown tool 'nope'. Available tools: query_weather, reading, fail, interrupt",
        ),
        ("query_weather", "{city:", "arguments are not valid JSON (Expecting"),
        ("query_weather", "[1]", "arguments must be a JSON object, not list"),
        ("query_weather", "null", "arguments must be a JSON object, not null"),
        ("query_weather", "", "invalid arguments: missing required argument 'city'"),
        (
            "query_weather",
            '{"city": 1, "unit": "K", "town": "x"}',
            "invalid arguments: city: expected string, got integer 1; "
            "unit: 'K' is not one of 'C', 'F'; unexpected argument 'town'",
        ),
        ("fail", '{"message": "boom"}', "ValueError: boom"),
    ],
)
def test_errors_become_results(
    registry: ToolRegistry, name: str, arguments: str, error: str
) -> None:
    result = run_tool_call(call(name, arguments), registry)
    assert not result.ok
    assert result.error is not None and result.error.startswith(error)
    assert result.output == f"Error: {result.error}"
    assert result.value is None
    assert result.to_message()["content"] == result.output


def test_empty_arguments_mean_no_arguments() -> None:
    def ping() -> str:
        return "pong"

    registry = ToolRegistry([ping])
    assert run_tool_call(call("ping", ""), registry).output == "pong"
    assert run_tool_call(call("ping", "  "), registry).output == "pong"


def test_unknown_tool_in_empty_registry() -> None:
    result = run_tool_call(call("x"), ToolRegistry())
    assert result.output == "Error: unknown tool 'x'. Available tools: (none)"


def test_raising_tool_keeps_exception_for_debugging(registry: ToolRegistry) -> None:
    result = run_tool_call(call("fail", '{"message": ""}'), registry)
    assert result.output == "Error: ValueError"
    assert isinstance(result.exception, ValueError)


def test_keyboard_interrupt_propagates(registry: ToolRegistry) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_tool_call(call("interrupt"), registry)


def test_confirm(registry: ToolRegistry) -> None:
    seen: list[ToolCall] = []

    def decline(c: ToolCall) -> bool:
        seen.append(c)
        return False

    request = call("query_weather", '{"city": "Oslo"}')
    result = run_tool_call(request, registry, confirm=decline)
    assert result.output == "Error: the user declined this call."
    assert seen == [request]
    result = run_tool_call(request, registry, confirm=lambda c: True)
    assert result.ok
    seen.clear()
    run_tool_call(call("query_weather", "{}"), registry, confirm=decline)
    assert seen == []  # invalid calls are refused before the user is asked


def test_custom_serialise_and_its_failure(registry: ToolRegistry) -> None:
    request = call("query_weather", '{"city": "Oslo"}')
    assert run_tool_call(request, registry, serialise=lambda v: "custom").output == "custom"

    def broken(value: Any) -> str:
        raise TypeError("no")

    result = run_tool_call(request, registry, serialise=broken)
    assert result.error == "could not serialise the result: TypeError: no"
    assert result.value is None


def test_run_tool_calls_in_order(registry: ToolRegistry) -> None:
    calls = [
        call("query_weather", '{"city": "A"}', "1"),
        call("nope", "{}", "2"),
        call("query_weather", '{"city": "B"}', "3"),
    ]
    results = run_tool_calls(calls, registry, confirm=lambda c: c.id != "3")
    assert [r.call.id for r in results] == ["1", "2", "3"]
    assert [r.ok for r in results] == [True, False, False]
    assert results[2].output == "Error: the user declined this call."


def test_tool_result_is_frozen() -> None:
    result = ToolResult(call("x"), "out")
    with pytest.raises(AttributeError):
        result.output = "other"  # type: ignore[misc]


# -- default_serialise --------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        ({"ü": [1, None]}, '{"ü": [1, null]}'),
        ((1, "a"), '[1, "a"]'),
        (Reading("Oslo", 1.0), '{"city": "Oslo", "degrees": 1.0, "unit": "Unit.C"}'),
        ({"when": enum.Enum}, '{"when": "<enum \'Enum\'>"}'),
        (Opaque(), "<Opaque>"),
    ],
    ids=repr,
)
def test_default_serialise(value: Any, expected: str) -> None:
    assert default_serialise(value) == expected


def test_default_serialise_non_json_containers_use_preview() -> None:
    text = default_serialise({(1, 2): "tuple key"})
    assert "tuple key" in text
    loop: list[Any] = []
    loop.append(loop)
    assert default_serialise(loop)  # circular: no exception


def test_default_serialise_truncates() -> None:
    text = default_serialise("x" * (MAX_OUTPUT_CHARS + 500))
    assert text.startswith("x" * MAX_OUTPUT_CHARS)
    assert text.endswith("[truncated, 500 more chars]")
    assert default_serialise("abcdef", max_chars=3) == "abc\n… [truncated, 3 more chars]"
    assert len(default_serialise(list(range(10_000)))) < 50_000


def test_default_serialise_large_object_preview_is_bounded() -> None:
    class Big:
        def __repr__(self) -> str:
            return "B" * 10_000

    assert len(default_serialise(Big())) <= 2000
