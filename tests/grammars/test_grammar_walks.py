"""Random walks under the mask always end in instances jsonschema accepts; forced tokens are forced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reasoner.grammars import BACKENDS, compile_json_schema, validate_instance

Walk = Any  # conftest.Walk: tokens, text, forced [(position, forced tokens, allowed ids)]


def decode(tokenizer: Any, ids: list[int]) -> str:
    return str(tokenizer.decode(ids, clean_up_tokenization_spaces=False))


NESTED = {
    "type": "object",
    "properties": {
        "user": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 6},
                "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1, "maxItems": 3},
                "admin": {"type": "boolean"},
            },
            "required": ["name", "tags"],
        },
        "note": {"type": ["string", "null"], "maxLength": 5},
    },
    "required": ["user"],
}
PLAN = {
    "type": "object",
    "properties": {
        "nodes": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "tool": {"const": "search"},
                            "args": {
                                "type": "object",
                                "properties": {"query": {"type": "string", "maxLength": 6}},
                                "required": ["query"],
                            },
                        },
                        "required": ["id", "tool", "args"],
                    },
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "tool": {"const": "chart"},
                            "args": {
                                "type": "object",
                                "properties": {
                                    "values": {
                                        "type": "array",
                                        "items": {
                                            "anyOf": [
                                                {"type": "number"},
                                                {
                                                    "type": "object",
                                                    "properties": {
                                                        "$ref": {"type": "integer"},
                                                        "path": {"type": "string", "maxLength": 4},
                                                    },
                                                    "required": ["$ref", "path"],
                                                },
                                            ]
                                        },
                                        "maxItems": 2,
                                    }
                                },
                                "required": ["values"],
                            },
                        },
                        "required": ["id", "tool", "args"],
                    },
                ]
            },
        }
    },
    "required": ["nodes"],
}
ESCAPES = {
    "type": "object",
    "properties": {"s": {"type": "string", "maxLength": 4}, "t": {"type": "string", "maxLength": 3}},
    "required": ["s", "t"],
}
NUMERIC = {
    "type": "object",
    "properties": {
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 2},
    },
    "required": ["age", "ratio"],
}
SCHEMAS = {"nested": NESTED, "plan": PLAN, "escapes": ESCAPES, "numeric": NUMERIC}
SEEDS = (0, 1)


def _is_compact(text: str) -> bool:
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in " \t\r\n":
            return False
    return True


def _check_forced(walk: Walk, grammar: Any, tokenizer: Any, backend: str) -> None:
    for checked, (position, forced, allowed) in enumerate(walk.forced):
        assert forced[0] in allowed, "the first forced token is not even allowed"
        if backend == "outlines":
            assert list(allowed) == [forced[0]], "outlines forces only where one token is allowed"
        prefix = decode(tokenizer, walk.tokens[:position])
        if "\ufffd" not in prefix:
            # every continuation the walk could take starts with the forced text
            assert walk.text.startswith(prefix + decode(tokenizer, forced)), (prefix, forced)
        if checked < 2:
            twin = grammar.matcher()
            for token_id in [*walk.tokens[:position], *forced]:
                twin.advance(token_id)


# outlines refuses numeric bounds (tests/grammars/test_grammar_accepts.py), so no numeric walk
WALKS = [(b, name) for b in BACKENDS for name in SCHEMAS if (b, name) != ("outlines", "numeric")]


@pytest.mark.parametrize(("backend", "name"), WALKS)
def test_random_walks_end_in_valid_compact_instances(
    backend: str, name: str, tokenizer: Any, random_walk: Callable[..., Walk]
) -> None:
    schema = SCHEMAS[name]
    grammar = compile_json_schema(schema, tokenizer, backend)
    for seed in SEEDS:
        walk = random_walk(grammar, tokenizer, seed)
        validate_instance(walk.text, schema)
        assert _is_compact(walk.text), walk.text
        assert grammar.accepts(walk.text), walk.text
        _check_forced(walk, grammar, tokenizer, backend)


def test_walks_that_take_forced_tokens_stay_valid(
    backend: str, tokenizer: Any, random_walk: Callable[..., Walk]
) -> None:
    grammar = compile_json_schema(PLAN, tokenizer, backend)
    for seed in SEEDS:
        walk = random_walk(grammar, tokenizer, seed, take_forced=True)
        validate_instance(walk.text, PLAN)


@pytest.mark.parametrize("backend", ["llguidance", "xgrammar"])
def test_constant_text_is_forced(backend: str, tokenizer: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"kind": {"const": "weather report"}, "n": {"type": "integer"}},
        "required": ["kind", "n"],
    }
    grammar = compile_json_schema(schema, tokenizer, backend)
    matcher = grammar.matcher()
    produced: list[int] = []
    while forced := matcher.forced_tokens():
        for token_id in forced:
            matcher.advance(token_id)
        produced.extend(forced)
    text = decode(tokenizer, produced)
    # everything up to the integer is fixed; backends may hold back the last few bytes
    assert '{"kind":"weather report","n":'.startswith(text)
    assert len(text) >= len('{"kind":"weather')


def _plan_registry() -> Any:
    from reasoner.tools import ToolRegistry, ToolSpec

    specs = [
        {
            "name": "search",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "maxLength": 40}},
                "required": ["query"],
            },
        },
        {
            "name": "quote",
            "parameters": {
                "type": "object",
                "properties": {
                    "ticker": {"type": "string", "enum": ["MSFT", "AMZN"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 30},
                },
                "required": ["ticker"],
            },
        },
        {
            "name": "chart",
            "parameters": {
                "type": "object",
                "properties": {"values": {"type": "array", "items": {"type": "number"}, "maxItems": 4}},
                "required": ["values"],
            },
        },
    ]
    return ToolRegistry([ToolSpec.from_schema(spec, lambda **kwargs: kwargs) for spec in specs])


def test_real_plan_schema_on_llguidance(tokenizer: Any, random_walk: Callable[..., Walk]) -> None:
    from reasoner.planner import plan_schema

    schema = plan_schema(_plan_registry(), max_string=12, max_array=3, max_nodes=3)
    grammar = compile_json_schema(schema, tokenizer)
    # the ref alternative repeats at every value position: the backend gets it once, via $defs
    assert "$defs" not in schema
    plan = (
        '{"nodes":[{"id":1,"tool":"quote","args":{"ticker":"MSFT","days":7}},'
        '{"id":2,"tool":"chart","args":{"values":[{"$ref":1,"path":"close"},1.5]}}]}'
    )
    assert grammar.accepts(plan)
    assert not grammar.accepts(plan.replace('"days":7', '"days":70'))
    assert not grammar.accepts(plan.replace('"path":"close"', '"path":"close","x":1'))
    for seed in SEEDS:
        walk = random_walk(grammar, tokenizer, seed)
        validate_instance(walk.text, schema)


def test_outlines_refuses_the_plan_schema_bounds(llama3_tokenizer: Any) -> None:
    from reasoner.errors import GrammarError
    from reasoner.planner import plan_schema

    with pytest.raises(GrammarError, match="'minimum' at #/properties/nodes/items/oneOf/0/properties/id"):
        compile_json_schema(plan_schema(_plan_registry()), llama3_tokenizer, "outlines")
