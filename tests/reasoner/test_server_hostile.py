"""The server against hostile requests: schemas that expand or nest, bodies a web page can
send, foreign Host and Origin headers, budgets above the engine's, odd header values."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from reasoner import Budget, Engine, tool
from reasoner.models import ScriptedModel
from reasoner.server import create_app

PLAN = json.dumps({"nodes": [{"id": 1, "tool": "price", "args": {"ticker": "MSFT"}}]})
FINISH = '{"action":"finish"}'


@tool
async def price(ticker: str) -> float:
    """Sample close.

    Args:
        ticker: exchange symbol.
    """
    return 420.5


def engine(*answers: str, budget: Budget | None = None) -> Engine:
    return Engine(tools=[price], planner=ScriptedModel([PLAN, FINISH, *answers], name="scripted"), budget=budget)


async def client_for(app: Any, base: str = "http://localhost") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as client:
        yield client


def doubling(depth: int) -> dict[str, Any]:
    defs: dict[str, Any] = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "string"}
    return {"$ref": "#/$defs/d0", "$defs": defs}


@pytest.mark.timeout(20)
async def test_an_exponential_output_schema_gets_422_while_healthz_answers() -> None:
    app = create_app(lambda: engine("x"))
    async for c in client_for(app):
        results: dict[str, httpx.Response] = {}

        async def hostile() -> None:
            results["schema"] = await c.post("/v1/reason", json={"query": "q", "output_schema": doubling(22)})

        async with anyio.create_task_group() as tg:
            tg.start_soon(hostile)
            await anyio.sleep(0)
            with anyio.fail_after(2):  # the old server froze /healthz too (11 s at depth 20)
                assert (await c.get("/healthz")).status_code == 200
    r = results["schema"]
    assert r.status_code == 422 and r.json()["error"]["param"] == "output_schema"
    assert "expands to more than 20,000 subschemas" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(12_000)}}, "more than 20,000 JSON values"),
        ("deep", "nests deeper than 64"),
    ],
)
async def test_huge_and_deep_output_schemas_get_422(schema: Any, words: str) -> None:
    if schema == "deep":
        schema = {"type": "string"}
        for _ in range(110):  # the old server: RecursionError, 500 and 150 KB of traceback
            schema = {"type": "array", "items": schema}
    async for c in client_for(create_app(lambda: engine("x"))):
        chat = {"model": "reasoner", "messages": [{"role": "user", "content": "q"}]}
        fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
        r = await c.post("/v1/chat/completions", json={**chat, "response_format": fmt})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == "response_format.json_schema.schema" and words in r.json()["error"]["message"]


@pytest.mark.timeout(20)
async def test_a_backtracking_pattern_in_the_output_schema_does_not_stall_the_run() -> None:
    answer = json.dumps("a" * 40 + "!")  # Python's re: about 2**40 steps
    async for c in client_for(create_app(lambda: engine(answer, answer, answer))):
        r = await c.post("/v1/reason", json={"query": "q", "output_schema": {"type": "string", "pattern": "^(a+)+$"}})
    assert r.status_code == 500 and "does not match" in r.json()["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
async def test_bodies_that_are_not_declared_json_get_415(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    async for c in client_for(create_app(lambda: engine("x"))):
        r = await c.post("/v1/reason", content=json.dumps({"query": "q"}), headers=headers)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


async def test_json_with_a_charset_is_accepted() -> None:
    async for c in client_for(create_app(lambda: engine("The close was 420.5."))):
        r = await c.post("/v1/reason", content=json.dumps({"query": "q"}), headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and r.json()["answer"] == "The close was 420.5."


async def test_a_foreign_host_header_is_refused() -> None:
    app = create_app(lambda: engine("x"))
    async for c in client_for(app, "http://evil.example"):  # a DNS-rebinding page names its own host
        r = await c.get("/v1/tools")
        assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed"
    for base in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://LOCALHOST"):
        async for c in client_for(app, base):
            assert (await c.get("/v1/tools")).status_code == 200
    async for c in client_for(create_app(lambda: engine("x"), allowed_hosts=["api.example"]), "http://api.example"):
        assert (await c.get("/v1/tools")).status_code == 200
    async for c in client_for(create_app(lambda: engine("x"), allowed_hosts=["*"]), "http://anything.example"):
        assert (await c.get("/v1/tools")).status_code == 200


async def test_a_web_origin_is_refused_unless_configured() -> None:
    body = {"query": "q"}
    async for c in client_for(create_app(lambda: engine("ok"))):
        r = await c.post("/v1/reason", json=body, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
        assert (await c.post("/v1/reason", json=body)).status_code == 200  # no Origin: not a browser
    async for c in client_for(create_app(lambda: engine("ok"), cors_origins=["https://app.example"])):
        r = await c.post("/v1/reason", json=body, headers={"Origin": "https://app.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
        assert (await c.post("/v1/reason", json=body, headers={"Origin": "https://evil.example"})).status_code == 403


async def test_a_clients_budget_never_rises_above_the_engines() -> None:
    app = create_app(lambda: engine("ok", budget=Budget(iterations=2, tokens=4_000, seconds=30)))
    async for c in client_for(app):
        r = await c.post("/v1/reason", json={"query": "q", "budget": {"seconds": 1e308}})
        assert r.status_code == 422 and r.json()["error"]["param"] == "budget.seconds"
        r = await c.post("/v1/reason", json={"query": "q", "budget": {"seconds": 60}})
        assert r.status_code == 422 and "over this server's limit of 30" in r.json()["error"]["message"]
        r = await c.post("/v1/reason", json={"query": "q", "budget": {"tokens": 10**400}})
        assert r.status_code == 422 and r.json()["error"]["param"] == "budget.tokens"


async def test_a_clients_budget_keeps_the_engines_other_limits() -> None:
    from reasoner.server._checks import budget_cap, check_budget
    from reasoner.server._schemas import BudgetIn

    cap = budget_cap(Budget(iterations=2, tokens=4_000, seconds=30), None)
    assert check_budget(BudgetIn(iterations=1), cap, "budget") == Budget(iterations=1, tokens=4_000, seconds=30)
    assert budget_cap(Budget(seconds=30), Budget(seconds=600, iterations=1)) == Budget(iterations=1, tokens=32_000, seconds=30)


async def test_a_non_ascii_digit_in_last_event_id_gets_422() -> None:
    async for c in client_for(create_app(lambda: engine("ok"))):
        run_id = (await c.post("/v1/reason", json={"query": "q"})).json()["run_id"]
        r = await c.get(f"/v1/reason/{run_id}/events", headers={"Last-Event-ID": f"{run_id}:\u00b2".encode()})
    assert r.status_code == 422 and r.json()["error"]["param"] == "Last-Event-ID"


def test_serve_exposes_connection_limits_and_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import uvicorn

    from reasoner.cli._serve import add_serve_arguments, serve_main

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    argv = ["--no-demo", "--no-plugins", "--max-connections", "7", "--header-timeout", "3", "--idle-timeout", "4"]
    args = parser.parse_args([*argv, "--max-header-bytes", "8192", "--allowed-host", "api.example"])
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(app=app, **kw))
    assert serve_main(args) == 0
    assert (ran["limit_concurrency"], ran["timeout_keep_alive"], ran["h11_max_incomplete_event_size"]) == (7, 4, 8192)
    assert ran["http"].header_timeout_s == 3
    assert ran["app"].state.config.allowed_hosts == ("api.example",)
    from reasoner.server._serve import allowed_hosts

    assert allowed_hosts("10.0.0.5", None) == ("127.0.0.1", "localhost", "::1", "10.0.0.5")
    assert allowed_hosts("0.0.0.0", None) == ("127.0.0.1", "localhost", "::1")


@pytest.mark.timeout(20)
async def test_a_slow_request_head_is_cut_off() -> None:
    import socket
    import threading
    import time

    import uvicorn

    from reasoner.server._h11 import with_header_deadline

    config = uvicorn.Config(
        create_app(lambda: engine("ok")), host="127.0.0.1", port=0, log_level="error", http=with_header_deadline(0.5), lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")  # and never the blank line
            started = time.monotonic()
            assert slow.recv(100) == b""  # closed by the server
            assert time.monotonic() - started < 3
        with socket.create_connection(("127.0.0.1", port), timeout=5) as ok:  # a whole head is answered
            for _ in range(2):
                ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                reply = b""
                while not reply.endswith(b"}"):
                    reply += ok.recv(4096)
                assert reply.startswith(b"HTTP/1.1 200")
                time.sleep(0.8)  # past the head deadline, idle after a response: uvicorn's keep-alive applies
    finally:
        server.should_exit = True
        thread.join(5)


async def test_a_body_that_does_not_arrive_in_time_gets_408() -> None:
    app = create_app(lambda: engine("ok"), body_timeout_s=0.2)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep(5)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/reason", "raw_path": b"/v1/reason", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"), (b"content-length", b"20")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    with anyio.fail_after(3):
        await app(scope, receive, send)
    assert sent[0]["status"] == 408


async def test_error_texts_reach_clients_without_urls_paths_or_length() -> None:
    from reasoner.errors import ModelError

    @tool
    def leaky(ticker: str) -> float:
        """Fails with internals in its message.

        Args:
            ticker: exchange symbol.
        """
        raise OSError(f"cannot read /srv/secret/prices/{ticker}.csv via http://10.0.0.7:9000/internal?token=abc " + "x" * 2000)

    plan = json.dumps({"nodes": [{"id": 1, "tool": "leaky", "args": {"ticker": "MSFT"}}]})
    upstream_failure = ModelError("model 'big' at http://gpu-7.internal:8000/v1: HTTP 500: {'detail': 'trace at /opt/vllm/x.py'}")

    def make() -> Engine:
        return Engine(tools=[leaky], planner=ScriptedModel([plan, FINISH, upstream_failure]), answerer=ScriptedModel([upstream_failure]))

    async for c in client_for(create_app(make)):
        r = await c.post("/v1/reason", json={"query": "q", "stream": True})
    text = r.text
    assert "node.failed" in text and "run.failed" in text
    for secret in ("/srv/secret", "10.0.0.7", "token=abc", "gpu-7.internal", "/opt/vllm", "x" * 600):
        assert secret not in text, secret
    assert "<path>" in text and "<url>" in text
