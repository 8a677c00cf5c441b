"""The HTTP server on a real uvicorn (127.0.0.1, a free port) with the ``openai`` SDK and httpx as clients.

One engine is shared by every request (scripted role models whose replies depend on a
scenario marker in the question), so these tests also show that concurrent runs can
share an Engine.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import anyio
import httpx
import openai
import pytest

from reasoner import Engine, tool
from reasoner.models import Message, ScriptedModel
from reasoner.server import create_app

KEY = "test-key-0123456789"
SLOW, IDLE, JSON, CRASH, OVERLAP = "[slow]", "[idle]", "[json]", "[crash]", "[overlap]"
ANSWER = "  MSFT closed at 420.5 and AMZN at 186.2 (sample data).\n"
JSON_ANSWER = '{"ticker":"MSFT","close":420.5}'
CLOSE_SCHEMA = {
    "type": "object",
    "properties": {"ticker": {"type": "string"}, "close": {"type": "number"}},
    "required": ["ticker", "close"],
}


class Tracker:
    """What the tool calls did, seen from the test thread (the tools run in the server's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts = {"started": 0, "cancelled": 0, "finished": 0}

    def add(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


TRACK = Tracker()


@tool
async def lookup(ticker: str, seconds: float) -> dict[str, Any]:
    """The latest sample close of a ticker.

    Args:
        ticker: exchange symbol.
        seconds: simulated latency.
    """
    TRACK.add("started")
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        TRACK.add("cancelled")
        raise
    TRACK.add("finished")
    return {"ticker": ticker, "close": {"MSFT": 420.5, "AMZN": 186.2}.get(ticker, 1.0)}


def _asked(messages: Sequence[Message], marker: str) -> bool:
    return any(marker in m.content for m in messages if m.role == "user")


def _plan(messages: Sequence[Message]) -> str:
    if _asked(messages, CRASH):
        raise RuntimeError("secret internals at /srv/app/config.py line 12")
    # OVERLAP: long enough that the first call is still running when the second starts, on a busy machine too
    seconds = 30.0 if _asked(messages, SLOW) else 1.2 if _asked(messages, IDLE) else 0.5 if _asked(messages, OVERLAP) else 0.05
    nodes = [{"id": i + 1, "tool": "lookup", "args": {"ticker": t, "seconds": seconds}} for i, t in enumerate(("MSFT", "AMZN"))]
    return json.dumps({"nodes": nodes})


def _answer(messages: Sequence[Message]) -> str:
    return JSON_ANSWER if _asked(messages, JSON) else ANSWER


def make_engine(runs: int = 400) -> Engine:
    return Engine(
        tools=[lookup],
        planner=ScriptedModel([_plan] * runs, name="planner-model", token_delay=0.001),
        joiner=ScriptedModel(['{"action":"finish"}'] * runs, name="joiner-model"),
        answerer=ScriptedModel([_answer] * runs, name="answerer-model", token_delay=0.001),
    )


@pytest.fixture(scope="module")
def live(live_server: Any) -> Iterator[Any]:
    app = create_app(make_engine(), api_keys=[KEY], max_body_bytes=20_000, max_query_chars=2_000, keepalive_s=0.25)
    with live_server(app) as server:
        yield server


@pytest.fixture
def sdk(live: Any) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0, timeout=20) as client:
        yield client


AUTH = {"Authorization": f"Bearer {KEY}"}


def parse_sse(text: str) -> list[dict[str, str]]:
    """SSE text -> [{"event", "id", "data"}] (comments dropped)."""
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
        if fields:
            out.append(fields)
    return out


def direct_answer(query: str, **kwargs: Any) -> Any:
    """The answer of the same engine called directly, without the server."""
    return anyio.run(partial(make_engine().reason, query, **kwargs)).answer


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- the openai SDK ----------------------------------------------------------------------


def test_sdk_non_streamed_content_is_the_engines_answer_with_usage(sdk: openai.OpenAI) -> None:
    query = "Compare the MSFT and AMZN closes"
    completion = sdk.chat.completions.create(model="reasoner", messages=[{"role": "user", "content": query}])
    assert completion.choices[0].message.content == direct_answer(query) == ANSWER.strip()
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    ext = completion.model_extra["reasoner"]  # type: ignore[index]
    assert [n["tool"] for n in ext["plans"][0]["nodes"]] == ["lookup", "lookup"]
    assert ext["outputs"] == {"1": {"ticker": "MSFT", "close": 420.5}, "2": {"ticker": "AMZN", "close": 186.2}}


def test_sdk_streamed_content_reassembles_the_answer_and_carries_events(sdk: openai.OpenAI) -> None:
    query = f"{OVERLAP} Compare the MSFT and AMZN closes"
    stream = sdk.chat.completions.create(
        model="reasoner", messages=[{"role": "user", "content": query}], stream=True, stream_options={"include_usage": True}
    )
    content, events, finishes, usage = [], [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            content.append(choice.delta.content or "")
            finishes.append(choice.finish_reason)
        if chunk.model_extra and "reasoner" in chunk.model_extra:
            events.append(chunk.model_extra["reasoner"]["event"])
    assert "".join(content) == direct_answer(query)
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert [e["seq"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    # tool activity is visible, and the two calls overlapped
    assert types.index("node.completed") > max(i for i, t in enumerate(types) if t == "node.started")
    assert types.count("node.started") == 2
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0


def test_sdk_json_schema_response_format_constrains_the_answer(sdk: openai.OpenAI) -> None:
    query = f"{JSON} MSFT close as JSON"
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "close", "schema": CLOSE_SCHEMA}}
    completion = sdk.chat.completions.create(model="reasoner", messages=[{"role": "user", "content": query}], response_format=fmt)
    content = completion.choices[0].message.content
    assert content is not None
    assert json.loads(content) == direct_answer(query, output=_close_type()) == {"ticker": "MSFT", "close": 420.5}
    streamed = sdk.chat.completions.create(
        model="reasoner", messages=[{"role": "user", "content": query}], response_format=fmt, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == content


def _close_type() -> Any:
    return CLOSE_SCHEMA


def test_sdk_role_model_name_and_models_listing(sdk: openai.OpenAI) -> None:
    ids = [m.id for m in sdk.models.list()]
    assert ids == ["reasoner", "planner-model", "joiner-model", "answerer-model"]
    completion = sdk.chat.completions.create(model="answerer-model", messages=[{"role": "user", "content": "closes?"}])
    assert completion.choices[0].message.content == ANSWER.strip()


# -- /v1/reason over SSE -----------------------------------------------------------------


def test_reason_sse_order_ids_and_final_event(live: Any) -> None:
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "Compare closes", "stream": True}, timeout=20)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(r.text)
    *events, done = frames
    payloads = [json.loads(f["data"]) for f in events]
    run_id = payloads[0]["run_id"]
    assert [f["event"] for f in events] == [p["type"] for p in payloads]
    assert [f["id"] for f in events] == [f"{run_id}:{i}" for i in range(len(events))]
    types = [p["type"] for p in payloads]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    for node in (1, 2):  # each node is announced by the planner before it starts, and starts before it ends
        announced = next(i for i, p in enumerate(payloads) if p["type"] == "plan.node" and p["node_id"] == node)
        started = next(i for i, p in enumerate(payloads) if p["type"] == "node.started" and p["node_id"] == node)
        ended = next(i for i, p in enumerate(payloads) if p["type"] == "node.completed" and p["node_id"] == node)
        assert announced < started < ended
    assert payloads[-1]["data"]["answer"] == ANSWER.strip()
    assert done["event"] == "done" and "id" not in done
    assert json.loads(done["data"]) == {"run_id": run_id, "status": "completed", "last_seq": len(events) - 1}

    # resume-ready ids: replay what followed event 3
    replay = httpx.get(f"{live.url}/v1/reason/{run_id}/events", headers={**AUTH, "Last-Event-ID": f"{run_id}:3"}, timeout=10)
    again = parse_sse(replay.text)
    assert [f["id"] for f in again[:-1]] == [f"{run_id}:{i}" for i in range(4, len(events))]
    assert [f["data"] for f in again[:-1]] == [f["data"] for f in events[4:]]
    assert again[-1]["event"] == "done"


def test_reason_non_streamed_result(live: Any) -> None:
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "Compare closes"}, timeout=20)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "completed" and body["answer"] == ANSWER.strip()
    assert body["outputs"]["2"] == {"ticker": "AMZN", "close": 186.2}
    assert set(body["usage"]) == {"planner-model", "joiner-model", "answerer-model"}


