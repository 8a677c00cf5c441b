from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.planner import Plan, plan_schema, validate
from reasoner.tools import ToolRegistry, ToolSpec

VALID = (
    '{"nodes":['
    '{"id":1,"tool":"search","args":{"query":"largest cloud providers","k":3}},'
    '{"id":2,"tool":"stock_price","args":{"ticker":{"$ref":1,"path":"0.tickers.0"}}},'
    '{"id":3,"tool":"calculator","args":{"expression":"2*21"}},'
    '{"id":4,"tool":"chart","args":{"values":[{"$ref":2,"path":"close"},{"$ref":3,"path":""},7.5],'
    '"title":{"$ref":1,"path":"0.title"},"style":{"color":"red","width":{"$ref":3,"path":""}}}},'
    '{"id":5,"tool":"echo","args":{"value":[1,{"a":{"$ref":4,"path":""}}],"extra":{"k":["x",null]}}}'
    "]}"
)


def _one_tool(name: str, input_schema: dict[str, Any]) -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(ToolSpec(name=name, description="", input_schema=input_schema, output_schema=None, fn=lambda: None, is_async=False))
    return registry


def _schemas(schema: Any, keyword: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema with the keyword it sits under, walked structurally ("$ref" as a property name is a name)."""
    if not isinstance(schema, dict):
        return
    yield keyword, schema
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            for sub in value.values():
                yield from _schemas(sub, key)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for sub in value:
                yield from _schemas(sub, key)
        elif key in ("items", "additionalProperties", "not"):
            yield from _schemas(value, key)


def test_layout_follows_the_design(registry: ToolRegistry) -> None:
    schema = plan_schema(registry, max_nodes=16)
    assert list(schema) == ["type", "properties", "required", "additionalProperties"]
    assert schema["required"] == ["nodes"] and schema["additionalProperties"] is False
    nodes = schema["properties"]["nodes"]
    assert (nodes["minItems"], nodes["maxItems"]) == (0, 16)  # an empty plan: no tool applies
    branches = nodes["items"]["oneOf"]
    assert [b["properties"]["tool"] for b in branches] == [{"const": spec.name} for spec in registry]
    for branch in branches:
        # the grammar emits keys in properties order
        assert list(branch["properties"]) == ["id", "tool", "args"]
        assert branch["required"] == ["id", "tool", "args"]
        assert branch["properties"]["id"] == {"type": "integer", "minimum": 1, "maximum": 16}
    ref = branches[0]["properties"]["args"]["properties"]["query"]["anyOf"][-1]
    assert list(ref["properties"]) == ["$ref", "path"]
    assert ref["required"] == ["$ref", "path"] and ref["additionalProperties"] is False


def test_every_object_is_closed_and_every_string_and_array_is_bounded(registry: ToolRegistry) -> None:
    schema = plan_schema(registry, max_nodes=20, max_string=100, max_array=20)
    seen_types = set()
    for _keyword, sub in _schemas(schema):
        assert "$defs" not in sub and "format" not in sub and "title" not in sub and "default" not in sub
        assert not isinstance(sub.get("$ref"), str), f"a $ref is left: {sub}"
        types = sub.get("type", [])
        types = [types] if isinstance(types, str) else types
        seen_types.update(types)
        if "properties" in sub:
            assert sub["additionalProperties"] is False, sub
        if "string" in types and "enum" not in sub:
            assert 0 < sub["maxLength"] <= 100, sub
        if "array" in types:
            assert 0 < sub["maxItems"] <= 20, sub
    assert {"string", "array", "object", "integer", "number"} <= seen_types


def test_a_tools_own_bounds_win_and_the_plan_bounds_fill_in() -> None:
    registry = _one_tool("t", {
        "type": "object",
        "properties": {
            "short": {"type": "string", "maxLength": 8},
            "long": {"type": "string", "maxLength": 10_000},
            "few": {"type": "array", "items": {"type": "integer"}, "maxItems": 2},
            "many": {"type": "array", "items": {"type": "integer"}, "minItems": 50},
            "free": {"type": "string"},
            "list": {"type": "array", "items": {"type": "integer"}},
        },
        "required": [],
        "additionalProperties": False,
    })
    args = plan_schema(registry, max_string=64, max_array=10)["properties"]["nodes"]["items"]["oneOf"][0]["properties"]["args"]
    value = {name: prop["anyOf"][0] for name, prop in args["properties"].items()}
    assert value["short"]["maxLength"] == 8
    assert value["long"]["maxLength"] == 10_000  # the tool says its argument may be that long
    assert value["few"]["maxItems"] == 2
    assert value["free"]["maxLength"] == 64 and value["list"]["maxItems"] == 10
    assert (value["many"]["minItems"], value["many"]["maxItems"]) == (50, 50)  # a tool's minimum wins, or nothing fits


def test_defs_are_inlined_with_a_ref_alternative_inside(registry: ToolRegistry) -> None:
    chart = plan_schema(registry)["properties"]["nodes"]["items"]["oneOf"][2]["properties"]["args"]
    style = chart["properties"]["style"]["anyOf"][0]
    assert style["type"] == "object" and list(style["properties"]) == ["color", "width"]
    assert style["properties"]["color"]["anyOf"][0] == {"type": "string", "enum": ["red", "blue"]}
    assert style["properties"]["color"]["anyOf"][1]["properties"]["$ref"]["type"] == "integer"


@pytest.mark.parametrize(
    ("properties", "parameter", "problem"),
    [
        ({"tree": {"$ref": "#/$defs/Tree"}}, "tree", "recursive through '#/$defs/Tree'"),
        ({"url": {"$ref": "https://example.com/s.json"}}, "url", "not a local reference"),
        ({"gone": {"$ref": "#/$defs/Missing"}}, "gone", "points to nothing"),
    ],
)
def test_schemas_that_cannot_be_made_finite_are_refused(properties: dict[str, Any], parameter: str, problem: str) -> None:
    tree = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}}
    registry = _one_tool("walk", {"type": "object", "properties": properties, "required": [], "additionalProperties": False, "$defs": {"Tree": tree}})
    with pytest.raises(ToolDefinitionError) as caught:
        plan_schema(registry)
    assert caught.value.tool == "walk" and caught.value.parameter == parameter
    assert problem in str(caught.value) and f"tool 'walk' (parameter {parameter!r})" in str(caught.value)


def test_bad_arguments_are_usage_errors(registry: ToolRegistry) -> None:
    with pytest.raises(UsageError, match="at least one tool"):
        plan_schema(ToolRegistry())
    with pytest.raises(UsageError, match="max_string=0"):
        plan_schema(registry, max_string=0)


def test_the_schema_is_valid_and_accepts_a_plan_with_refs_everywhere(registry: ToolRegistry) -> None:
    schema = plan_schema(registry)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(VALID), schema, cls=jsonschema.Draft202012Validator)
    validate(Plan.from_json(VALID), registry)


def test_a_replan_schema_starts_at_first_id(registry: ToolRegistry) -> None:
    schema = plan_schema(registry, first_id=5, max_nodes=4)
    node_id = schema["properties"]["nodes"]["items"]["oneOf"][0]["properties"]["id"]
    assert (node_id["minimum"], node_id["maximum"]) == (5, 8)
    replan = {"nodes": [{"id": 5, "tool": "calculator", "args": {"expression": {"$ref": 2, "path": "x"}}}]}
    jsonschema.validate(replan, schema)


def _edit(path: list[Any], value: Any) -> dict[str, Any]:
    plan = json.loads(VALID)
    target = plan
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return plan


_DELETE = object()
BAD = {
    "unknown tool": _edit(["nodes", 2, "tool"], "calc"),
    "wrong argument type": _edit(["nodes", 0, "args", "query"], 42),
    "argument out of range": _edit(["nodes", 0, "args", "k"], 11),
    "missing argument": _edit(["nodes", 2, "args", "expression"], _DELETE),
    "unexpected argument": _edit(["nodes", 2, "args", "precision"], 3),
    "enum violated in a $defs model": _edit(["nodes", 3, "args", "style", "color"], "green"),
    "extra key in a nested model": _edit(["nodes", 3, "args", "style", "dash"], True),
    "too many items": _edit(["nodes", 3, "args", "values"], [1, 2, 3, 4]),
    "string longer than the tool allows": _edit(["nodes", 1, "args", "ticker"], "TOOLONGTICKER"),
    "string longer than the plan bound": _edit(["nodes", 2, "args", "expression"], "1+" * 300),
    "extra node key": _edit(["nodes", 2, "deps"], [1]),
    "missing node key": _edit(["nodes", 2, "args"], _DELETE),
    "id below 1": _edit(["nodes", 0, "id"], 0),
    "string id": _edit(["nodes", 0, "id"], "1"),
    "ref with an extra key": _edit(["nodes", 1, "args", "ticker"], {"$ref": 1, "path": "0", "as": "str"}),
    "ref without path": _edit(["nodes", 1, "args", "ticker"], {"$ref": 1}),
    "ref to node 0": _edit(["nodes", 1, "args", "ticker"], {"$ref": 0, "path": ""}),
    "extra top-level key": {**json.loads(VALID), "answer": "x"},
    "too many nodes": {"nodes": [{"id": i, "tool": "calculator", "args": {"expression": "1"}} for i in range(1, 66)]},
}


@pytest.mark.parametrize("case", list(BAD))
def test_the_schema_rejects_each_kind_of_bad_plan(registry: ToolRegistry, case: str) -> None:
    validator = jsonschema.Draft202012Validator(plan_schema(registry))
    assert not validator.is_valid(BAD[case])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_valid_plan_fits_the_schema(registry: ToolRegistry, valid_plans: st.SearchStrategy[Plan], data: st.DataObject) -> None:
    plan = data.draw(valid_plans)
    validate(plan, registry)
    errors = list(_plan_validator(registry).iter_errors(json.loads(plan.to_json())))
    assert not errors, errors[0].message


_validators: dict[int, jsonschema.Draft202012Validator] = {}


def _plan_validator(registry: ToolRegistry) -> jsonschema.Draft202012Validator:
    if id(registry) not in _validators:
        _validators[id(registry)] = jsonschema.Draft202012Validator(plan_schema(registry))
    return _validators[id(registry)]


def _byte_matcher(schema: dict[str, Any]) -> Any:
    llguidance = pytest.importorskip("llguidance")

    class ByteTokenizer:
        tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
        eos_token_id = 256
        bos_token_id = None

        def __call__(self, text: bytes) -> list[int]:
            return list(text)

    tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(ByteTokenizer()))
    grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema), defaults={"whitespace_flexible": False})
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    assert not is_error and not messages

    def accepts(text: str) -> bool:
        matcher = llguidance.LLMatcher(tokenizer, grammar)
        tokens = list(text.encode())
        return matcher.validate_tokens(tokens) == len(tokens) and matcher.consume_tokens(tokens) and matcher.is_accepting()

    return accepts


def test_llguidance_compiles_the_schema_and_enforces_it_byte_by_byte(registry: ToolRegistry) -> None:
    accepts = _byte_matcher(plan_schema(registry))
    assert accepts(VALID)
    for case in ("unknown tool", "wrong argument type", "unexpected argument", "ref without path", "enum violated in a $defs model"):
        assert not accepts(json.dumps(BAD[case], separators=(",", ":"))), case
    assert not accepts(json.dumps(json.loads(VALID)))  # no free whitespace


@pytest.mark.parametrize("backend", ["xgrammar", "outlines_core"])
def test_other_grammar_backends_compile_the_schema(registry: ToolRegistry, backend: str) -> None:
    schema = json.dumps(plan_schema(registry, max_string=32, max_array=4, max_nodes=8))
    if backend == "xgrammar":
        xgrammar = pytest.importorskip("xgrammar")
        assert xgrammar.Grammar.from_json_schema(schema, any_whitespace=False) is not None
    else:
        outlines_json = pytest.importorskip("outlines_core.json_schema")
        assert outlines_json.build_regex_from_schema(schema)


@pytest.mark.parametrize("strict", [False, True])
def test_the_schema_admits_the_empty_plan(registry: ToolRegistry, strict: bool) -> None:
    # "no tool applies": the loop then answers directly
    assert jsonschema.Draft202012Validator(plan_schema(registry, strict=strict)).is_valid({"nodes": []})
