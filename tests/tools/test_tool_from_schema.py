from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from reasoner.errors import ToolDefinitionError, ToolError
from reasoner.tools import ToolRegistry, ToolSpec, tool

OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                    "required": ["lat", "lon"],
                },
            },
            "required": ["city"],
        },
    },
}

# Shaped like a Berkeley Function Calling Leaderboard entry: dialect types and a dotted name.
BFCL = {
    "name": "geometry.triangle_area",
    "description": "Area of a triangle.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "float", "description": "Base length."},
            "height": {"type": "integer", "description": "Height."},
            "point": {"type": "tuple", "items": {"type": "float"}, "description": "A vertex."},
            "meta": {"type": "dict", "properties": {"label": {"type": "String"}}, "description": "Labels."},
            "anything": {"type": "any", "description": "Passed through."},
            "names": {"type": "array", "items": {"type": "string"}, "default": []},
        },
        "required": ["base", "height"],
    },
}


def weather(city: str, unit: str = "c", where: dict[str, float] | None = None) -> dict[str, Any]:
    return {"city": city, "unit": unit}


def triangle_area(base: float, height: int, **rest: Any) -> float:
    return base * height / 2


async def test_openai_spec_with_a_sync_function() -> None:
    spec = ToolSpec.from_schema(OPENAI, weather)
    assert (spec.name, spec.description, spec.is_async, spec.output_schema) == (
        "get_weather",
        "Current weather for a city.",
        False,
        None,
    )
    schema = spec.input_schema
    assert schema["additionalProperties"] is False and schema["required"] == ["city"]
    assert schema["properties"]["where"]["additionalProperties"] is False  # nested objects are closed too
    assert await spec.invoke({"city": "Oslo", "unit": "f"}) == {"city": "Oslo", "unit": "f"}


async def test_an_async_implementation_and_the_flat_openai_function_shape() -> None:
    async def shout(text: str) -> str:
        return text.upper()

    flat = {"name": "shout", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}
    spec = ToolSpec.from_schema(flat, shout, timeout=2)
    assert spec.is_async and spec.timeout == 2
    assert await spec.invoke({"text": "hi"}) == "HI"


def test_the_dialect_is_converted_to_json_schema() -> None:
    spec = ToolSpec.from_schema(BFCL, triangle_area)
    props = spec.input_schema["properties"]
    assert spec.name == "geometry.triangle_area"
    assert spec.input_schema["type"] == "object"
    assert props["base"] == {"type": "number", "description": "Base length."}
    assert props["point"] == {"type": "array", "items": {"type": "number"}, "description": "A vertex."}
    assert props["meta"]["type"] == "object"
    assert props["meta"]["properties"]["label"] == {"type": "string"}
    assert props["meta"]["additionalProperties"] is False
    assert props["anything"] == {"description": "Passed through."}  # any JSON value
    jsonschema.Draft202012Validator.check_schema(spec.input_schema)


async def test_arguments_are_validated_with_jsonschema_naming_the_argument() -> None:
    spec = ToolSpec.from_schema(BFCL, triangle_area)
    assert await spec.invoke({"base": 3, "height": 4, "point": [1.0, 2.5], "anything": {"x": [1]}}) == 6.0
    cases = {
        "argument 'height': 'four' is not of type 'integer'": {"base": 3, "height": "four"},
        "argument 'point[1]': 'y' is not of type 'number'": {"base": 3, "height": 4, "point": [1, "y"]},
        "argument 'base': missing required argument": {"height": 4},
        "argument 'colour': unexpected argument": {"base": 3, "height": 4, "colour": "red"},
        "argument 'meta': Additional properties are not allowed": {"base": 1, "height": 1, "meta": {"x": "y"}},
    }
    for fragment, args in cases.items():
        with pytest.raises(ToolError) as info:
            await spec.invoke(args)
        assert info.value.tool == "geometry.triangle_area"
        assert str(info.value).startswith("tool 'geometry.triangle_area': invalid arguments: ")
        assert fragment in str(info.value), str(info.value)


def test_refs_are_inlined_and_cycles_refused() -> None:
    with_defs = {
        "name": "route",
        "parameters": {
            "type": "object",
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
            "properties": {"start": {"$ref": "#/$defs/Point", "description": "From."}},
            "required": ["start"],
        },
    }

    def route(start: dict[str, float]) -> None:
        return None

    schema = ToolSpec.from_schema(with_defs, route).input_schema
    assert schema["properties"]["start"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}},
        "description": "From.",
        "additionalProperties": False,
    }
    assert "$defs" not in schema

    cyclic = json.loads(json.dumps(with_defs))
    cyclic["parameters"]["$defs"]["Point"]["properties"]["next"] = {"$ref": "#/$defs/Point"}
    with pytest.raises(ToolDefinitionError, match="parameter 'start' uses the recursive definition 'Point'") as info:
        ToolSpec.from_schema(cyclic, route)
    assert info.value.parameter == "start"


