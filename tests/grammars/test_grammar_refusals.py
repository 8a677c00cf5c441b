"""Every refusal names a keyword and the JSON pointer of the subschema holding it, even
when the backend's own message names neither (its words are kept in the message)."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.errors import GrammarError
from reasoner.grammars import compile_json_schema
from reasoner.grammars._refusal import keyword_in, named_refusal

REFUSED: list[tuple[str, Any, str, str]] = [
    # the backend's message names the keyword but not where
    ("llguidance", {"properties": {"a": {"$ref": "#foo"}}, "$defs": {"x": {"type": "integer"}}}, "$ref", "#/properties/a"),
    ("llguidance", {"properties": {"r": {"$ref": "http://localhost:1234/draft2020-12/integer.json"}}}, "$ref", "#/properties/r"),
    ("llguidance", {"patternProperties": {"f.*": {"type": "integer"}, "b.*": {"type": "string"}}}, "patternProperties", "#"),
    # the keyword llguidance names is in the metaschema it knows, not here: the $ref is named
    ("llguidance", {"properties": {"m": {"$ref": "https://json-schema.org/draft/2020-12/schema"}}}, "$ref", "#/properties/m"),
    # the backend's message names no keyword
    ("xgrammar", {"anyOf": [True, False]}, "false", "#/anyOf/1"),
    ("xgrammar", {"type": "object", "properties": {"s": {"type": "string", "pattern": "^\\p{Letter}+$"}}}, "pattern", "#/properties/s"),
    ("outlines", {"type": "object", "properties": {"a": {"maxLength": 2}}}, "maxLength", "#/properties/a"),
    ("outlines", {"type": "array", "prefixItems": [{"type": "integer"}, True]}, "true", "#/prefixItems/1"),
    # found before any backend is asked
    ("llguidance", {"items": {"enum": []}, "minItems": 1, "type": "array"}, "enum", "#/items"),
    ("outlines", {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}, "minimum", "#/properties/n"),
]


@pytest.mark.parametrize(("backend", "schema", "keyword", "pointer"), REFUSED)
def test_a_refusal_names_the_keyword_and_where(smollm2_tokenizer: Any, backend: str, schema: Any, keyword: str, pointer: str) -> None:
    pytest.importorskip(backend)
    with pytest.raises(GrammarError) as info:
        compile_json_schema(schema, smollm2_tokenizer, backend=backend)
    assert (info.value.keyword, info.value.pointer) == (keyword, pointer)
    assert pointer in str(info.value)


def test_a_message_is_read_for_its_keyword() -> None:
    assert keyword_in("Unimplemented keys: [\"$dynamicAnchor\"]") == "$dynamicAnchor"
    assert keyword_in("patternProperty regexes /a*/ and /aaa*/ are not disjoint") == "patternProperties"
    assert keyword_in("Schema 'false' cannot accept any value") == "false"
    assert keyword_in("something broke") is None


def test_an_error_that_names_both_is_kept_and_one_about_nothing_in_the_schema_too() -> None:
    named = GrammarError("x", keyword="pattern", pointer="#/properties/a")
    assert named_refusal(named, {"type": "string"}) is named
    vague = GrammarError("something broke")
    assert named_refusal(vague, {"type": "string"}) is vague  # no guess: nothing here is a usual cause
    guessed = named_refusal(GrammarError("regex too big"), {"properties": {"a": {"pattern": "^a$"}}})
    assert (guessed.keyword, guessed.pointer) == ("pattern", "#/properties/a")
    # outlines_core on an enum value that looks like a ref: "regex" names no pattern here
    vocabulary = GrammarError("outlines cannot compile this schema: The vocabulary provided is incompatible with the regex '(...)'")
    enum = named_refusal(vocabulary, {"$defs": {"s": {"type": "string"}}, "enum": [{"$ref": "#/$defs/s"}]})
    assert (enum.keyword, enum.pointer) == ("enum", "#")
