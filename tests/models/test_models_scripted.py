from __future__ import annotations

import anyio
import pytest

from reasoner.errors import ModelError, ToolError
from reasoner.models import GenerateOptions, Message, Model, ScriptedModel, complete

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}


async def test_streams_scripted_replies_in_pieces_and_records_calls() -> None:
    model = ScriptedModel(["Hello there, world.", lambda msgs: f"echo: {msgs[-1].content}"], chunk_size=5)
    assert isinstance(model, Model)
    pieces = [d async for d in model.stream([Message("user", "hi")])]
    assert [d.text for d in pieces[:-1]] == ["Hello", " ther", "e, wo", "rld."]
    assert pieces[-1].finish_reason == "stop" and pieces[-1].usage is not None
    assert pieces[-1].usage.completion_tokens == 4 and pieces[-1].usage.model == "scripted"
    second = await complete(model, [{"role": "system", "content": "be brief"}, {"role": "user", "content": "ping"}])
    assert second.text == "echo: ping"
    assert [c.messages[-1].content for c in model.calls] == ["hi", "ping"]
    assert model.calls[1].messages[0] == Message("system", "be brief")


async def test_schema_is_validated_and_invalid_output_raises() -> None:
    model = ScriptedModel(['{"answer": 42}', '{"answer": "forty-two"}', "not json"])
    ok = await complete(model, "q", schema=SCHEMA)
    assert ok.json() == {"answer": 42} and ok.finish_reason == "grammar"
    assert model.calls[0].schema == SCHEMA
    with pytest.raises(ModelError, match=r"\$\.answer.*'forty-two' is not of type 'integer'"):
        await complete(model, "q", schema=SCHEMA)
    with pytest.raises(ModelError, match="not JSON"):
        await complete(model, "q", schema=SCHEMA)


async def test_scripted_exception_and_running_out() -> None:
    model = ScriptedModel([ToolError("backend down"), "fine"])
    with pytest.raises(ToolError, match="backend down"):
        await complete(model, "q")
    assert (await complete(model, "q")).text == "fine"
    with pytest.raises(ModelError, match="has 2 response"):
        await complete(model, "q")


async def test_stop_and_max_tokens_apply() -> None:
    model = ScriptedModel(["alpha END beta", "0123456789abcdef"], chunk_size=4)
    stopped = await complete(model, "q", stop=("END",))
    assert stopped.text == "alpha " and stopped.finish_reason == "stop"
    cut = await complete(model, "q", options=GenerateOptions(max_tokens=2))
    assert cut.text == "01234567" and cut.finish_reason == "length"


async def test_token_delay_paces_the_stream_and_is_cancellable() -> None:
    model = ScriptedModel(["x" * 400], chunk_size=1, token_delay=0.01)
    got: list[str] = []
    with anyio.move_on_after(0.2):
        async for delta in model.stream([Message("user", "q")]):
            got.append(delta.text)
    assert 3 <= len(got) < 100
