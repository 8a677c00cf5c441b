"""OpenAIModel with a schema: response_format json_schema, validation, repair, and prompting
where the server rejects response_format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reasoner.errors import ModelError
from reasoner.models import Message, OpenAIModel, complete

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
GOOD = '{"city": "Oslo", "population": 709000}'
REJECT = "response_format json_schema is not supported by this server"


def _model(server: Any, **kwargs: Any) -> OpenAIModel:
    kwargs.setdefault("read_timeout", 2.0)
    kwargs.setdefault("backoff", (0.0,))
    return OpenAIModel(server.url, "qwen3-8b", **kwargs)


async def test_a_schema_is_sent_as_strict_json_schema_and_the_valid_reply_is_yielded_whole(server: Any) -> None:
    server.script(server.Reply(GOOD, chunk=2, usage=(20, 9)))
    deltas = [d async for d in _model(server).stream([Message("user", "Oslo?")], schema=SCHEMA)]
    assert [d.text for d in deltas] == [GOOD, ""]  # buffered until valid: no partial pieces
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == 9
    (seen,) = server.requests
    assert seen.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
    }
    assert seen.body["messages"] == [{"role": "user", "content": "Oslo?"}]  # no schema prompt needed


async def test_an_invalid_reply_is_sent_back_with_the_error_and_the_repair_is_returned(server: Any) -> None:
    bad = '{"city": "Oslo", "population": -5}'
    server.script(server.Reply(bad, usage=(20, 9)), server.Reply(GOOD, usage=(45, 10)))
    result = await complete(_model(server), "Oslo?", schema=SCHEMA)
    assert json.loads(result.text) == {"city": "Oslo", "population": 709000}
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (65, 19)  # both requests count
    repair = server.requests[1].body["messages"]
    assert repair[:2] == [{"role": "user", "content": "Oslo?"}, {"role": "assistant", "content": bad}]
    assert repair[2]["role"] == "user"
    assert "$.population" in repair[2]["content"] and "less than the minimum" in repair[2]["content"]


async def test_repairs_are_bounded_then_a_model_error_names_the_problem(server: Any) -> None:
    server.script(*[server.Reply("not json at all")] * 3, server.Reply(GOOD))
    with pytest.raises(ModelError, match=r"not JSON.*no valid reply after 2 repair attempt\(s\)"):
        await complete(_model(server, repair_attempts=2), "Oslo?", schema=SCHEMA)
    assert len(server.requests) == 3


async def test_a_reply_cut_at_max_tokens_says_so_in_the_error(server: Any) -> None:
    server.script(server.Reply('{"city": "Os', finish="length"))
    with pytest.raises(ModelError, match="stopped at max_tokens=8"):
        await complete(_model(server, repair_attempts=0), "Oslo?", schema=SCHEMA, max_tokens=8)


async def test_a_server_rejecting_response_format_gets_the_schema_in_the_prompt_from_then_on(server: Any) -> None:
    server.script(server.Status(400, REJECT), server.Reply(f"```json\n{GOOD}\n```"), server.Reply(GOOD))
    model = _model(server)
    msgs = [Message("system", "You are a geographer."), Message("user", "Oslo?")]
    first = await complete(model, msgs, schema=SCHEMA)
    assert first.text == GOOD  # the code fence a prompted model adds is dropped
    rejected, prompted = server.requests
    assert "response_format" in rejected.body and "response_format" not in prompted.body
    system = prompted.body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are a geographer.")
    assert json.dumps(SCHEMA, separators=(",", ":")) in system["content"]
    # the next call with this schema goes straight to prompting: one request, not two
    assert (await complete(model, "Oslo?", schema=SCHEMA)).text == GOOD
    assert len(server.requests) == 3 and "response_format" not in server.requests[2].body


async def test_prompted_replies_are_validated_and_repaired_too(server: Any) -> None:
    server.script(server.Reply('{"city": "Oslo"}'), server.Reply(GOOD))
    result = await complete(_model(server, structured="none"), "Oslo?", schema=SCHEMA)
    assert result.text == GOOD
    assert all("response_format" not in r.body for r in server.requests)
    assert "'population' is a required property" in server.requests[1].body["messages"][-1]["content"]


async def test_structured_json_schema_refuses_to_fall_back(server: Any) -> None:
    server.script(server.Status(400, REJECT), server.Reply(GOOD))
    with pytest.raises(ModelError, match="does not take response_format json_schema: use structured='auto' or 'none'"):
        await complete(_model(server, structured="json_schema"), "Oslo?", schema=SCHEMA)
    assert len(server.requests) == 1


async def test_a_400_about_something_else_is_not_mistaken_for_a_rejected_schema(server: Any) -> None:
    server.script(server.Status(400, "messages must not be empty"), server.Reply(GOOD))
    with pytest.raises(ModelError, match="HTTP 400: messages must not be empty"):
        await complete(_model(server), "Oslo?", schema=SCHEMA)
    assert len(server.requests) == 1
