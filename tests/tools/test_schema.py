"""function_schema, validate_arguments and coerce_arguments (gmi_magics.tools.schema)."""

# The legacy spellings (Optional, Union, List) are part of what is being tested.
# ruff: noqa: UP006, UP007, UP035, UP045

import __future__

import enum
import sys
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import (
    Annotated,
    Any,
    List,
    Literal,
    NewType,
    Optional,
    TypedDict,
    Union,
)

import pytest
from test_tool_calling import WEATHER_SCHEMA

from gmi_magics.tools.schema import (
    ToolSchemaError,
    coerce_arguments,
    function_schema,
    validate_arguments,
)


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


@dataclass
class Shape:
    name: str
    corners: list[Point]
    colour: Colour = Colour.RED


class _MovieBase(TypedDict):
    title: str


class Movie(_MovieBase, total=False):
    year: int


class Partial(TypedDict, total=False):
    note: str


@dataclass
class Node:
    value: int
    child: "Node | None" = None


UserId = NewType("UserId", int)

POINT = {
    "type": "object",
    "properties": {
        "x": {"type": "integer"},
        "y": {"type": "integer", "default": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["x"],
    "additionalProperties": False,
}


def params_of(schema: dict[str, Any]) -> dict[str, Any]:
    parameters: dict[str, Any] = schema["function"]["parameters"]
    return parameters


def schema_for(hint: Any) -> dict[str, Any]:
    """The property schema of a one-parameter function ``f(x: hint)``."""

    def f(x):  # type: ignore[no-untyped-def]
        return x

    f.__annotations__ = {"x": hint}
    prop: dict[str, Any] = params_of(function_schema(f))["properties"]["x"]
    return prop


TYPE_CASES: list[tuple[Any, dict[str, Any]]] = [
    (str, {"type": "string"}),
    (int, {"type": "integer"}),
    (float, {"type": "number"}),
    (bool, {"type": "boolean"}),
    (None, {"type": "null"}),
    (type(None), {"type": "null"}),
    (Any, {}),
    (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (Optional[Any], {}),
    (list[int], {"type": "array", "items": {"type": "integer"}}),
    (List[str], {"type": "array", "items": {"type": "string"}}),
    (Sequence[float], {"type": "array", "items": {"type": "number"}}),
    (typing.Sequence[bool], {"type": "array", "items": {"type": "boolean"}}),
    (list, {"type": "array"}),
    (list[Any], {"type": "array"}),
    (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
    (dict, {"type": "object"}),
    (dict[str, Any], {"type": "object"}),
    (
        tuple[float, float],
        {
            "type": "array",
            "prefixItems": [{"type": "number"}, {"type": "number"}],
            "minItems": 2,
            "maxItems": 2,
        },
    ),
    (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
    (tuple, {"type": "array"}),
    (Literal["C", "F"], {"type": "string", "enum": ["C", "F"]}),
    (Literal[1, 2, 3], {"type": "integer", "enum": [1, 2, 3]}),
    (Literal[True], {"type": "boolean", "enum": [True]}),
    (Literal["a", 1], {"type": ["string", "integer"], "enum": ["a", 1]}),
    (
        Optional[Literal["a"]],
        {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}]},
    ),
    (Colour, {"type": "string", "enum": ["red", "green"]}),
    (Level, {"type": "integer", "enum": [1, 2]}),
    (Point, POINT),
    (list[Point], {"type": "array", "items": POINT}),
    (Optional[Point], {"anyOf": [POINT, {"type": "null"}]}),
    (
        Shape,
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "corners": {"type": "array", "items": POINT},
                "colour": {
                    "type": "string",
                    "enum": ["red", "green"],
                    "default": "red",
                },
            },
            "required": ["name", "corners"],
            "additionalProperties": False,
        },
    ),
    (
        Movie,
        {
            "type": "object",
            "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
            "required": ["title"],
            "additionalProperties": False,
        },
    ),
    (
        Partial,
        {
            "type": "object",
            "properties": {"note": {"type": "string"}},
            "required": [],
            "additionalProperties": False,
        },
    ),
    (Annotated[int, "How many."], {"type": "integer", "description": "How many."}),
    (Annotated[str, 42], {"type": "string"}),
    (
        Annotated[Optional[str], "Maybe."],
        {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Maybe."},
    ),
    (UserId, {"type": "integer"}),
]


@pytest.mark.parametrize(("hint", "expected"), TYPE_CASES, ids=repr)
def test_type_to_schema(hint: Any, expected: dict[str, Any]) -> None:
    assert schema_for(hint) == expected


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.NotRequired is 3.11+")
def test_typeddict_required_and_not_required_markers() -> None:
    class Flags(TypedDict, total=False):
        name: typing.Required[str]
        size: typing.NotRequired[Annotated[int, "Bytes."]]

    assert schema_for(Flags) == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "size": {"type": "integer", "description": "Bytes."},
        },
        "required": ["name"],
        "additionalProperties": False,
    }


