from __future__ import annotations

import datetime
import enum
import json
import socket
from collections.abc import Callable
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import ToolDefinitionError
from reasoner.tools import ToolSpec, tool


class Unit(enum.Enum):
    """Temperature unit."""

    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Location(BaseModel):
    city: str
    country: str = "US"


class Trip(BaseModel):
    title: str  # a property called "title" must survive the removal of pydantic's titles
    stops: list[Location]


class Forecast(BaseModel):
    high: float
    low: float
    unit: Unit


class Node(BaseModel):
    value: int
    children: list[Node] = []


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


def _refs(schema: Any) -> list[str]:
    text = json.dumps(schema)
    return [part for part in text.split('"') if part.startswith("#/")]


def _spec(fn: Callable[..., Any], **options: Any) -> ToolSpec:
    return ToolSpec.from_function(fn, **options)


def test_signature_types_defaults_optional_literal_enum_lists_and_dicts() -> None:
    def weather(
        city: str,
        days: int = 3,
        unit: Unit = Unit.CELSIUS,
        detail: Literal["brief", "full"] = "brief",
        hours: list[int] | None = None,
        extra: dict[str, float] | None = None,
        when: datetime.date | None = None,
        pair: tuple[int, str] = (1, "a"),
    ) -> Forecast:
        """Weather forecast for a city."""
        raise NotImplementedError

    schema = _spec(weather).input_schema
    props = schema["properties"]
    assert schema["type"] == "object"
    assert schema["required"] == ["city"]
    assert schema["additionalProperties"] is False
    assert list(props) == ["city", "days", "unit", "detail", "hours", "extra", "when", "pair"]  # signature order
    assert props["city"] == {"type": "string"}
    assert props["days"] == {"type": "integer", "default": 3}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"] and props["unit"]["default"] == "celsius"
    assert props["detail"]["enum"] == ["brief", "full"]
    assert props["hours"]["anyOf"] == [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]
    assert props["extra"]["anyOf"][0] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["when"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert "title" not in json.dumps(props).replace('"title": "', "")  # no pydantic titles anywhere
    jsonschema.Draft202012Validator.check_schema(schema)


def test_nested_models_are_inlined_and_closed() -> None:
    def plan_trip(trip: Trip, home: Location | None = None) -> str:
        """Plan a trip."""
        return trip.title

    schema = _spec(plan_trip).input_schema
    assert _refs(schema) == [] and "$defs" not in schema
    trip = schema["properties"]["trip"]
    assert trip["type"] == "object" and trip["additionalProperties"] is False
    assert list(trip["properties"]) == ["title", "stops"]  # the field named "title" is kept
    assert trip["properties"]["title"] == {"type": "string"}
    location = trip["properties"]["stops"]["items"]
    assert location["additionalProperties"] is False
    assert location["required"] == ["city"]
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"trip": {"title": "t", "stops": [{"city": "Oslo"}]}})
    assert not validator.is_valid({"trip": {"title": "t", "stops": [{"city": "Oslo", "zip": 1}]}})


def test_a_model_that_allows_extra_keys_keeps_saying_so() -> None:
    def f(x: Loose) -> int:
        return x.a

    assert _spec(f).input_schema["properties"]["x"]["additionalProperties"] is True


GOOGLE = '''Convert an amount between currencies.

    Uses the bundled rate table.

    Args:
        amount (float): How much to convert.
        source: ISO code to convert from,
            e.g. "USD".
        target: ISO code to convert to.

    Returns:
        float: The converted amount.
    '''

NUMPY = """Convert an amount between currencies.

    Uses the bundled rate table.

    Parameters
    ----------
    amount : float
        How much to convert.
    source : str
        ISO code to convert from,
        e.g. "USD".
    target : str
        ISO code to convert to.

    Returns
    -------
    float
        The converted amount.
    """

SPHINX = """Convert an amount between currencies.

    Uses the bundled rate table.

    :param float amount: How much to convert.
    :param source: ISO code to convert from,
        e.g. "USD".
    :type source: str
    :param target: ISO code to convert to.
    :returns: The converted amount.
    :rtype: float
    """


@pytest.mark.parametrize("doc", [GOOGLE, NUMPY, SPHINX], ids=["google", "numpy", "sphinx"])
def test_parameter_descriptions_come_from_each_docstring_style(doc: str) -> None:
    def convert(amount: float, source: str, target: str = "EUR") -> float:
        return amount

    convert.__doc__ = doc
    spec = _spec(convert)
    props = spec.input_schema["properties"]
    assert spec.description == "Convert an amount between currencies.\n\nUses the bundled rate table."
    assert props["amount"]["description"] == "How much to convert."
    assert props["source"]["description"] == 'ISO code to convert from, e.g. "USD".'
    assert props["target"]["description"] == "ISO code to convert to."
    assert spec.output_schema == {"type": "number", "description": "The converted amount."}


