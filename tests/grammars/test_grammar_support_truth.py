"""The support tables tell the truth: a keyword a backend would not enforce in a combination
is refused (strict) or left to validation, never silently widened."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.errors import GrammarError
from reasoner.grammars import compile_json_schema, supported_keywords
from reasoner.grammars._support import EXACT_FORMATS


@pytest.mark.parametrize("schema", [{"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}, {"type": "string", "format": "email", "minLength": 3}])
def test_xgrammar_refuses_a_length_beside_pattern_or_format(smollm2_tokenizer: Any, schema: dict[str, Any]) -> None:
    with pytest.raises(GrammarError, match="ignores minLength/maxLength beside pattern or format"):
        compile_json_schema(schema, smollm2_tokenizer, backend="xgrammar")  # was: accepted "abcdef"
    loose = compile_json_schema(schema, smollm2_tokenizer, backend="xgrammar", strict=False)
    assert [u.keyword for u in loose.unenforced] == [k for k in ("maxLength", "minLength") if k in schema]
    assert "without pattern or format" in supported_keywords("xgrammar")["maxLength"]


@pytest.mark.timeout(60)
def test_outlines_refuses_a_length_beside_a_format(smollm2_tokenizer: Any) -> None:
    with pytest.raises(GrammarError, match="cannot combine minLength/maxLength with a format"):
        compile_json_schema({"type": "string", "format": "email", "minLength": 30}, smollm2_tokenizer, backend="outlines")  # was: no end in 120 s


@pytest.mark.parametrize("backend", ["llguidance", "xgrammar", "outlines"])
def test_dates_are_exact_on_every_backend(smollm2_tokenizer: Any, backend: str) -> None:
    date = compile_json_schema({"type": "string", "format": "date"}, smollm2_tokenizer, backend=backend)
    assert date.accepts('"2024-02-29"') and date.accepts('"2023-12-31"')
    for wrong in ('"2023-02-29"', '"2023-04-31"', '"1900-02-29"', '"0000-01-01"'):
        assert not date.accepts(wrong), wrong  # llguidance and xgrammar accepted 2023-02-29
    stamp = compile_json_schema({"type": "string", "format": "date-time"}, smollm2_tokenizer, backend=backend)
    assert stamp.accepts('"2024-02-29T23:59:59.5+01:00"') and not stamp.accepts('"2023-02-29T10:00:00Z"')


def test_xgrammar_does_not_claim_ipv4(smollm2_tokenizer: Any) -> None:
    assert "ipv4" not in supported_keywords("xgrammar")["format"]
    with pytest.raises(GrammarError, match="format 'ipv4'"):
        compile_json_schema({"type": "string", "format": "ipv4"}, smollm2_tokenizer, backend="xgrammar")  # accepted "01.2.3.4"


def test_the_exact_date_regex_agrees_with_the_calendar() -> None:
    import datetime
    import re

    pattern = re.compile(EXACT_FORMATS["date"])
    for year in (1, 4, 100, 400, 1900, 2000, 2023, 2024, 9999):
        for month, day in ((2, 28), (2, 29), (4, 30), (4, 31), (12, 31), (13, 1)):
            try:
                datetime.date(year, month, day)
                valid = True
            except ValueError:
                valid = False
            assert bool(pattern.match(f"{year:04d}-{month:02d}-{day:02d}")) == valid, (year, month, day)


def test_a_lexer_limit_in_accepts_does_not_poison_the_cached_grammar(smollm2_tokenizer: Any) -> None:
    schema = {"type": "string", "pattern": r"^(?:\S+\s+){0,49}\S+$", "maxLength": 500}
    grammar = compile_json_schema(schema, smollm2_tokenizer)
    assert grammar.accepts('"a b c"')
    assert not grammar.accepts('"' + " ".join(["word"] * 60) + '"')  # runs llguidance out of lexer room
    assert compile_json_schema(schema, smollm2_tokenizer) is grammar  # the cached one ...
    assert grammar.accepts('"a b c"')  # ... still works (was: refused every token from then on)


def test_integral_float_counts_and_true_schemas_compile(smollm2_tokenizer: Any) -> None:
    short = compile_json_schema({"type": "string", "maxLength": 2.0}, smollm2_tokenizer)  # llguidance wanted an int
    assert short.accepts('"ab"') and not short.accepts('"abc"')
    assert compile_json_schema(True, smollm2_tokenizer).accepts('{"any":[1]}')  # was: "Expecting object schema"


def test_a_ref_llguidance_cannot_resolve_is_refused_by_name(smollm2_tokenizer: Any) -> None:
    with pytest.raises(GrammarError) as info:
        compile_json_schema({"$ref": "#foo", "$defs": {"A": {"$anchor": "bar", "type": "integer"}}}, smollm2_tokenizer)
    assert info.value.keyword == "$ref"


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"maxLength": 2}, "maxLength"),  # no type: xgrammar generated any value (JSON-Schema-Test-Suite maxLength#0)
        ({"minimum": 1.1}, "minimum"),
        ({"properties": {"a": {"$ref": "#/$defs/n", "maxItems": 2}}, "type": "object", "$defs": {"n": {"type": "array"}}}, "$ref"),
    ],
)
def test_xgrammar_refuses_what_the_conformance_suite_caught_it_ignoring(smollm2_tokenizer: Any, schema: Any, keyword: str) -> None:
    with pytest.raises(GrammarError) as info:
        compile_json_schema(schema, smollm2_tokenizer, backend="xgrammar")
    assert info.value.keyword == keyword
