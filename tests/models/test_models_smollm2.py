"""The real embedded SmolLM2-135M-Instruct, end to end."""

from __future__ import annotations

import jsonschema

from reasoner.models import Message, TransformersModel, complete

CITY = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 24},
        "country": {"type": "string", "maxLength": 24},
    },
    "required": ["city", "country"],
    "additionalProperties": False,
}


async def test_replies_to_a_chat_message(smollm2: TransformersModel) -> None:
    messages = [
        Message("system", "You are a concise assistant."),
        Message("user", "What is the capital of France? Answer in one sentence."),
    ]
    result = await complete(smollm2, messages, max_tokens=40)
    assert "Paris" in result.text
    assert result.finish_reason == "stop" and 0 < result.usage.completion_tokens < 40
    assert result.usage.model == "smollm2-135m" and result.usage.prompt_tokens > 10


async def test_schema_constrained_object_validates(smollm2: TransformersModel) -> None:
    result = await complete(
        smollm2,
        [Message("user", "Name the capital of France and its country as JSON with keys city and country.")],
        schema=CITY,
        max_tokens=60,
    )
    value = result.json()
    jsonschema.validate(value, CITY)
    assert result.finish_reason == "grammar"
    assert result.usage.forced_tokens >= 4  # '{"city":"' and '","country":"' need no sampling
    assert "Paris" in value["city"]
