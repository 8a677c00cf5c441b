"""grammar.accepts(): valid compact instances in, invalid ones out, on every backend and tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.errors import GrammarError, ModelError
from reasoner.grammars import compile_json_schema

ALL = frozenset({"llguidance", "outlines", "xgrammar"})

NESTED = {
    "type": "object",
    "properties": {
        "user": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 8},
                "tags": {"type": "array", "items": {"enum": ["red", "green"]}, "minItems": 1, "maxItems": 2},
                "admin": {"type": "boolean"},
            },
            "required": ["name", "tags"],
        },
        "note": {"type": ["string", "null"]},
    },
    "required": ["user"],
}

# (name, schema, [(instance, backends that accept it)], [instances no backend accepts])
CASES: list[tuple[str, dict[str, Any], list[tuple[str, frozenset[str]]], list[str]]] = [
    (
        "nested objects, enums, optional fields",
        NESTED,
        [
            ('{"user":{"name":"ann","tags":["red"]}}', ALL),
            ('{"user":{"name":"ann","tags":["red","green"],"admin":true},"note":null}', ALL),
            ('{"user":{"name":"","tags":["green"]},"note":"hi"}', ALL),
        ],
        [
            '{"user": {"name":"ann","tags":["red"]}}',  # free whitespace
            ' {"user":{"name":"ann","tags":["red"]}}',
            '{"user":{"name":"ann","tags":["red"]}}\n',
            '{"user":{"name":"ann","tags":["red"],"x":1}}',  # extra key (closed by default)
            '{"user":{"name":"ann","tags":["red"]},"extra":1}',
            '{"user":{"name":"ann","tags":["blue"]}}',  # not in enum
            '{"user":{"name":"ann","tags":[]}}',  # minItems
            '{"user":{"name":"ann","tags":["red","red","red"]}}',  # maxItems
            '{"user":{"name":"abcdefghi","tags":["red"]}}',  # maxLength
            '{"user":{"tags":["red"]}}',  # required
            '{"user":{"name":"ann","tags":["red"]}',  # unfinished
        ],
    ),
    (
        "const and anyOf",
        {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"kind": {"const": "point"}, "x": {"type": "integer"}},
                    "required": ["kind", "x"],
                },
                {
                    "type": "object",
                    "properties": {"kind": {"const": "label"}, "text": {"type": "string", "maxLength": 4}},
                    "required": ["kind", "text"],
                },
            ]
        },
        [('{"kind":"point","x":-12}', ALL), ('{"kind":"label","text":"ok"}', ALL)],
        [
            '{"kind":"point","text":"ok"}',
            '{"kind":"other","x":1}',
            '{"kind":"label","text":"toolong"}',
            '{"kind":"point","x":1.5}',
        ],
    ),
    (
        "oneOf over disjoint tools (the plan shape)",
        {
            "type": "object",
            "properties": {
                "nodes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {
                        "oneOf": [
                            {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "tool": {"const": "search"},
                                    "args": {
                                        "type": "object",
                                        "properties": {"query": {"type": "string", "maxLength": 12}},
                                        "required": ["query"],
                                    },
                                },
                                "required": ["id", "tool", "args"],
                            },
                            {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "tool": {"const": "quote"},
                                    "args": {
                                        "type": "object",
                                        "properties": {"ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"}},
                                        "required": ["ticker"],
                                    },
                                },
                                "required": ["id", "tool", "args"],
                            },
                        ]
                    },
                }
            },
            "required": ["nodes"],
        },
        [
            (
                '{"nodes":[{"id":1,"tool":"search","args":{"query":"clouds"}},{"id":2,"tool":"quote","args":{"ticker":"MSFT"}}]}',
                ALL,
            )
        ],
        [
            '{"nodes":[{"id":1,"tool":"quote","args":{"query":"clouds"}}]}',
            '{"nodes":[{"id":1,"tool":"quote","args":{"ticker":"msft"}}]}',
            '{"nodes":[]}',
            '{"nodes":[{"id":1,"tool":"search","args":{"query":"clouds"}, "x":1}]}',
        ],
    ),
    (
        "strings with escapes",
        {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]},
        [
            ('{"s":"a\\nb"}', ALL),
            ('{"s":"say \\"hi\\""}', ALL),
            ('{"s":"back\\\\slash\\ttab"}', ALL),
            ('{"s":"caf\u00e9"}', ALL),
            ('{"s":"caf\\u00e9"}', ALL - {"outlines"}),  # outlines_core has no \\u escapes
            ('{"s":"<|im_end|><|end_of_text|>"}', ALL),  # special-token names are text here
        ],
        ['{"s":"a\nb"}', '{"s":"a\tb"}', '{"s":"bad \\x escape"}', '{"s":"open}'],
    ),
    (
        "strings with maxLength and escapes",
        {"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 4}}, "required": ["s"]},
        [
            ('{"s":"ab"}', ALL),
            ('{"s":"abcd"}', ALL),
            ('{"s":"a\\nbc"}', ALL - {"xgrammar"}),  # xgrammar refuses escapes under maxLength
            ('{"s":"\\"\\"\\"\\""}', ALL - {"xgrammar"}),
        ],
        ['{"s":"abcde"}', '{"s":"a"}', '{"s":"a\tb"}', '{"s":"a\\nbcd"}'],
    ),
    (
        "arrays with minItems/maxItems and tuples",
        {
            "type": "object",
            "properties": {
                "xs": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3},
                "pair": {
                    "type": "array",
                    "prefixItems": [{"type": "string", "maxLength": 3}, {"type": "boolean"}],
                    "items": False,
                    "minItems": 2,
                },
            },
            "required": ["xs", "pair"],
        },
        [('{"xs":[1,2],"pair":["a",true]}', ALL), ('{"xs":[0,-3,40],"pair":["",false]}', ALL)],
        [
            '{"xs":[1],"pair":["a",true]}',
            '{"xs":[1,2,3,4],"pair":["a",true]}',
            '{"xs":[1,2],"pair":[true,"a"]}',
            '{"xs":[1,2],"pair":["a",true,1]}',
            '{"xs":[1, 2],"pair":["a",true]}',
        ],
    ),
    (
        "repeated subschemas next to $defs (shared once for llguidance)",
        {
            "$defs": {"n": {"type": "integer", "description": "a number"}},
            "type": "object",
            "properties": {
                k: {
                    "type": "object",
                    "properties": {
                        "lo": {"$ref": "#/$defs/n"},
                        "tag": {"enum": ["x", "y"]},
                        "note": {"type": "string", "maxLength": 3},
                    },
                    "required": ["lo", "tag"],
                }
                for k in ("a", "b", "c")
            },
            "required": ["a", "b", "c"],
        },
        [('{"a":{"lo":1,"tag":"x"},"b":{"lo":-2,"tag":"y","note":"hi"},"c":{"lo":0,"tag":"x"}}', ALL)],
        [
            '{"a":{"lo":1,"tag":"x"},"b":{"lo":"2","tag":"y"},"c":{"lo":0,"tag":"x"}}',
            '{"a":{"lo":1,"tag":"x"},"b":{"lo":2,"tag":"z"},"c":{"lo":0,"tag":"x"}}',
            '{"a":{"lo":1,"tag":"x"},"b":{"lo":2,"tag":"y"},"c":{"lo":0,"tag":"x","extra":1}}',
        ],
    ),
    (
        "local $ref and $defs",
        {
            "$defs": {"color": {"enum": ["red", "green"], "description": "a color"}},
            "type": "object",
            "title": "annotations are dropped",
            "properties": {"fg": {"$ref": "#/$defs/color"}, "bg": {"$ref": "#/$defs/color", "default": "red"}},
            "required": ["fg"],
        },
        [('{"fg":"red"}', ALL), ('{"fg":"red","bg":"green"}', ALL)],
        ['{"fg":"blue"}', '{"bg":"red"}'],
    ),
]


@pytest.mark.parametrize(("name", "schema", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_accepts_valid_and_rejects_invalid(
    name: str,
    schema: dict[str, Any],
    good: list[tuple[str, frozenset[str]]],
    bad: list[str],
    backend: str,
    tokenizer: Any,
) -> None:
    grammar = compile_json_schema(schema, tokenizer, backend)
    for text, backends in good:
        if backend in backends:
            assert grammar.accepts(text), f"{backend} rejected valid {text!r}"
            grammar.validate(text)
    for text in bad:
        assert not grammar.accepts(text), f"{backend} accepted invalid {text!r}"


NUMERIC = {
    "type": "object",
    "properties": {
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    },
    "required": ["age", "score"],
}


@pytest.mark.parametrize("backend", ["llguidance", "xgrammar"])
def test_numeric_ranges_are_enforced(backend: str, tokenizer: Any) -> None:
    grammar = compile_json_schema(NUMERIC, tokenizer, backend)
    assert grammar.unenforced == ()
    for text in ('{"age":0,"score":1}', '{"age":120,"score":0.25}', '{"age":37,"score":1.0}'):
        assert grammar.accepts(text), text
    for text in (
        '{"age":-1,"score":0.5}',
        '{"age":121,"score":0.5}',
        '{"age":3,"score":0}',
        '{"age":3,"score":1.5}',
        '{"age":3.5,"score":0.5}',
    ):
        assert not grammar.accepts(text), text


def test_outlines_refuses_numeric_ranges_or_reports_them(tokenizer: Any) -> None:
    with pytest.raises(GrammarError, match="'minimum' at #/properties/age") as info:
        compile_json_schema(NUMERIC, tokenizer, "outlines")
    assert info.value.keyword == "minimum"
    assert "outlines_core ignores numeric bounds" in str(info.value)

    grammar = compile_json_schema(NUMERIC, tokenizer, "outlines", strict=False)
    reported = {(u.keyword, u.pointer) for u in grammar.unenforced}
    assert reported == {
        ("minimum", "#/properties/age"),
        ("maximum", "#/properties/age"),
        ("exclusiveMinimum", "#/properties/score"),
        ("maximum", "#/properties/score"),
    }
    # the grammar lets an out-of-range value through; validation is what stops it
    assert grammar.accepts('{"age":500,"score":0.5}')
    with pytest.raises(ModelError, match=r"\$\.age"):
        grammar.validate('{"age":500,"score":0.5}')