def test_keepalive_comments_while_tools_run(live: Any) -> None:
    with httpx.stream(
        "POST", f"{live.url}/v1/reason", headers=AUTH, json={"query": f"{IDLE} closes", "stream": True}, timeout=20
    ) as r:
        text = "".join(r.iter_text())
    between = text[text.index("event: node.started") : text.index("event: node.completed")]
    assert between.count(": keep-alive\n\n") >= 2  # 1.2 s of tool time, a comment every 0.25 s
    assert parse_sse(text)[-1]["event"] == "done"


# -- disconnects --------------------------------------------------------------------------


async def test_disconnect_cancels_the_run_and_its_tool_calls(live: Any) -> None:
    before = TRACK.snapshot()
    idle_tasks = await anyio.to_thread.run_sync(live.tasks)
    run_id = None
    async with httpx.AsyncClient(base_url=live.url, headers=AUTH, timeout=20) as client:
        async with client.stream("POST", "/v1/reason", json={"query": f"{SLOW} closes", "stream": True}) as r:
            started = 0
            async for line in r.aiter_lines():
                if line.startswith("id: ") and run_id is None:
                    run_id = line[4:].split(":")[0]
                started += line == "event: node.started"
                if started == 2:
                    break  # both 30-second calls are in flight: hang up
    assert run_id is not None

    def settled() -> bool:
        now = TRACK.snapshot()
        return now["cancelled"] - before["cancelled"] == 2 and live.tasks() <= idle_tasks

    assert await anyio.to_thread.run_sync(wait_for, settled)
    now = TRACK.snapshot()
    assert now["started"] - before["started"] == 2 and now["finished"] == before["finished"]
    async with httpx.AsyncClient(base_url=live.url, headers=AUTH) as client:
        assert (await client.get("/healthz")).json()["active_runs"] == 0
        replay = await client.get(f"/v1/reason/{run_id}/events")
    frames = parse_sse(replay.text)
    assert json.loads(frames[-1]["data"])["status"] == "cancelled"
    assert "run.completed" not in [f["event"] for f in frames]


