from __future__ import annotations

import pytest

from reasoner import models
from reasoner.errors import ModelError, UsageError
from reasoner.models import GenerateOptions, Message, ScriptedModel, as_messages, complete, validate_output


def test_exported_names_are_sorted_and_importable() -> None:
    assert models.__all__ == sorted(models.__all__)
    for name in models.__all__:
        assert getattr(models, name) is not None
    assert {"Model", "TransformersModel", "ScriptedModel", "complete", "load_model", "ensure_smollm2"} <= set(models.__all__)


def test_options_are_checked() -> None:
    assert GenerateOptions(stop="END").stop == ("END",)  # type: ignore[arg-type]
    for bad in ({"max_tokens": 0}, {"temperature": -0.1}, {"top_p": 0.0}, {"top_p": 1.5}, {"stop": ("",)}):
        with pytest.raises(UsageError):
            GenerateOptions(**bad)  # type: ignore[arg-type]


def test_messages_are_normalized() -> None:
    assert as_messages("hi") == (Message("user", "hi"),)
    assert as_messages([{"role": "system", "content": "s"}]) == (Message("system", "s"),)
    with pytest.raises(UsageError, match="role"):
        Message("wizard", "x")
    with pytest.raises(UsageError, match="at least one"):
        as_messages([])
    with pytest.raises(UsageError, match="message 0"):
        as_messages([{"text": "x"}])


def test_validation_names_the_path_and_problem() -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer", "maximum": 5}}}}
    assert validate_output('{"items": [1, 2]}', schema, model="m") == {"items": [1, 2]}
    with pytest.raises(
        ModelError, match=r"model 'm' output does not match the schema at \$\.items\[1\]: 9 is greater than the maximum of 5"
    ):
        validate_output('{"items": [1, 9]}', schema, model="m")


async def test_complete_takes_option_fields_and_rejects_unknown_ones() -> None:
    model = ScriptedModel(["abcdefgh"], chunk_size=1)
    assert (await complete(model, "q", max_tokens=3)).text == "abc"
    assert model.calls[0].options.max_tokens == 3
    with pytest.raises(UsageError, match="max_tokenz"):
        await complete(model, "q", max_tokenz=3)