def test_field_description_wins_over_the_docstring() -> None:
    def f(n: Annotated[int, Field(ge=1, le=10, description="from Field")], m: int = Field(5, description="m field")) -> int:
        """Do it.

        Args:
            n: from docstring
            m: from docstring too
        """
        return n

    props = _spec(f).input_schema["properties"]
    assert props["n"] == {"type": "integer", "minimum": 1, "maximum": 10, "description": "from Field"}
    assert props["m"]["description"] == "m field" and props["m"]["default"] == 5


def test_output_schema_from_the_return_annotation() -> None:
    def forecast(city: str) -> Forecast:
        raise NotImplementedError

    def nothing(city: str) -> None:
        return None

    def untyped(city: str):  # type: ignore[no-untyped-def]
        return city

    out = _spec(forecast).output_schema
    assert out is not None and _refs(out) == []
    assert out["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert out["required"] == ["high", "low", "unit"]
    assert _spec(nothing).output_schema == {"type": "null"}
    assert _spec(untyped).output_schema is None


def test_a_recursive_return_type_keeps_its_defs_at_the_top() -> None:
    def tree(root: int) -> Node:
        raise NotImplementedError

    out = _spec(tree).output_schema
    assert out is not None
    assert set(out["$defs"]) == {"Node"}
    assert all(ref.startswith("#/$defs/") for ref in _refs(out))
    jsonschema.Draft202012Validator.check_schema(out)


class Opaque:
    pass


def _variadic(*items: int) -> int:
    return 0


def _kwargs(**options: str) -> int:
    return 0


def _positional_only(x: int, /) -> int:
    return x


def _unannotated(x, y: int) -> int:  # type: ignore[no-untyped-def]
    return y


def _socket(conn: socket.socket) -> None:
    return None


def _object(value: object) -> None:
    return None


def _callable(callback: Callable[[int], int]) -> None:
    return None


def _opaque(thing: Opaque) -> None:
    return None


def _recursive(tree: Node) -> int:
    return 0


def _bad_return(x: int) -> socket.socket:
    raise NotImplementedError


def _unresolvable(x: NotDefinedAnywhere) -> int:  # type: ignore[name-defined]  # noqa: F821
    return 0


def _generator(n: int):  # type: ignore[no-untyped-def]
    yield n


@pytest.mark.parametrize(
    ("fn", "parameter", "why"),
    [
        (_variadic, "items", r"\(\*items\) is variadic"),
        (_kwargs, "options", r"\(\*\*options\) accepts arbitrary keywords"),
        (_positional_only, "x", "positional-only"),
        (_unannotated, "x", "has no type annotation"),
        (_socket, "conn", "socket.*cannot be expressed as JSON Schema"),
        (_object, "value", "typed `object`"),
        (_callable, "callback", "cannot be expressed as JSON Schema"),
        (_opaque, "thing", "Opaque.*cannot be expressed as JSON Schema"),
        (_recursive, "tree", "recursive type 'Node'"),
        (_bad_return, "return", "the return annotation .*socket"),
        (_unresolvable, "x", "NotDefinedAnywhere.*cannot be resolved"),
    ],
)
def test_unrepresentable_signatures_are_refused_naming_the_parameter(
    fn: Callable[..., Any], parameter: str, why: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=why) as info:
        tool(fn)
    error = info.value
    assert error.parameter == parameter
    assert error.tool == fn.__name__
    assert f"tool {fn.__name__!r}" in str(error)
    if parameter != "return":
        assert f"parameter {parameter!r}" in str(error)
    assert not hasattr(fn, "__reasoner_tool__")


def test_a_generator_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="generator function"):
        tool(_generator)


def test_a_non_json_default_is_left_out_of_the_schema() -> None:
    sentinel = Opaque()

    def f(x: int, y: int | None = sentinel) -> int:  # type: ignore[assignment]
        return x

    props = _spec(f).input_schema["properties"]
    assert "default" not in props["y"]
    assert _spec(f).input_schema["required"] == ["x"]


def test_a_function_without_parameters() -> None:
    def now() -> str:
        """The current time."""
        return "noon"

    assert _spec(now).input_schema == {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


class Cat(BaseModel):
    kind: Literal["cat"]
    meows: int


class Dog(BaseModel):
    kind: Literal["dog"]
    barks: bool


async def test_a_discriminated_union_is_inlined_without_dangling_mappings() -> None:
    def pet(animal: Annotated[Cat | Dog, Field(discriminator="kind")]) -> str:
        return type(animal).__name__

    spec = _spec(pet)
    animal = spec.input_schema["properties"]["animal"]
    assert "$defs" not in json.dumps(spec.input_schema)
    assert [member["properties"]["kind"]["const"] for member in animal["oneOf"]] == ["cat", "dog"]
    assert await spec.invoke({"animal": {"kind": "dog", "barks": True}}) == "Dog"


async def test_any_is_an_unconstrained_value() -> None:
    def store(key: str, value: Any) -> None:
        return None

    spec = _spec(store)
    assert spec.input_schema["properties"]["value"] == {}
    assert await spec.invoke({"key": "k", "value": {"nested": [1, "a", None]}}) is None