async def test_disconnect_cancels_a_non_streamed_run(live: Any) -> None:
    before = TRACK.snapshot()
    async with httpx.AsyncClient(base_url=live.url, headers=AUTH, timeout=httpx.Timeout(20, read=1.0)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/reason", json={"query": f"{SLOW} closes"})

    def cancelled() -> bool:
        return TRACK.snapshot()["cancelled"] - before["cancelled"] == 2

    assert await anyio.to_thread.run_sync(wait_for, cancelled)
    assert TRACK.snapshot()["finished"] == before["finished"]


# -- bad input -----------------------------------------------------------------------------


def _error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert "Traceback" not in r.text
    return dict(body["error"])


def test_missing_and_wrong_api_keys_get_401(live: Any) -> None:
    r = httpx.post(f"{live.url}/v1/reason", json={"query": "q"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "missing API key" in _error(r)["message"]
    with openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong-key", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.models.list()
    assert info.value.status_code == 401 and "invalid API key" in info.value.message
    assert httpx.get(f"{live.url}/healthz").json()["status"] == "ok"  # liveness needs no key


def test_oversized_body_and_query_get_413(live: Any) -> None:
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "x" * 30_000})
    assert r.status_code == 413 and "at most 20000" in _error(r)["message"]
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "x" * 3_000})
    assert r.status_code == 413 and _error(r)["param"] == "query" and "at most 2000" in _error(r)["message"]


def test_invalid_json_and_invalid_fields_get_422(live: Any) -> None:
    r = httpx.post(f"{live.url}/v1/reason", headers={**AUTH, "content-type": "application/json"}, content=b'{"query": ')
    assert r.status_code == 422 and "Invalid JSON" in _error(r)["message"]
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "q", "budget": {"seconds": -1}, "colour": "red"})
    error = _error(r)
    assert r.status_code == 422 and error["param"] == "budget.seconds"
    assert "budget.seconds: Input should be greater than 0" in error["message"] and "colour: Extra inputs" in error["message"]


