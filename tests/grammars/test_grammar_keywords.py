"""Keywords a backend cannot enforce are refused by name (or reported), never dropped silently."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.errors import GrammarError, ModelError, UsageError
from reasoner.grammars import BACKENDS, compile_json_schema, supported_keywords


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


# (schema, backends that must refuse it, keyword, pointer)
REFUSED = [
    (
        _obj(xs={"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
        BACKENDS,
        "uniqueItems",
        "#/properties/xs",
    ),
    (_obj(n={"type": "integer", "not": {"const": 3}}), BACKENDS, "not", "#/properties/n"),
    (_obj(u={"type": "string", "format": "uri"}), BACKENDS, "format", "#/properties/u"),
    (_obj(n={"type": "integer", "if": {"minimum": 5}, "then": {"maximum": 7}}), BACKENDS, "if", "#/properties/n"),
    ({"type": "object", "propertyNames": {"maxLength": 3}}, BACKENDS, "propertyNames", "#"),
    (
        {"type": "object", "patternProperties": {"^x": {"type": "integer"}}},
        ("outlines", "xgrammar"),
        "patternProperties",
        "#",
    ),
    (_obj(n={"type": "number", "multipleOf": 0.5}), ("outlines", "xgrammar"), "multipleOf", "#/properties/n"),
    (
        {"$defs": {"age": {"type": "integer", "maximum": 130}}, **_obj(a={"$ref": "#/$defs/age"})},
        ("outlines",),
        "maximum",
        "#/$defs/age",
    ),
    (
        {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2},
        ("outlines",),
        "maxProperties",
        "#",
    ),
    (_obj(v={"oneOf": [{"type": "integer"}, {"type": "number"}]}), BACKENDS, "oneOf", "#/properties/v"),
    # without "type": "object" a string matches both branches, whatever their properties say
    (
        _obj(v={"oneOf": [{"properties": {"k": {"const": "a"}}, "required": ["k"]}, {"properties": {"k": {"const": "b"}}, "required": ["k"]}]}),
        ("llguidance", "outlines"),
        "oneOf",
        "#/properties/v",
    ),
    # ... and xgrammar does not apply properties without it at all
    (
        _obj(v={"oneOf": [{"properties": {"k": {"const": "a"}}, "required": ["k"]}, {"properties": {"k": {"const": "b"}}, "required": ["k"]}]}),
        ("xgrammar",),
        "properties",
        "#/properties/v/oneOf/0",
    ),
    (_obj(v={"maxLength": 2}), ("xgrammar",), "maxLength", "#/properties/v"),  # no type: string beside it
    (_obj(v={"allOf": [{"type": "integer"}, {"minimum": 2}]}), ("outlines", "xgrammar"), "allOf", "#/properties/v"),
    # outlines_core would write these names into JSON unescaped
    (_obj(**{'say "hi"': {"type": "boolean"}}), ("outlines",), "properties", "#"),
    (_obj(**{"back\\slash": {"type": "boolean"}}), ("outlines",), "properties", "#"),
]


@pytest.mark.parametrize(
    ("schema", "backends", "keyword", "pointer"), REFUSED, ids=[r[2] + "-" + "+".join(r[1]) for r in REFUSED]
)
def test_unenforced_keyword_is_refused_by_name(
    schema: dict[str, Any], backends: tuple[str, ...], keyword: str, pointer: str | None, llama3_tokenizer: Any
) -> None:
    for backend in backends:
        with pytest.raises(GrammarError) as info:
            compile_json_schema(schema, llama3_tokenizer, backend)
        assert info.value.keyword == keyword, (backend, str(info.value))
        assert repr(keyword) in str(info.value)
        if pointer is not None:
            assert f"at {pointer} " in str(info.value)


def test_not_strict_reports_and_validation_catches(llama3_tokenizer: Any) -> None:
    schema = _obj(xs={"type": "array", "items": {"type": "integer"}, "maxItems": 3, "uniqueItems": True})
    for backend in BACKENDS:
        grammar = compile_json_schema(schema, llama3_tokenizer, backend, strict=False)
        assert [(u.keyword, u.pointer) for u in grammar.unenforced] == [("uniqueItems", "#/properties/xs")]
        assert "uniqueItems" not in grammar.backend_schema["properties"]["xs"]
        assert grammar.accepts('{"xs":[1,1]}')  # the grammar cannot tell...
        with pytest.raises(ModelError, match=r"\$\.xs.*non-unique"):
            grammar.validate('{"xs":[1,1]}')  # ...validation can
        assert grammar.validate('{"xs":[1,2]}') == {"xs": [1, 2]}


def test_an_unprovable_one_of_becomes_any_of_when_not_strict(backend: str, llama3_tokenizer: Any) -> None:
    schema = _obj(v={"oneOf": [{"type": "integer"}, {"type": "number", "maximum": 10}]})
    grammar = compile_json_schema(schema, llama3_tokenizer, backend, strict=False)
    (one_of,) = [u for u in grammar.unenforced if u.keyword == "oneOf"]  # outlines also reports maximum
    assert one_of.pointer == "#/properties/v" and "generated as anyOf" in one_of.reason
    assert "anyOf" in grammar.backend_schema["properties"]["v"]
    assert grammar.accepts('{"v":2.5}') and not grammar.accepts('{"v":"x"}')
    assert grammar.accepts('{"v":3}')  # both branches match: only validation can tell
    with pytest.raises(ModelError, match="valid under each of"):
        grammar.validate('{"v":3}')


def test_a_strict_call_after_a_lenient_one_still_refuses(llama3_tokenizer: Any) -> None:
    schema = _obj(n={"type": "integer", "maximum": 5})
    compile_json_schema(schema, llama3_tokenizer, "outlines", strict=False)
    with pytest.raises(GrammarError, match="'maximum'"):
        compile_json_schema(schema, llama3_tokenizer, "outlines")


def test_disjoint_one_of_is_enforced_everywhere(backend: str, llama3_tokenizer: Any) -> None:
    schema = {
        "oneOf": [
            {"$ref": "#/$defs/a"},
            _obj(kind={"enum": ["b", "c"]}, y={"type": "string", "maxLength": 3}),
        ],
        "$defs": {"a": _obj(kind={"const": "a"}, x={"type": "integer"})},
    }
    grammar = compile_json_schema(schema, llama3_tokenizer, backend)
    assert grammar.accepts('{"kind":"a","x":1}') and grammar.accepts('{"kind":"c","y":"ok"}')
    assert not grammar.accepts('{"kind":"a","y":"ok"}')


def test_property_names_that_need_escapes(backend: str, llama3_tokenizer: Any) -> None:
    schema = _obj(**{'say "hi"': {"type": "boolean"}, "a\\b": {"type": "boolean"}})
    grammar = compile_json_schema(schema, llama3_tokenizer, backend, strict=False)
    good = '{"say \\"hi\\"":true,"a\\\\b":false}'
    assert grammar.validate(good) == {'say "hi"': True, "a\\b": False}
    assert grammar.accepts(good) and not grammar.accepts('{"say "hi"":true,"a\\b":false}')


def test_closed_objects_with_different_required_keys_are_disjoint(backend: str, llama3_tokenizer: Any) -> None:
    closed = {"additionalProperties": False}
    schema = {"oneOf": [_obj(x={"type": "integer"}) | closed, _obj(y={"type": "string", "maxLength": 3}) | closed]}
    grammar = compile_json_schema(schema, llama3_tokenizer, backend)
    assert grammar.accepts('{"x":1}') and grammar.accepts('{"y":"ab"}') and not grammar.accepts('{"x":1,"y":"ab"}')


def test_annotations_are_dropped_and_objects_closed(backend: str, llama3_tokenizer: Any) -> None:
    schema = {
        "type": "object",
        "title": "T",
        "x-vendor": 1,
        "properties": {"a": {"type": "integer", "description": "d", "default": 1}},
    }
    grammar = compile_json_schema(schema, llama3_tokenizer, backend)
    # llguidance's numbers also get digit bounds (test_numbers_get_bounded_digits)
    a = {"type": "integer", "minimum": -(10**15), "maximum": 10**15} if backend == "llguidance" else {"type": "integer"}
    assert grammar.backend_schema == {
        "type": "object",
        "properties": {"a": a},
        "additionalProperties": False,
    }
    assert grammar.schema == schema
    assert grammar.accepts('{"a":1}') and grammar.accepts("{}")
    assert not grammar.accepts('{"a":1,"b":2}')


def test_explicit_additional_properties_are_kept(llama3_tokenizer: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}}
    grammar = compile_json_schema(schema, llama3_tokenizer, "llguidance")
    assert grammar.accepts('{"a":1,"flag":true}') and not grammar.accepts('{"a":1,"flag":2}')


def test_supported_keywords_lists_conditions() -> None:
    llg, xgr, outl = (supported_keywords(b) for b in ("llguidance", "xgrammar", "outlines"))
    assert llg["minimum"] == "" and llg["allOf"] == "" and "patternProperties" in llg
    assert all("disjoint" in kw["oneOf"] for kw in (llg, xgr, outl))
    assert "disjoint" in xgr["oneOf"] and "integer" in xgr["multipleOf"] and "patternProperties" not in xgr
    assert "minimum" not in outl and "maximum" not in outl and "multipleOf" not in outl
    assert "uri" not in llg["format"] and "date-time" in outl["format"]
    assert supported_keywords() == llg
    with pytest.raises(UsageError, match="unknown grammar backend 'nope'"):
        supported_keywords("nope")


def test_bad_calls_are_usage_errors(llama3_tokenizer: Any) -> None:
    with pytest.raises(UsageError, match="choose one of llguidance, outlines, xgrammar"):
        compile_json_schema({"type": "integer"}, llama3_tokenizer, "guidance")
    with pytest.raises(UsageError, match="must be JSON"):
        compile_json_schema({"type": "integer", "default": object()}, llama3_tokenizer)
    with pytest.raises(UsageError, match="fast tokenizer"):
        compile_json_schema({"type": "integer"}, object())


def test_invalid_schema_is_a_grammar_error_naming_the_keyword(llama3_tokenizer: Any) -> None:
    with pytest.raises(GrammarError, match="not a valid JSON Schema") as info:
        compile_json_schema({"type": "object", "properties": {"a": {"minimum": "ten"}}}, llama3_tokenizer)
    assert info.value.keyword == "minimum"


def test_numbers_get_bounded_digits_under_llguidance(llama3_tokenizer: Any) -> None:
    schema = _obj(x={"type": "number"}, n={"type": ["integer", "null"]}, r={"type": "number", "minimum": 0, "multipleOf": 0.5})
    grammar = compile_json_schema(schema, llama3_tokenizer, "llguidance")
    assert grammar.accepts('{"x":-1234.123456789,"n":null,"r":2.5}')
    assert not grammar.accepts('{"x":1.1234567890,"n":1,"r":1}')  # a tenth fraction digit
    assert not grammar.accepts('{"x":12345678901234567,"n":1,"r":1}')
    assert not grammar.accepts('{"x":1,"n":12345678901234567,"r":1}')
    assert not grammar.accepts('{"x":1,"n":1,"r":0.25}')  # the schema's own multipleOf is kept
    assert grammar.validate('{"x":1e-12,"n":1,"r":1}') == {"x": 1e-12, "n": 1, "r": 1}  # validation uses the schema as given