def test_model_card_example() -> None:
    def query_weather(city: str, unit: Literal["C", "F"] = "C") -> dict[str, Any]:
        """Get the weather for a city.

        Args:
            city: The city name, e.g. Beijing.
            unit: Temperature unit.
        """
        return {}

    assert function_schema(query_weather) == WEATHER_SCHEMA  # the model card's example


def test_missing_hint_is_any_value_and_no_docstring_no_description() -> None:
    def f(a, b=3):  # type: ignore[no-untyped-def]
        return a

    assert function_schema(f)["function"] == {
        "name": "f",
        "parameters": {
            "type": "object",
            "properties": {"a": {}, "b": {"default": 3}},
            "required": ["a"],
            "additionalProperties": False,
        },
    }


def test_no_parameters() -> None:
    def now() -> str:
        """The time."""
        return ""

    assert params_of(function_schema(now)) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


FUTURE_SOURCE = '''
from typing import Literal, Optional

def plan(when: Optional[int], kind: Literal["a", "b"] = "a",
         points: "list[Point] | None" = None) -> None:
    """Plan it."""

def recurse(node: Node) -> None:
    """Self-referential."""
'''


def future_functions() -> dict[str, Any]:
    """Functions compiled with ``from __future__ import annotations``."""
    flags = __future__.annotations.compiler_flag
    code = compile(FUTURE_SOURCE, "<future>", "exec", flags=flags, dont_inherit=True)
    namespace: dict[str, Any] = {"Point": Point, "Node": Node}
    exec(code, namespace)
    assert isinstance(namespace["plan"].__annotations__["when"], str)
    return namespace


def test_future_annotations_are_resolved() -> None:
    assert params_of(function_schema(future_functions()["plan"]))["properties"] == {
        "when": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "kind": {"type": "string", "enum": ["a", "b"], "default": "a"},
        "points": {
            "anyOf": [{"type": "array", "items": POINT}, {"type": "null"}],
            "default": None,
        },
    }


def test_unresolvable_forward_reference() -> None:
    def f(x: "Nowhere") -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(ToolSchemaError, match=r"^f: cannot resolve type hints"):
        function_schema(f)


def test_google_docstring_variants() -> None:
    def f(a: int, b: str, c: bool = False) -> int:
        """Summary line that
        wraps onto a second line.

        A longer explanation that is not part of the summary.

        Arguments:
            a (int): First value,
                continued here.
            b: Second value.

                With a second paragraph.
            c: Flag.

        Returns:
            int: never mentioned as a parameter.
        """
        return a

    function = function_schema(f)["function"]
    assert function["description"] == "Summary line that wraps onto a second line."
    props = function["parameters"]["properties"]
    assert props["a"]["description"] == "First value, continued here."
    assert props["b"]["description"] == "Second value. With a second paragraph."
    assert props["c"] == {"type": "boolean", "description": "Flag.", "default": False}