def test_unknown_tool_gets_422_naming_it(live: Any, sdk: openai.OpenAI) -> None:
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "q", "tools": ["lookup", "weather"]})
    assert r.status_code == 422 and _error(r)["param"] == "tools"
    assert "unknown tool 'weather'; this server has lookup" in _error(r)["message"]
    with pytest.raises(openai.UnprocessableEntityError) as info:
        sdk.chat.completions.create(
            model="reasoner", messages=[{"role": "user", "content": "q"}], extra_body={"reasoner": {"tools": ["weather"]}}
        )
    assert "unknown tool 'weather'" in info.value.message


def test_unknown_model_gets_404_model_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        sdk.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "q"}])
    assert info.value.code == "model_not_found"
    assert "'gpt-5' does not exist here; this server serves reasoner, planner-model" in info.value.message


def test_invalid_output_schema_gets_422(live: Any, sdk: openai.OpenAI) -> None:
    bad: Any = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objet"}}}
    with pytest.raises(openai.UnprocessableEntityError) as info:
        sdk.chat.completions.create(model="reasoner", messages=[{"role": "user", "content": "q"}], response_format=bad)
    assert info.value.param == "response_format.json_schema.schema"
    assert "not a valid JSON Schema" in info.value.message and "'objet'" in info.value.message
    recursive = {
        "type": "object",
        "properties": {"next": {"$ref": "#/$defs/N"}},
        "$defs": {"N": {"type": "array", "items": {"$ref": "#/$defs/N"}}},
    }
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": "q", "output_schema": recursive})
    assert r.status_code == 422 and "refers to itself" in _error(r)["message"]


def test_an_unexpected_error_is_reported_without_internals(live: Any) -> None:
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": f"{CRASH} closes"}, timeout=20)
    error = _error(r)
    assert r.status_code == 500 and r.headers["x-should-retry"] == "false"
    assert "internal error in run" in error["message"] and "secret" not in r.text and "/srv/app" not in r.text
    r = httpx.post(f"{live.url}/v1/reason", headers=AUTH, json={"query": f"{CRASH} closes", "stream": True}, timeout=20)
    frames = parse_sse(r.text)
    assert [f["event"] for f in frames[-2:]] == ["run.failed", "done"]
    assert json.loads(frames[-2]["data"])["data"]["error"]["type"] == "InternalError" and "secret" not in r.text


def test_sdk_stream_of_a_failed_run_raises_api_error(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(model="reasoner", messages=[{"role": "user", "content": f"{CRASH} closes"}], stream=True)
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            seen.append(chunk.model_extra["reasoner"]["event"]["type"])  # type: ignore[index]
    assert seen[0] == "run.started" and "internal error in run" in info.value.message and "secret" not in info.value.message


# -- limits under load ----------------------------------------------------------------------


async def test_twenty_concurrent_streams_all_complete(live: Any) -> None:
    async def one(client: httpx.AsyncClient, i: int, results: dict[int, list[dict[str, str]]]) -> None:
        r = await client.post("/v1/reason", json={"query": f"closes #{i}", "stream": True})
        results[i] = parse_sse(r.text)

    results: dict[int, list[dict[str, str]]] = {}
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=live.url, headers=AUTH, timeout=30, limits=limits) as client:
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, client, i, results)
    run_ids = set()
    for frames in results.values():
        final = json.loads(frames[-2]["data"])
        assert frames[-1]["event"] == "done" and final["type"] == "run.completed" and final["data"]["answer"] == ANSWER.strip()
        run_ids.add(final["run_id"])
    assert len(run_ids) == 20


def test_a_full_server_answers_429_with_retry_after(live_server: Any) -> None:
    app = create_app(make_engine(), max_concurrent_runs=1, retry_after_s=3)
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=20) as client:
        with client.stream("POST", "/v1/reason", json={"query": f"{IDLE} closes", "stream": True}) as first:
            lines = first.iter_lines()
            next(lines)  # the first run is in flight
            r = client.post("/v1/reason", json={"query": "closes"})
            assert r.status_code == 429 and r.headers["retry-after"] == "3"
            assert "limit of 1 concurrent runs" in _error(r)["message"]
            rest = "\n".join(lines)
        assert "event: done" in rest
        assert client.post("/v1/reason", json={"query": "closes"}).status_code == 200  # the slot was given back
