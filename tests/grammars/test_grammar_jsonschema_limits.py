"""The shared JSON Schema checks: limits, a linear well-formedness check, RE2 patterns."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.errors import GrammarError, ModelError, UsageError
from reasoner.grammars import validate_instance
from reasoner.grammars._jsonschema import SchemaLimits, SchemaProblem, check_schema, linear_search, validator_for
from reasoner.tools._jsonschema import inline_refs


def doubling(depth: int) -> dict[str, Any]:
    """Each definition refers twice to the next: 2**depth subschemas once inlined."""
    defs: dict[str, Any] = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "string"}
    return {"$ref": "#/$defs/d0", "$defs": defs}


def nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.timeout(10)
def test_doubling_refs_are_refused_before_they_expand() -> None:
    schema = doubling(20)  # 2**20 subschemas: the old inliner took 11 s and 500 MiB
    with pytest.raises(SchemaProblem, match="expands to more than 50,000 subschemas"):
        inline_refs({"$ref": "#/$defs/d0"}, schema["$defs"])


def test_refs_used_a_few_times_still_inline() -> None:
    out = inline_refs({"$ref": "#/$defs/d0"}, doubling(5)["$defs"])
    assert out["anyOf"][0]["anyOf"][1]["anyOf"][0]["anyOf"][0]["anyOf"][1] == {"type": "string"}
    assert out["anyOf"][0] is not out["anyOf"][1]  # a tree, not shared nodes a caller could mutate twice


def test_size_and_depth_limits_name_the_place() -> None:
    with pytest.raises(SchemaProblem, match="more than 1,000 JSON values"):
        check_schema({"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(700)}}, SchemaLimits(max_nodes=1_000))
    with pytest.raises(SchemaProblem, match="deeper than 64 levels") as info:
        check_schema(nested(110))  # the old check raised RecursionError
    assert info.value.pointer.startswith("#/properties/a/properties/a")


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "text"}, "'type' must be one of"),
        ({"type": "string", "minLength": "3"}, "'minLength' must be a non-negative integer"),
        ({"properties": {"a": {"maximum": "9"}}}, "'maximum' must be a finite number"),
        ({"anyOf": []}, "'anyOf' must be a non-empty array"),
        ({"required": ["a", "a"]}, "lists a property twice"),
        ({"items": 3}, "a schema must be an object or a boolean"),
        ({"pattern": "(?=a)b"}, "lookaround and backreferences are not supported"),
        ({"patternProperties": {"(a)\\1": {}}}, "the patternProperties key"),
    ],
)
def test_malformed_schemas_are_refused_with_the_keyword(schema: dict[str, Any], words: str) -> None:
    with pytest.raises(SchemaProblem) as info:
        check_schema(schema)
    assert words in str(info.value)
    assert isinstance(info.value, UsageError)


def test_well_formed_schemas_pass() -> None:
    check_schema({"type": ["string", "null"], "pattern": "^[a-z]+$", "maxLength": 3, "$defs": {"x": True}, "items": [{"type": "integer"}]})
    check_schema({"dependencies": {"a": ["b"], "c": {"required": ["d"]}}, "enum": [1, "x", None]})


@pytest.mark.timeout(10)
def test_backtracking_patterns_run_in_linear_time() -> None:
    evil = "a" * 50_000 + "!"  # Python's re: centuries
    assert not linear_search("^(a+)+$", evil)
    with pytest.raises(ModelError, match="does not match"):
        validate_instance(f'"{evil}"', {"type": "string", "pattern": "^(a+)+$"})
    with pytest.raises(ModelError, match="Additional properties"):
        validate_instance({evil: 1}, {"type": "object", "patternProperties": {"^(a+)+$": {}}, "additionalProperties": False})
    errors = list(validator_for({"type": "object", "patternProperties": {"^(a|aa)+$": {"type": "integer"}}}).iter_errors({"aaaa": "x"}))
    assert len(errors) == 1 and "'x' is not of type 'integer'" in errors[0].message


@pytest.mark.timeout(10)
def test_unevaluated_properties_with_patterns_run_in_linear_time() -> None:
    evil = "a" * 50_000 + "!"
    schema = {"type": "object", "patternProperties": {"^(a+)+$": {}}, "unevaluatedProperties": False}
    with pytest.raises(ModelError, match="Unevaluated properties are not allowed"):
        validate_instance({evil: 1}, schema)
    validate_instance({"aaa": 1}, schema)


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"properties": {"a": {}}, "unevaluatedProperties": False}, {"a": 1}, {"a": 1, "b": 2}),
        ({"allOf": [{"properties": {"a": {}}}], "unevaluatedProperties": False}, {"a": 1}, {"a": 1, "b": 2}),
        ({"anyOf": [{"properties": {"a": {"const": 1}}, "required": ["a"]}, {"properties": {"b": {}}}], "unevaluatedProperties": False}, {"b": 1}, {"a": 2}),
        ({"if": {"properties": {"a": {"const": 1}}, "required": ["a"]}, "then": {"properties": {"b": {}}}, "else": {"properties": {"c": {}}},
          "unevaluatedProperties": False}, {"a": 1, "b": 2}, {"a": 1, "c": 2}),  # fmt: skip
        ({"$ref": "#/$defs/base", "$defs": {"base": {"properties": {"a": {}}}}, "unevaluatedProperties": False}, {"a": 1}, {"z": 1}),
        ({"dependentSchemas": {"a": {"properties": {"b": {}}}}, "properties": {"a": {}}, "unevaluatedProperties": False}, {"a": 1, "b": 2}, {"b": 2}),
        ({"additionalProperties": {"type": "integer"}, "unevaluatedProperties": False}, {"x": 1}, {"x": "s"}),
        ({"patternProperties": {"^x": {}}, "unevaluatedProperties": {"type": "string"}}, {"x1": 1, "y": "s"}, {"y": 1}),
    ],
)
def test_unevaluated_properties_follow_2020_12(schema: dict[str, Any], valid: dict[str, Any], invalid: dict[str, Any]) -> None:
    validator = validator_for({"type": "object", **schema})
    assert validator.is_valid(valid) and not validator.is_valid(invalid)


def test_validate_instance_names_a_malformed_schema() -> None:
    with pytest.raises(GrammarError, match="'minLength' must be a non-negative integer") as info:
        validate_instance('"x"', {"type": "string", "minLength": -1})
    assert info.value.keyword == "minLength"