def test_numpy_docstring() -> None:
    def f(x: float, y: float, scale: int = 1) -> float:
        """Scale a point.

        Parameters
        ----------
        x, y : float
            Coordinates of the
            point.
        scale : int, optional
            Factor.

        Returns
        -------
        float
            The result.
        """
        return x

    function = function_schema(f)["function"]
    assert function["description"] == "Scale a point."
    props = function["parameters"]["properties"]
    assert props["x"]["description"] == "Coordinates of the point."
    assert props["y"]["description"] == "Coordinates of the point."
    assert props["scale"]["description"] == "Factor."


def test_rest_docstring() -> None:
    def f(path: str, depth: int = 2) -> None:
        """Walk a tree.
        :param path: Where to start,
            relative to the cwd.
        :param int depth: How deep.
        :returns: nothing
        """

    function = function_schema(f)["function"]
    assert function["description"] == "Walk a tree."
    props = function["parameters"]["properties"]
    assert props["path"]["description"] == "Where to start, relative to the cwd."
    assert props["depth"]["description"] == "How deep."


def test_annotated_description_wins_over_docstring() -> None:
    def f(n: Annotated[int, "From the annotation."]) -> None:
        """Do.

        Args:
            n: From the docstring.
        """

    props = params_of(function_schema(f))["properties"]
    assert props["n"]["description"] == "From the annotation."


def test_name_and_description_overrides() -> None:
    def f() -> None:
        """Original."""

    function = function_schema(f, name="renamed-tool", description="New.")["function"]
    assert (function["name"], function["description"]) == ("renamed-tool", "New.")
    assert "description" not in function_schema(f, description="")["function"]


def test_defaults_json_and_not() -> None:
    def f(
        colour: Colour = Colour.GREEN,
        pair: tuple[int, int] = (1, 2),
        blob: Any = None,
        odd: Any = object(),  # noqa: B008
        nan: float = float("nan"),
    ) -> None:
        pass

    params = params_of(function_schema(f))
    props = params["properties"]
    assert props["colour"]["default"] == "green"
    assert props["pair"]["default"] == [1, 2]
    assert props["blob"] == {"default": None}
    assert props["odd"] == {}
    assert props["nan"] == {"type": "number"}
    assert params["required"] == []


def test_callable_object_and_bound_method() -> None:
    class Adder:
        def __call__(self, a: int) -> int:
            """Add."""
            return a

        def method(self, b: str) -> str:
            return b

    schema = function_schema(Adder(), name="adder")
    assert params_of(schema)["properties"] == {"a": {"type": "integer"}}
    schema = function_schema(Adder().method)
    assert schema["function"]["name"] == "method"
    assert params_of(schema)["properties"] == {"b": {"type": "string"}}


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ToolSchemaError, match="no usable name; pass name="):
        function_schema(lambda x: x)
    assert function_schema(lambda x: x, name="ident")["function"]["name"] == "ident"


@pytest.mark.parametrize("name", ["has space", "", "x" * 65, "dot.ted", "ü"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ToolSchemaError, match="must be 1-64 letters"):
        function_schema(lambda: None, name=name)


def query_weather_args(city: str, *args: str) -> None:
    pass


def query_weather_kwargs(city: str, **kwargs: str) -> None:
    pass


def query_weather_posonly(city: str, /) -> None:
    pass


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (query_weather_args, "query_weather_args: parameter *args cannot be expressed"),
        (query_weather_kwargs, "query_weather_kwargs: parameter **kwargs cannot"),
        (query_weather_posonly, "query_weather_posonly: positional-only parameter"),
    ],
)
def test_parameter_kinds_rejected(func: Callable[..., Any], message: str) -> None:
    with pytest.raises(ToolSchemaError) as info:
        function_schema(func)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


class Plain:
    pass


