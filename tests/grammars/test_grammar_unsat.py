"""A schema no value can satisfy is refused before any backend, naming the keyword and where."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.errors import GrammarError
from reasoner.grammars import compile_json_schema
from reasoner.grammars._unsat import unsatisfiable

IMPOSSIBLE: list[tuple[Any, str, str]] = [
    (False, "false", "the schema at # is false"),
    ({"type": "object", "properties": {"a": False}, "required": ["a"]}, "required", "required property 'a': the schema at #/properties/a is false"),
    ({"type": "object", "required": ["b"], "additionalProperties": False}, "required", "requires property 'b', which its additionalProperties: false forbids"),
    ({"type": "array", "items": False, "minItems": 1}, "items", "# needs at least 1 item(s)"),
    ({"type": "array", "prefixItems": [True, False], "minItems": 2}, "false", "#/prefixItems/1 is false"),
    ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "allOf", "the types its allOf requires have nothing in common"),
    ({"type": "string", "enum": [1, 2]}, "enum", "# has enum values none of which is of its type 'string'"),
    ({"type": "boolean", "const": "yes"}, "const", "# has const values none of which"),
    ({"type": "integer", "minimum": 5, "maximum": 1}, "minimum", "# has minimum 5 above maximum 1"),
    ({"anyOf": [False, {"type": "string", "minLength": 3, "maxLength": 2}]}, "anyOf", "no branch of its anyOf can be satisfied"),
    ({"type": "object", "properties": {"p": {"$ref": "#/$defs/never"}}, "required": ["p"], "$defs": {"never": False}}, "required", "#/$defs/never is false"),
    ({"type": "object", "properties": {"x": {"type": "object", "properties": {"y": False}, "required": ["y"]}}, "required": ["x"]},
     "required", "required property 'y': the schema at #/properties/x/properties/y is false"),
    ({"properties": {"a": {"enum": []}}, "required": ["a"], "type": "object"}, "enum", "#/properties/a has an empty enum"),
]  # fmt: skip

POSSIBLE: list[Any] = [
    {"properties": {"a": False}, "required": ["a"]},  # a string satisfies it: required constrains objects only
    {"type": "object", "properties": {"a": False}},  # a is optional
    {"type": "array", "items": False},  # the empty array
    {"minimum": 5, "maximum": 1},  # any string
    {"type": ["string", "integer"], "enum": [1]},
    {"anyOf": [False, {"type": "string"}]},
    {"type": "object", "required": ["b"], "additionalProperties": False, "patternProperties": {"^b$": {}}},
]


@pytest.mark.parametrize(("schema", "keyword", "words"), IMPOSSIBLE)
def test_an_impossible_schema_is_named(schema: Any, keyword: str, words: str) -> None:
    found = unsatisfiable(schema)
    assert found is not None and found.keyword == keyword and words in found.message


@pytest.mark.parametrize(
    ("index", "pointer"), [(0, "#"), (1, "#"), (4, "#/prefixItems/1"), (5, "#"), (10, "#"), (11, "#/properties/x")]
)
def test_the_refusal_says_where(index: int, pointer: str) -> None:
    found = unsatisfiable(IMPOSSIBLE[index][0])
    assert found is not None and found.pointer == pointer


@pytest.mark.parametrize("schema", POSSIBLE)
def test_a_satisfiable_lookalike_is_left_alone(schema: Any) -> None:
    assert unsatisfiable(schema) is None


def test_compile_refuses_it_with_the_keyword(smollm2_tokenizer: Any) -> None:
    with pytest.raises(GrammarError, match=r"no value can satisfy this schema: required property 'a'") as info:
        compile_json_schema({"type": "object", "properties": {"a": False}, "required": ["a"]}, smollm2_tokenizer)
    assert (info.value.keyword, info.value.pointer) == ("required", "#")
    compile_json_schema(POSSIBLE[0], smollm2_tokenizer)  # compiles: the backend is asked as before
