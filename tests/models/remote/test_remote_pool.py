"""An open Engine's connection pools: one ``httpx.AsyncClient`` per remote endpoint, shared by
every remote model of its roles, closed by ``aclose()``; the server keeps its engine open."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reasoner import Engine, tool
from reasoner.models import Catalog, Message, ModelEntry, OpenAIModel, complete


@tool
def echo(text: str) -> str:
    """Echo.

    Args:
        text: anything.
    """
    return text


PLAN = '{"nodes":[{"id":1,"tool":"echo","args":{"text":"hi"}}]}'


def _model(server: Any, name: str) -> OpenAIModel:
    return OpenAIModel(server.url, "qwen3-8b", name=name, read_timeout=5.0, backoff=(0.01,))


def _run(server: Any, times: int = 1) -> None:
    server.script(*[server.Reply(r, chunk=50) for r in (PLAN, '{"action":"finish"}', "hi") * times])



@pytest.mark.parametrize("owned", [False, True])
async def test_an_engine_entered_with_async_with_reuses_one_connection_for_a_remote_model(server: Any, owned: bool) -> None:
    _run(server, 2)
    catalog = Catalog({"remote": ModelEntry(url=server.url, model="qwen3-8b", read_timeout=5.0)}, {"planner": "remote"})
    engine = Engine([echo], catalog=catalog)
    if owned:
        async with engine:
            answers = [(await engine.reason("say hi")).answer for _ in range(2)]
    else:
        answers = [(await engine.reason("say hi")).answer for _ in range(2)]
    assert answers == ["hi", "hi"]
    ports = {seen.port for seen in server.requests if seen.path.endswith("/chat/completions")}
    assert len(server.requests) == 6 and (len(ports) == 1) == owned  # one pool, or a connection per call
    await engine.aclose()  # closing twice is harmless


async def test_an_open_engine_sends_every_remote_model_of_one_endpoint_through_one_client(server: Any) -> None:
    catalog = Catalog({"plans": ModelEntry(url=server.url, model="qwen3-8b", read_timeout=5.0)}, {"planner": "plans"})
    joins = _model(server, "joins")  # passed in as an object, the caller's
    answers = _model(server, "answers")
    engine = Engine([echo], catalog=catalog, joiner=joins, answerer=answers)
    _run(server, 2)
    async with engine:
        results = [await engine.reason("say hi") for _ in range(2)]
    assert [r.answer for r in results] == ["hi", "hi"]
    assert {u.model for r in results for u in r.usage.values()} == {"plans", "joins", "answers"}
    ports = [seen.port for seen in server.requests]
    assert len(ports) == 6 and len(set(ports)) == 1  # three models, two runs, one connection
    # the models passed in are unchanged: outside the engine each call has a client of its own
    server.reset()
    server.script(server.Reply("a"), server.Reply("b"))
    assert (await complete(joins, [Message("user", "x")])).text == "a"
    assert (await complete(joins, [Message("user", "x")])).text == "b"
    assert len({seen.port for seen in server.requests}) == 2
    # and the closed engine's runs open a client per call again
    server.reset()
    _run(server)
    assert (await engine.reason("say hi")).answer == "hi"
    assert len({seen.port for seen in server.requests}) == 3


async def test_an_open_engine_gives_models_of_different_endpoints_clients_of_their_own(server: Any, live_server: Any) -> None:
    other = type(server)()  # a second server: another endpoint
    with live_server(other.app) as running:
        other.port = running.port
        planner, answerer = _model(server, "here"), _model(other, "there")
        engine = Engine([echo], planner=planner, answerer=answerer)
        server.script(server.Reply('{"nodes":[]}', chunk=50))
        other.script(other.Reply("hello", chunk=50))
        async with engine:
            result = await engine.reason("hi")
            clients = {id(m._client) for role in ("planner", "answerer") for m in await engine._roles.models(role)}  # type: ignore[attr-defined]
        assert result.answer == "hello"
        assert len(clients) == 2 and planner._client is None and answerer._client is None
        assert len(server.requests) == 1 and len(other.requests) == 1


async def test_the_server_keeps_its_engine_open_while_it_runs(server: Any) -> None:
    from reasoner.server import create_app

    engine = Engine([echo], planner=_model(server, "remote"))
    app = create_app(engine)
    _run(server, 2)
    chat = {"model": "reasoner", "messages": [{"role": "user", "content": "say hi"}]}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
            for _ in range(2):
                reply = await client.post("/v1/chat/completions", json=chat)
                assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "hi"
    assert len(server.requests) == 6 and len({seen.port for seen in server.requests}) == 1