@pytest.mark.parametrize(
    ("hint", "detail"),
    [
        (set[int], "unsupported type set[int]"),
        (frozenset, "unsupported type frozenset"),
        (Callable[[int], int], "unsupported type collections.abc.Callable"),
        (Plain, f"unsupported type {__name__}.Plain"),
        (list[set[str]], "unsupported type set[str]"),
        (dict[int, str], "JSON object keys are strings, not int"),
        (Literal[b"x"], "non-JSON value b'x'"),
        (Node, f"{__name__}.Node refers to itself"),
        (bytes, "unsupported type bytes"),
    ],
    ids=repr,
)
def test_unsupported_types(hint: Any, detail: str) -> None:
    with pytest.raises(ToolSchemaError) as info:
        schema_for(hint)
    message = str(info.value)
    assert message.startswith("f: parameter 'x' has type ")
    assert "cannot be expressed as a JSON schema" in message
    assert detail in message


def test_recursive_type_from_future_module() -> None:
    with pytest.raises(ToolSchemaError, match=r"recurse: parameter 'node'.*itself"):
        function_schema(future_functions()["recurse"])


# -- validate_arguments -------------------------------------------------------------


def booking(
    city: str,
    nights: int,
    unit: Literal["C", "F"] = "C",
    price: float = 0.0,
    colour: Optional[Colour] = None,
    where: Optional[Point] = None,
    pair: tuple[int, str] = (0, ""),
    tags: list[str] | None = None,
    scores: dict[str, int] | None = None,
    extra: Any = None,
    movie: Movie | None = None,
) -> None:
    """Book."""


BOOKING = function_schema(booking)

VALID = [
    {"city": "Paris", "nights": 2},
    {"city": "", "nights": -1, "unit": "F", "price": 3},
    {"city": "x", "nights": 1, "price": 2.5, "colour": "red"},
    {"city": "x", "nights": 1, "colour": None},
    {"city": "x", "nights": 1, "where": {"x": 1}, "pair": [1, "a"]},
    {"city": "x", "nights": 1, "where": None, "tags": ["a"], "scores": {"a": 1}},
    {"city": "x", "nights": 1, "extra": {"anything": [1, None]}},
    {"city": "x", "nights": 1, "movie": {"title": "M", "year": 1999}},
]


@pytest.mark.parametrize("arguments", VALID)
def test_valid_arguments(arguments: dict[str, Any]) -> None:
    assert validate_arguments(BOOKING, arguments) == []


INVALID: list[tuple[Any, list[str]]] = [
    ({"nights": 1}, ["missing required argument 'city'"]),
    (
        {"city": "x", "nights": 1, "town": "y"},
        ["unexpected argument 'town'"],
    ),
    (
        {"city": "x", "nights": 1, "unit": "K"},
        ["unit: 'K' is not one of 'C', 'F'"],
    ),
    ({"city": 3, "nights": 1}, ["city: expected string, got integer 3"]),
    ({"city": "x", "nights": 1.5}, ["nights: expected integer, got number 1.5"]),
    ({"city": "x", "nights": True}, ["nights: expected integer, got boolean true"]),
    ({"city": "x", "nights": "2"}, ["nights: expected integer, got string '2'"]),
    ({"city": "x", "nights": 1, "price": False}, ["price: expected number, got boolean false"]),
    ({"city": None, "nights": 1}, ["city: expected string, got null"]),
    (
        {"city": "x", "nights": 1, "colour": "blue"},
        ["colour: 'blue' is not one of 'red', 'green'"],
    ),
    (
        {"city": "x", "nights": 1, "where": {"y": "a", "z": 1}},
        [
            "where: missing required field 'x'",
            "where.y: expected integer, got string 'a'",
            "where: unexpected field 'z'",
        ],
    ),
    (
        {"city": "x", "nights": 1, "where": [1, 2]},
        ["where: expected object or null, got array"],
    ),
    (
        {"city": "x", "nights": 1, "pair": [1, 2, 3]},
        ["pair: expected 2 items, got 3", "pair[1]: expected string, got integer 2"],
    ),
    (
        {"city": "x", "nights": 1, "tags": ["a", 1]},
        ["tags[1]: expected string, got integer 1"],
    ),
    (
        {"city": "x", "nights": 1, "scores": {"a": "high"}},
        ["scores.a: expected integer, got string 'high'"],
    ),
    (
        {"city": "x", "nights": 1, "movie": {"year": 1}},
        ["movie: missing required field 'title'"],
    ),
    ([], ["arguments: expected object, got array"]),
    ("x", ["arguments: expected object, got string 'x'"]),
    (
        {},
        ["missing required argument 'city'", "missing required argument 'nights'"],
    ),
]


