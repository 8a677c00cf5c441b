"""OpenAIModel against a hostile or broken upstream: replies are capped, and every malformed
chunk is a ModelError (so a fallback model runs), never a raw TypeError or a memory blow-up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from reasoner import Engine, tool
from reasoner.errors import ModelError
from reasoner.models import Message, OpenAIModel, ScriptedModel, complete
from reasoner.models._remote_wire import ReplyLimits


def upstream(body: Callable[[], AsyncIterator[bytes]], content_type: str = "text/event-stream") -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, stream=_Stream(body()))

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.sent += len(chunk)
            yield chunk


def model(client: httpx.AsyncClient, **kwargs: Any) -> OpenAIModel:
    return OpenAIModel("http://upstream.test/v1", "m", client=client, max_retries=0, **kwargs)


def sse(*events: Any) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        for event in events:
            yield b"data: " + (event if isinstance(event, bytes) else json.dumps(event).encode()) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return body


def endless(piece: bytes) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10**9):  # bounded, but far past any cap
            yield piece

    return body


async def test_a_line_without_end_is_cut_at_the_line_cap() -> None:
    client = upstream(endless(b"x" * 65_536))
    with pytest.raises(ModelError, match="a line longer than 1,000,000 bytes"):
        await complete(model(client, limits=ReplyLimits(line_bytes=1_000_000)), "hi")


async def test_endless_deltas_are_cut_at_the_reply_cap() -> None:
    delta = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"y" * 4000 + b'"}}]}\n\n'
    with pytest.raises(ModelError, match="more than 2,000,000 bytes in one reply"):
        await complete(model(upstream(endless(delta)), limits=ReplyLimits(reply_bytes=2_000_000)), "hi")


async def test_an_event_of_many_data_lines_is_cut_at_the_event_cap() -> None:
    with pytest.raises(ModelError, match="more than 100,000 bytes of data"):
        await complete(model(upstream(endless(b"data: " + b"z" * 1000 + b"\n")), limits=ReplyLimits(event_bytes=100_000)), "hi")


async def test_a_whole_json_reply_is_capped_too() -> None:
    client = upstream(endless(b" " * 65_536), content_type="application/json")
    with pytest.raises(ModelError, match="more than 1,000,000 bytes"):
        await complete(model(client, limits=ReplyLimits(reply_bytes=1_000_000)), "hi")


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"choices": 5}, "choices is int"),
        ({"choices": [{"index": 0, "delta": "text"}]}, "delta is str"),
        ({"choices": [{"index": 0, "delta": {"content": 7}}]}, "content is int"),
        ({"choices": [{"index": 0, "delta": {}, "finish_reason": 1}]}, "finish_reason is int"),
        ({"choices": [], "usage": {"prompt_tokens": "many"}}, "usage.prompt_tokens is 'many'"),
        ({"choices": [], "usage": [1, 2]}, "usage is list"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON we can read"),
    ],
)
async def test_malformed_chunks_are_model_errors(event: Any, words: str) -> None:
    with pytest.raises(ModelError) as info:
        await complete(model(upstream(sse(event))), "hi")
    assert words in str(info.value) and "model 'm' at http://upstream.test/v1" in str(info.value)


async def test_a_malformed_whole_reply_is_a_model_error() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield json.dumps({"choices": [{"message": {"content": ["x"]}}], "usage": {"prompt_tokens": -1}}).encode()

    with pytest.raises(ModelError, match="without a usable choices"):
        await complete(model(upstream(body, content_type="application/json")), "hi")


async def test_crlf_and_cr_line_endings_split_across_chunks() -> None:
    async def body() -> AsyncIterator[bytes]:
        event = b'data: {"choices":[{"index":0,"delta":{"content":"ab"}}]}'
        yield event + b"\r"
        yield b"\n\r\n"
        yield event + b"\r\r"
        yield b"data: [DONE]\r\n\r\n"

    assert (await complete(model(upstream(body)), "hi")).text == "abab"


@tool
def echo(text: str) -> str:
    """Echo.

    Args:
        text: what.
    """
    return text


async def test_a_malformed_upstream_falls_back_to_the_next_model() -> None:
    plan = json.dumps({"nodes": [{"id": 1, "tool": "echo", "args": {"text": "hi"}}]})
    bad = model(upstream(sse({"choices": 5})), name="bad")
    good = ScriptedModel([plan, '{"action":"finish"}', "fine"], name="good")
    result = await Engine(tools=[echo], planner=[bad, good], joiner=good, answerer=good).reason("q")
    assert result.answer == "fine"
    fallbacks = [e for e in result.trace if e.type == "model.fallback"]
    assert fallbacks and fallbacks[0].data["model"] == "bad" and "choices is int" in fallbacks[0].data["reason"]


async def test_a_good_stream_still_works() -> None:
    reply = await complete(model(upstream(sse({"choices": [{"index": 0, "delta": {"content": "ok"}}], "usage": {"prompt_tokens": 3}}))), [Message("user", "hi")])
    assert reply.text == "ok"


async def test_keys_echoed_encoded_or_in_another_case_and_keys_in_base_url_never_show() -> None:
    key = "sk-Ab+c/D=9"

    def handle(request: httpx.Request) -> httpx.Response:
        echoed = f"bad key {key} / {key.lower()} / {key.upper()} / sk-Ab%2Bc%2FD%3D9 / sk-Ab%2bc%2fd%3d9"
        return httpx.Response(400, json={"error": {"message": echoed}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    remote = OpenAIModel("https://user:pw@upstream.test/v1?api-key=sk-query-key", "m", client=client, api_key=key, max_retries=0)
    with pytest.raises(ModelError) as info:
        await complete(remote, "hi")
    said = str(info.value) + repr(remote)
    assert said.count("<api key>") == 5, said
    for secret in ("Ab+c", "ab+c", "AB+C", "%2B", "%2b", "sk-query-key", "pw", "user"):
        assert secret not in said, secret
