"""The HTTP app in-process (httpx.ASGITransport): whole responses, limits, CORS, OpenAPI, fallbacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from reasoner import Budget, Engine, ModelError, UsageError, tool
from reasoner.events import Event
from reasoner.models import ScriptedModel
from reasoner.server import create_app
from reasoner.server._openai import AnswerText

FINISH = '{"action":"finish"}'
PLAN = json.dumps({"nodes": [{"id": 1, "tool": "price", "args": {"ticker": "MSFT"}}]})


@tool
async def price(ticker: str) -> float:
    """Sample close.

    Args:
        ticker: exchange symbol.
    """
    return 420.5


@tool
def news(topic: str) -> str:
    """Sample headline.

    Args:
        topic: what about.
    """
    return f"{topic} is up"


def scripted(*answers: str) -> Callable[[], Engine]:
    """A factory: every run gets a fresh engine whose one model replies plan, finish, answer."""

    def make() -> Engine:
        return Engine(tools=[price, news], planner=ScriptedModel([PLAN, FINISH, *answers], name="scripted"))

    return make


async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(scripted("The close was 420.5."), max_budget=Budget(iterations=3, tokens=5_000, seconds=60))
    async for c in client_for(app):
        yield c


def chat(content: str = "MSFT close?", **extra: Any) -> dict[str, Any]:
    return {"model": "reasoner", "messages": [{"role": "user", "content": content}], **extra}


async def test_openapi_is_served_without_a_key_and_describes_the_routes() -> None:
    app = create_app(scripted(), api_keys=["k"])
    async for c in client_for(app):
        doc = (await c.get("/openapi.json")).json()
        assert {"/v1/reason", "/v1/chat/completions", "/v1/models", "/v1/tools", "/healthz"} <= set(doc["paths"])
        assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert (
            "ReasonRequest" in doc["components"]["schemas"]
            and "reasoner" in doc["paths"]["/v1/chat/completions"]["post"]["description"]
        )
        assert (await c.get("/v1/tools")).status_code == 401


async def test_tools_lists_the_registry(client: httpx.AsyncClient) -> None:
    tools = (await client.get("/v1/tools")).json()["data"]
    assert [t["function"]["name"] for t in tools] == ["price", "news"]
    assert tools[0]["function"]["parameters"]["properties"]["ticker"]["type"] == "string"


async def test_cors_is_off_unless_origins_are_configured() -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    async for c in client_for(create_app(scripted())):
        r = await c.options("/v1/reason", headers=preflight)
        assert "access-control-allow-origin" not in r.headers and r.status_code == 403
        assert r.json()["error"]["code"] == "origin_not_allowed"
    async for c in client_for(create_app(scripted(), cors_origins=["https://app.example"])):
        r = await c.options("/v1/reason", headers=preflight)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"


async def test_unknown_routes_and_methods_get_json_errors(client: httpx.AsyncClient) -> None:
    r = await client.get("/v2/nothing")
    assert r.status_code == 404 and "GET /v2/nothing" in r.json()["error"]["message"]
    r = await client.get("/v1/reason")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


async def test_a_budget_over_the_servers_cap_gets_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/reason", json={"query": "q", "budget": {"seconds": 600}})
    assert r.status_code == 422 and r.json()["error"]["param"] == "budget.seconds"
    assert "over this server's limit of 60" in r.json()["error"]["message"]


async def test_a_run_that_fails_gets_500_that_the_sdk_does_not_retry() -> None:
    def make() -> Engine:
        return Engine(tools=[price], planner=ScriptedModel([PLAN, FINISH, ModelError("the answer backend is down")]))

    async for c in client_for(create_app(make)):
        r = await c.post("/v1/chat/completions", json=chat())
    error = r.json()["error"]
    assert r.status_code == 500 and r.headers["x-should-retry"] == "false"
    assert error["code"] == "ModelError" and error["message"].endswith("failed: ModelError: the answer backend is down")
    assert r.json()["run_id"]


async def test_the_last_message_must_be_the_users(client: httpx.AsyncClient) -> None:
    body = {"model": "reasoner", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    r = await client.post("/v1/chat/completions", json=body)
    assert r.status_code == 422 and r.json()["error"]["param"] == "messages[1].role"


async def test_earlier_turns_reach_the_planner_as_context() -> None:
    model = ScriptedModel([PLAN, FINISH, "420.5"], name="scripted")
    app = create_app(Engine(tools=[price], planner=model))
    messages = [
        {"role": "system", "content": "Answer tersely."},
        {"role": "user", "content": "I follow MSFT."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": [{"type": "text", "text": "Its close?"}]},
    ]
    async for c in client_for(app):
        r = await c.post("/v1/chat/completions", json={"model": "scripted", "messages": messages})
    assert r.json()["choices"][0]["message"]["content"] == "420.5"
    planner_prompt = "\n".join(m.content for m in model.calls[0].messages)
    assert (
        "system: Answer tersely." in planner_prompt
        and "user: I follow MSFT." in planner_prompt
        and "Its close?" in planner_prompt
    )


async def test_a_factory_is_called_once_per_run() -> None:
    made: list[Engine] = []

    def factory() -> Engine:
        made.append(scripted("ok")())
        return made[-1]

    async for c in client_for(create_app(factory)):
        assert len(made) == 1  # the probe that lists tools and models
        for _ in range(2):
            assert (await c.post("/v1/reason", json={"query": "q"})).json()["answer"] == "ok"
    assert len(made) == 3


async def test_answerer_fallback_restarts_the_content() -> None:
    schema = {"type": "object", "properties": {"close": {"type": "number"}}, "required": ["close"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "close", "schema": schema}}

    def make() -> Engine:
        return Engine(
            tools=[price],
            planner=ScriptedModel([PLAN, FINISH], name="scripted"),
            answerer=[ScriptedModel(["not JSON at all"], name="first"), ScriptedModel(['{"close":420.5}'], name="second")],
        )

    async for c in client_for(create_app(make)):
        whole = (await c.post("/v1/chat/completions", json=chat(response_format=fmt))).json()
        streamed = await c.post("/v1/chat/completions", json=chat(response_format=fmt, stream=True))
    assert whole["choices"][0]["message"]["content"] == '{"close":420.5}'
    chunks = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    fallback = [c["reasoner"]["event"] for c in chunks if c["reasoner"]["event"]["type"] == "model.fallback"]
    assert fallback[0]["data"]["role"] == "answerer" and fallback[0]["data"]["next"] == "second"
    after = chunks.index(next(c for c in chunks if c["reasoner"]["event"]["type"] == "model.fallback"))
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[after:]) == '{"close":420.5}'


@pytest.mark.parametrize("strict", [None, False, True])
async def test_a_response_format_schema_is_closed_only_when_strict(strict: bool | None) -> None:
    schema = {"type": "object", "properties": {"close": {"type": "number"}, "more": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    fmt: dict[str, Any] = {"type": "json_schema", "json_schema": {"name": "close", "schema": schema, **({} if strict is None else {"strict": strict})}}
    answerer = ScriptedModel(['{"close":1}'], name="answerer")

    def make() -> Engine:
        return Engine(tools=[price], planner=ScriptedModel([PLAN, FINISH], name="scripted"), answerer=answerer)

    async for c in client_for(create_app(make)):
        assert (await c.post("/v1/chat/completions", json=chat(response_format=fmt))).status_code == 200
    sent = answerer.calls[0].schema
    assert sent is not None
    closed = [sent.get("additionalProperties"), sent["properties"]["more"].get("additionalProperties")]
    assert closed == ([False, False] if strict else [None, None])


async def test_output_schema_with_local_refs_gives_a_json_answer() -> None:
    schema = {
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/Price"}},
        "required": ["p"],
        "$defs": {"Price": {"type": "number"}},
    }
    async for c in client_for(create_app(scripted('{"p":420.5}'))):
        r = await c.post("/v1/reason", json={"query": "q", "output_schema": schema})
    assert r.status_code == 200 and r.json()["answer"] == {"p": 420.5}


async def test_tool_subsets_are_honoured_or_refused_plainly(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/reason", json={"query": "q", "tools": ["price"], "stream": True})
    if r.status_code == 422:  # an Engine whose stream() cannot take tools=
        assert "cannot limit a run to some of its tools" in r.json()["error"]["message"]
    else:
        started = json.loads(next(line for line in r.text.splitlines() if line.startswith("data: "))[6:])
        assert started["data"]["tools"] == ["price"]


async def test_replay_of_an_unknown_run_or_a_foreign_id(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/reason/nope/events")).json()["error"]["code"] == "run_not_found"
    run_id = (await client.post("/v1/reason", json={"query": "q"})).json()["run_id"]
    r = await client.get(f"/v1/reason/{run_id}/events", headers={"Last-Event-ID": "other:3"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "Last-Event-ID"
    r = await client.get(f"/v1/reason/{run_id}/events")
    assert r.text.startswith("event: run.started\nid: " + run_id + ":0\n")


def test_create_app_refuses_bad_limits() -> None:
    with pytest.raises(UsageError, match="max_concurrent_runs=0"):
        create_app(scripted(), max_concurrent_runs=0)
    with pytest.raises(UsageError, match="api_keys"):
        create_app(scripted(), api_keys=["has space"])
    with pytest.raises(UsageError, match="an Engine or a function"):
        create_app("reasoner")  # type: ignore[arg-type]


def test_answer_text_holds_back_whitespace_like_the_engines_strip() -> None:
    text = AnswerText()
    shown = [text.feed(p) for p in ["  \n", " The", " close ", "\n", "is 1.", "  \n "]]
    assert shown == ["", "The", " close", "", " \nis 1.", ""]
    assert text.text == "".join(shown) == "  \n The close \nis 1.  \n ".strip()
    text.observe(Event("model.fallback", "r", 9, 0.0, data={"role": "answerer", "model": "a", "next": "b", "reason": "x"}))
    assert text.text == ""


async def test_serve_options_build_the_app_uvicorn_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import argparse

    import uvicorn

    from reasoner.cli._serve import add_serve_arguments, serve_main

    config = tmp_path / "reasoner.toml"  # the models are only named here, never contacted
    config.write_text(
        '[models.plan-a]\nurl = "http://127.0.0.1:9/v1"\nmodel = "a"\n[models.plan-b]\nurl = "http://127.0.0.1:9/v1"\nmodel = "b"\n'
    )
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    args = parser.parse_args(
        [
            "--config",
            str(config),
            "--port",
            "9123",
            "--api-key",
            "k1",
            "--planner",
            "plan-a,plan-b",
            "--max-concurrent-runs",
            "3",
            "--no-demo",
            "--no-plugins",
        ]
    )
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    monkeypatch.setenv("REASONER_API_KEYS", "k2, k3")
    assert serve_main(args) == 0
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 9123)
    async for c in client_for(ran["app"]):
        assert (await c.get("/v1/models")).status_code == 401
        models = (await c.get("/v1/models", headers={"Authorization": "Bearer k3"})).json()["data"]
        # the config file sets no roles, so joiner and answerer are the planner's models
        assert [m["id"] for m in models] == ["reasoner", "plan-a", "plan-b"]
        assert (await c.get("/healthz")).json()["max_concurrent_runs"] == 3


async def test_chat_history_reaches_the_models_as_a_conversation() -> None:
    model = ScriptedModel([PLAN, FINISH, "420.5"], name="scripted")
    body = {"model": "reasoner", "messages": [
        {"role": "developer", "content": "Be brief."}, {"role": "user", "content": "I follow MSFT."},
        {"role": "assistant", "content": "Noted."}, {"role": "user", "content": "Its close?"}]}  # fmt: skip
    async for c in client_for(create_app(Engine(tools=[price], planner=model))):
        reply = (await c.post("/v1/chat/completions", json=body)).json()
    assert reply["choices"][0]["message"]["content"] == "420.5"
    history = "Conversation so far:\nsystem: Be brief.\nuser: I follow MSFT.\nassistant: Noted.\n\nQuestion: Its close?"
    assert all(call.messages[-1].content.startswith(history) for call in model.calls)
