"""validate_instance: the jsonschema check every decoded object goes through."""

from __future__ import annotations

import pytest

from reasoner.errors import GrammarError, ModelError
from reasoner.grammars import validate_instance

SCHEMA = {
    "type": "object",
    "properties": {
        "user": {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["red", "green"]}}}},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["user"],
    "additionalProperties": False,
}


def test_valid_text_and_objects_come_back_parsed() -> None:
    assert validate_instance('{"user":{"tags":["red"]}}', SCHEMA) == {"user": {"tags": ["red"]}}
    assert validate_instance(b'{"user":{}}', SCHEMA) == {"user": {}}
    obj = {"user": {"tags": []}, "when": "2024-02-29"}
    assert validate_instance(obj, SCHEMA) is obj


@pytest.mark.parametrize(
    ("instance", "where", "problem"),
    [
        ('{"user":{"tags":["red","blue"]}}', r"\$\.user\.tags\[1\]", "is not one of"),
        ('{"user":{},"extra":1}', r"\$", "Additional properties"),
        ("{}", r"\$", "'user' is a required property"),
        ({"user": {}, "when": "2024-02-30"}, r"\$\.when", "is not a 'date'"),
    ],
)
def test_mismatch_names_the_path_and_the_problem(instance: object, where: str, problem: str) -> None:
    with pytest.raises(ModelError, match=f"at {where}: .*{problem}"):
        validate_instance(instance, SCHEMA)


@pytest.mark.parametrize("text", ['{"user":', '{"user":{}} x', '{"user":{"tags":["re\nd"]}}', '{"user":NaN}', ""])
def test_text_that_is_not_json_is_a_model_error(text: str) -> None:
    with pytest.raises(ModelError, match="decoded output is not JSON"):
        validate_instance(text, SCHEMA)


def test_an_invalid_schema_is_a_grammar_error() -> None:
    with pytest.raises(GrammarError, match="not a valid JSON Schema") as info:
        validate_instance({}, {"type": "object", "required": "user"})
    assert info.value.keyword == "required"
