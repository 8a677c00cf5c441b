"""Function specs written to hurt: exponential $refs, huge or deep schemas, backtracking patterns."""

from __future__ import annotations

import time
from typing import Any

import pytest

from reasoner.errors import PlanError, ToolDefinitionError, ToolError
from reasoner.tools import ToolSpec


def spec(parameters: dict[str, Any], output: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "function", "function": {"name": "probe", "description": "d", "parameters": parameters}}
    if output is not None:
        body["output_schema"] = output
    return body


def fn(**kwargs: Any) -> str:
    return "ok"


def doubling_defs(depth: int) -> dict[str, Any]:
    defs: dict[str, Any] = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "string"}
    return defs


@pytest.mark.timeout(20)
def test_exponential_refs_are_refused_naming_the_parameter() -> None:
    parameters = {"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "required": ["x"], "$defs": doubling_defs(24)}
    with pytest.raises(ToolDefinitionError, match="expands to more than") as info:
        ToolSpec.from_schema(spec(parameters), fn)  # the old inliner: no answer in 25 s at depth 16
    assert info.value.parameter == "x" and info.value.tool == "probe"


@pytest.mark.timeout(20)
def test_exponential_refs_in_the_output_schema_are_refused() -> None:
    output = {"$ref": "#/$defs/d0", "$defs": doubling_defs(24)}
    with pytest.raises(ToolDefinitionError, match="parameter 'return' is too large"):
        ToolSpec.from_schema(spec({"type": "object", "properties": {}}, output), fn)


def test_a_deep_schema_is_refused_not_a_recursion_error() -> None:
    inner: dict[str, Any] = {"type": "string"}
    for _ in range(400):
        inner = {"type": "object", "properties": {"a": inner}}
    with pytest.raises(ToolDefinitionError, match="nests deeper than 64"):
        ToolSpec.from_schema(spec({"type": "object", "properties": {"a": inner}}), fn)


@pytest.mark.timeout(20)
def test_validate_args_runs_patterns_in_linear_time() -> None:
    parameters = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}, "required": ["s"]}
    probe = ToolSpec.from_schema(spec(parameters), fn)
    started = time.perf_counter()
    with pytest.raises(ToolError, match="does not match"):
        probe.validate_args({"s": "a" * 40 + "!"})  # Python's re: about 2**40 steps
    assert time.perf_counter() - started < 5


def test_a_pattern_re2_cannot_run_is_refused_at_registration() -> None:
    parameters = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(?!admin).*$"}}, "required": ["s"]}
    with pytest.raises(ToolDefinitionError, match="lookaround") as info:
        ToolSpec.from_schema(spec(parameters), fn)
    assert info.value.parameter == "s"


@pytest.mark.parametrize(
    ("prop", "words"),
    [
        ({"type": "array", "enum": ["a", "b"]}, "enum values ('a', 'b'), none of which is of its type 'array'"),
        ({"type": "integer", "enum": [1.5, "2"]}, "none of which is of its type 'integer'"),
        ({"type": "string", "enum": []}, "an empty enum"),
        ({"type": "boolean", "const": "yes"}, "const 'yes', which is not of its type 'boolean'"),
    ],
)
def test_an_unsatisfiable_parameter_is_refused_naming_tool_and_parameter(prop: dict[str, Any], words: str) -> None:
    parameters = {"type": "object", "properties": {"mode": prop}, "required": ["mode"]}
    with pytest.raises(ToolDefinitionError, match="tool 'probe': parameter 'mode'") as info:
        ToolSpec.from_schema(spec(parameters), fn)  # was: registered, then "'nodes' is unsatisfiable" at planning
    assert words in str(info.value) and info.value.parameter == "mode"


def test_enums_with_some_values_of_the_type_still_register() -> None:
    parameters = {"type": "object", "properties": {"n": {"type": ["integer", "null"], "enum": [1, 2.0, None, "x"]}}, "required": ["n"]}
    assert ToolSpec.from_schema(spec(parameters), fn).input_schema["properties"]["n"]["enum"] == [1, 2.0, None, "x"]


def test_refs_into_the_schema_itself_are_followed() -> None:
    parameters = {
        "type": "object",
        "properties": {"home": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}}, "work": {"$ref": "#/properties/home"}},
        "required": ["home", "work"],
    }
    tool = ToolSpec.from_schema(spec(parameters), fn)  # was: "has a $ref that is not a local #/$defs/ definition"
    assert tool.input_schema["properties"]["work"]["properties"]["city"] == {"type": "string", "maxLength": 40}


def test_draft_7_ignores_keywords_beside_a_ref() -> None:
    from reasoner._output import output_schema

    defs = {"n": {"type": "integer"}}
    _, draft7 = output_schema({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": defs, "$ref": "#/definitions/n", "maximum": 3})
    _, modern = output_schema({"$defs": defs, "$ref": "#/$defs/n", "maximum": 3})
    assert "maximum" not in draft7 and modern["maximum"] == 3


def test_a_recursive_output_schema_is_kept_as_written_and_its_paths_are_followed() -> None:
    from reasoner.planner import Plan, validate
    from reasoner.tools import ToolRegistry

    kids = {"type": "array", "items": {"$ref": "#/$defs/T"}}
    tree = {"type": "object", "properties": {"name": {"type": "string"}, "kids": kids}, "additionalProperties": False}
    probe = ToolSpec.from_schema(spec({"type": "object", "properties": {}}, {"$ref": "#/$defs/T", "$defs": {"T": tree}}), fn)
    assert probe.output_schema == {"$ref": "#/$defs/T", "$defs": {"T": tree}}  # was: refused, "cannot be inlined"
    echo = ToolSpec.from_schema(
        {"name": "echo", "parameters": {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}}, fn
    )
    registry = ToolRegistry([probe, echo])
    deep = {"nodes": [{"id": 1, "tool": "probe", "args": {}}, {"id": 2, "tool": "echo", "args": {"s": {"$ref": 1, "path": "kids.0.kids.1.name"}}}]}
    validate(Plan.from_json(deep), registry)
    wrong = {"nodes": [deep["nodes"][0], {"id": 2, "tool": "echo", "args": {"s": {"$ref": 1, "path": "kids.0.age"}}}]}
    with pytest.raises(PlanError, match="has no 'age'"):
        validate(Plan.from_json(wrong), registry)


def test_keywords_beside_a_ref_that_disagree_with_it_both_apply() -> None:
    from reasoner.tools._jsonschema import inline_refs

    defs = {"S": {"type": "string", "maxLength": 5}}
    assert inline_refs({"$ref": "#/$defs/S", "maxLength": 10}, defs) == {"allOf": [defs["S"], {"maxLength": 10}]}
    assert inline_refs({"$ref": "#/$defs/S", "description": "d"}, defs) == {**defs["S"], "description": "d"}


def test_a_percent_encoded_pointer_is_followed() -> None:
    from reasoner.grammars._jsonschema import resolve_pointer

    assert resolve_pointer({"$defs": {"a b": {"type": "string"}}}, "#/$defs/a%20b") == {"type": "string"}
    assert resolve_pointer({"$defs": {}}, "#/$defs/missing") is None
