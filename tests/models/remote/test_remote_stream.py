"""OpenAIModel streaming over a real loopback server: deltas, usage, the request, cancellation."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from reasoner.errors import UsageError
from reasoner.models import GenerateOptions, Message, Model, OpenAIModel, complete


def _model(server: Any, **kwargs: Any) -> OpenAIModel:
    kwargs.setdefault("read_timeout", 2.0)
    kwargs.setdefault("backoff", (0.01,))
    return OpenAIModel(server.url, "qwen3-8b", **kwargs)


async def _collect(model: OpenAIModel, prompt: str = "hi", **kwargs: Any) -> list[Any]:
    return [d async for d in model.stream([Message("user", prompt)], **kwargs)]


async def test_streams_the_reply_in_pieces_then_a_final_delta_with_server_usage(server: Any) -> None:
    server.script(server.Reply("Hello, world!", chunk=5, usage=(11, 4)))
    deltas = await _collect(_model(server, name="fast"))
    assert [d.text for d in deltas] == ["Hello", ", wor", "ld!", ""]
    final = deltas[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.model, final.usage.prompt_tokens, final.usage.completion_tokens) == ("fast", 11, 4)
    assert all(d.finish_reason is None for d in deltas[:-1])


async def test_the_request_is_an_openai_streaming_chat_completion(server: Any) -> None:
    server.script(server.Reply("x"))
    opts = GenerateOptions(max_tokens=33, temperature=0.5, top_p=0.9, seed=7, stop=("END",))
    msgs = [Message("system", "be brief"), Message("user", "hi"), Message("tool", "42")]
    await complete(_model(server, api_key="sk-test"), msgs, options=opts)
    (seen,) = server.requests
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    assert seen.body == {
        "model": "qwen3-8b",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
            {"role": "user", "content": "42"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 33,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["END"],
        "seed": 7,
    }


async def test_no_api_key_sends_no_authorization_header(server: Any) -> None:
    server.script(server.Reply("x"))
    await complete(_model(server), "hi")
    assert "authorization" not in server.requests[0].headers


async def test_it_is_a_model_and_complete_collects_it(server: Any) -> None:
    server.script(server.Reply("The answer is 4.", finish="length"))
    model = _model(server)
    assert isinstance(model, Model)
    result = await complete(model, "2+2?")
    assert result.text == "The answer is 4."
    assert result.finish_reason == "length"


async def test_a_server_without_usage_reports_one_token_per_piece(server: Any) -> None:
    server.script(server.Reply("abcdefgh", chunk=2, usage=None))
    final = (await _collect(_model(server)))[-1]
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (0, 4)


async def test_a_server_that_ignores_stream_true_still_works(server: Any) -> None:
    server.script(server.Reply("whole reply", as_json=True))
    result = await complete(_model(server), "hi")
    assert result.text == "whole reply"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (7, 5)


async def test_pieces_arrive_before_the_reply_ends_and_cancelling_closes_the_connection(server: Any) -> None:
    # the server sends two pieces, then holds the stream open until the client goes away
    server.script(server.Reply("aaabbbcccddd", chunk=3, hang_after=2))
    got: list[str] = []
    with anyio.move_on_after(5) as scope:
        async for delta in _model(server, read_timeout=10.0).stream([Message("user", "hi")]):
            got.append(delta.text)
            if len(got) == 2:
                scope.cancel()
    assert got == ["aaa", "bbb"]
    assert await server.wait_for(lambda: server.disconnects == 1), "the server never saw the client disconnect"


@pytest.mark.parametrize("injected", [False, True], ids=["own-client", "injected-client"])
async def test_closing_the_stream_early_closes_the_connection(server: Any, injected: bool) -> None:
    server.script(server.Reply("aaabbbcccddd", chunk=3, hang_after=1))
    async with httpx.AsyncClient() as client:  # an injected client stays open: only the response is closed
        stream = _model(server, read_timeout=10.0, client=client if injected else None).stream([Message("user", "hi")])
        first = await stream.__anext__()
        assert first.text == "aaa"
        await stream.aclose()  # type: ignore[attr-defined]
        assert await server.wait_for(lambda: server.disconnects == 1)


async def test_an_injected_client_is_used_and_left_open(server: Any) -> None:
    server.script(server.Reply("one"), server.Reply("two"))
    async with httpx.AsyncClient() as client:
        model = _model(server, client=client)
        assert (await complete(model, "a")).text == "one"
        assert (await complete(model, "b")).text == "two"
        assert not client.is_closed


async def test_async_with_keeps_one_connection_for_the_block(server: Any) -> None:
    server.script(server.Reply("one"), server.Reply("two"), server.Reply("three"), server.Reply("four"))
    async with _model(server) as model:
        assert (await complete(model, "a")).text == "one"
        assert (await complete(model, "b")).text == "two"
    assert server.requests[0].port == server.requests[1].port  # keep-alive: the same connection
    model = _model(server)
    await complete(model, "c")
    await complete(model, "d")
    assert server.requests[2].port != server.requests[3].port  # without it, a client per call


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "http:// or https://"),
        ({"model": ""}, "model id"),
        ({"structured": "grammar"}, "structured"),
        ({"read_timeout": 0}, "timeouts"),
        ({"max_retries": -1}, "max_retries"),
        ({"backoff": ()}, "backoff"),
        ({"api_key": 123}, "api_key"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(kwargs: dict[str, Any], match: str) -> None:
    args = {"base_url": "http://127.0.0.1:1/v1", "model": "m"} | kwargs
    with pytest.raises(UsageError, match=match):
        OpenAIModel(args.pop("base_url"), args.pop("model"), **args)