@pytest.mark.parametrize(("arguments", "problems"), INVALID)
def test_invalid_arguments(arguments: Any, problems: list[str]) -> None:
    assert validate_arguments(BOOKING, arguments) == problems


def test_validate_accepts_parameters_schema_and_anyof_of_scalars() -> None:
    assert validate_arguments(params_of(BOOKING), {"city": "x", "nights": 1}) == []
    schema = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert validate_arguments(schema, 1) == []
    assert validate_arguments(schema, 1.5) == [
        "arguments: expected integer or string, got number 1.5"
    ]
    long_value = "y" * 100
    [problem] = validate_arguments({"type": "integer"}, long_value)
    assert problem.endswith("...") and long_value not in problem


def test_array_length_bounds() -> None:
    assert validate_arguments({"type": "array", "minItems": 2}, [1]) == [
        "arguments: expected at least 2 items, got 1"
    ]
    assert validate_arguments({"type": "array", "maxItems": 1}, [1, 2]) == [
        "arguments: expected at most 1 items, got 2"
    ]


def test_enum_keeps_booleans_apart_from_integers() -> None:
    schema = {"type": ["integer", "boolean"], "enum": [1, False]}
    assert validate_arguments(schema, 1) == []
    assert validate_arguments(schema, True) == ["arguments: true is not one of 1, false"]


# -- coerce_arguments ---------------------------------------------------------------


def test_coerce_enum_dataclass_tuple() -> None:
    def f(
        colour: Colour,
        level: Optional[Level],
        shape: Shape,
        pair: tuple[int, Colour],
        many: tuple[Colour, ...],
        points: list[Point],
        by_name: dict[str, Colour],
        movie: Movie,
        plain: Annotated[str, "text"],
        nothing: Optional[Point] = None,
    ) -> None:
        pass

    arguments = {
        "colour": "red",
        "level": 2,
        "shape": {"name": "tri", "corners": [{"x": 1}], "colour": "green"},
        "pair": [3, "green"],
        "many": ["red", "green"],
        "points": [{"x": 1, "y": 2, "tags": ["t"]}],
        "by_name": {"a": "red"},
        "movie": {"title": "M"},
        "plain": "s",
        "nothing": None,
    }
    assert validate_arguments(function_schema(f), arguments) == []
    assert coerce_arguments(f, arguments) == {
        "colour": Colour.RED,
        "level": Level.HIGH,
        "shape": Shape("tri", [Point(1)], Colour.GREEN),
        "pair": (3, Colour.GREEN),
        "many": (Colour.RED, Colour.GREEN),
        "points": [Point(1, 2, ["t"])],
        "by_name": {"a": Colour.RED},
        "movie": {"title": "M"},
        "plain": "s",
        "nothing": None,
    }


def test_coerce_union_prefers_the_converting_branch() -> None:
    def f(a: Union[str, Colour], b: Union[int, str], c: tuple) -> None:  # type: ignore[type-arg]
        pass

    assert coerce_arguments(f, {"a": "red", "b": "x", "c": [1]}) == {
        "a": Colour.RED,
        "b": "x",
        "c": (1,),
    }
    assert coerce_arguments(f, {"a": "other"}) == {"a": "other"}


def test_coerce_future_annotations() -> None:
    plan = future_functions()["plan"]
    assert coerce_arguments(plan, {"points": [{"x": 1}]}) == {"points": [Point(1)]}