@pytest.mark.parametrize(
    ("properties", "required", "parameter", "why"),
    [
        ({"x": {"type": "complex"}}, [], "x", "unknown type 'complex'"),
        ({"x": {"type": "object", "properties": {"y": {"type": "quaternion"}}}}, [], "x", r"parameter 'x\.y' has the unknown"),
        ({"x": {"type": "string", "minLength": "three"}}, [], "x", "is not valid JSON Schema"),
        ({"x": {"type": "string"}}, ["x", "y"], "y", "listed in `required` but has no entry"),
    ],
)
def test_bad_schemas_are_refused_naming_the_parameter(
    properties: dict[str, Any], required: list[str], parameter: str, why: str
) -> None:
    spec = {"name": "bad", "parameters": {"type": "object", "properties": properties, "required": required}}
    with pytest.raises(ToolDefinitionError, match=why) as info:
        ToolSpec.from_schema(spec, lambda **kw: None)
    assert info.value.parameter == parameter
    assert info.value.tool == "bad"


def test_the_function_must_fit_the_schema() -> None:
    spec = {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}

    def takes_b(b: int) -> None:
        return None

    def needs_a(a: int) -> None:
        return None

    with pytest.raises(ToolDefinitionError, match="parameter 'a' is in the schema but .*takes_b.* takes no keyword") as one:
        ToolSpec.from_schema(spec, takes_b)
    assert one.value.parameter == "a"
    with pytest.raises(ToolDefinitionError, match="parameter 'a' is required by .*needs_a.* but not by the schema"):
        ToolSpec.from_schema(spec, needs_a)


def test_invalid_names_and_non_object_parameters_are_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="invalid tool name 'get weather'"):
        ToolSpec.from_schema({"name": "get weather", "parameters": {"type": "object"}}, lambda: None)
    with pytest.raises(ToolDefinitionError, match="must be an object schema"):
        ToolSpec.from_schema({"name": "f", "parameters": {"type": "array"}}, lambda: None)


async def test_to_json_round_trips_through_from_schema() -> None:
    @tool(timeout=4, retries=1, cache=True, max_concurrency=2, requires_approval=True)
    def area(base: float, height: float = 1.0) -> float:
        """Area of a rectangle.

        Args:
            base: Base length.
        """
        return base * height

    exported = ToolRegistry.of([area]).to_json()[0]
    rebuilt = ToolSpec.from_schema(json.loads(json.dumps(exported)), area)
    original = ToolSpec.from_function(area)
    for field in ("name", "description", "input_schema", "output_schema", "timeout", "retries", "cache"):
        assert getattr(rebuilt, field) == getattr(original, field), field
    assert (rebuilt.max_concurrency, rebuilt.requires_approval) == (2, True)
    assert await rebuilt.invoke({"base": 2, "height": 3}) == 6


def test_an_output_schema_is_converted_once_and_each_tool_gets_its_own_copy() -> None:
    from reasoner.tools import _dialect

    output = {"type": "object", "properties": {"rooms": {"type": "array", "items": {"$ref": "#/$defs/Room"}}},
              "$defs": {"Room": {"type": "object", "properties": {"id": {"type": "string"}}}}}  # fmt: skip
    spec = {"name": "book", "parameters": {"type": "object", "properties": {}}, "output_schema": output}
    calls: list[object] = []
    real = _dialect._checked_output

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        return real(*args, **kwargs)

    _dialect._OUTPUTS.clear()
    try:
        _dialect._checked_output = counting  # type: ignore[assignment]
        first = ToolSpec.from_schema(spec, lambda: {})
        second = ToolSpec.from_schema({**spec, "name": "book2"}, lambda: {})
    finally:
        _dialect._checked_output = real  # type: ignore[assignment]
    outputs = [c for c in calls if isinstance(c, dict) and "rooms" in c.get("properties", {})]
    assert len(outputs) == 1  # the second tool's identical output schema was not converted again
    assert first.output_schema == second.output_schema and first.output_schema is not second.output_schema
    assert first.output_schema == output  # as written: its $refs kept (the planner follows them)
    # a bad output schema is refused each time, naming its tool
    bad = {**spec, "output_schema": {"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}}}
    for name in ("one", "two"):
        with pytest.raises(ToolDefinitionError, match=f"tool {name!r}"):
            ToolSpec.from_schema({**bad, "name": name}, lambda: {})
