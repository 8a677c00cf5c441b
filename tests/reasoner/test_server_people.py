"""People in the loop over HTTP, on a real uvicorn (127.0.0.1): approvals answered while the
stream flows (httpx and the ``openai`` SDK as clients), expiry, the chat endpoint's refusal,
plan review (/v1/plans, /v1/plans/run) and feedback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import openai
import pytest

from reasoner import Engine, tool
from reasoner.events import load_trace
from reasoner.models import Message, ScriptedModel
from reasoner.server import create_app

KEY = "people-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
PAID: list[tuple[int, str]] = []
SENT: list[str] = []


@tool(requires_approval=True)
async def pay(cents: int, to: str) -> str:
    """Pay someone.

    Args:
        cents: amount in cents.
        to: who gets it.
    """
    PAID.append((cents, to))
    return f"paid {cents} to {to}"


@tool(requires_approval=True)
async def send(to: str, text: str) -> str:
    """Send a message.

    Args:
        to: the recipient.
        text: the message.
    """
    SENT.append(to)
    return f"sent to {to}"


@tool
async def lookup(ticker: str) -> dict[str, Any]:
    """The latest sample close of a ticker.

    Args:
        ticker: exchange symbol.
    """
    await anyio.sleep(0.05)
    return {"ticker": ticker, "close": 420.5}


def _plan(messages: Sequence[Message]) -> str:
    asked = "\n".join(m.content for m in messages if m.role == "user")
    nodes: list[dict[str, Any]] = [{"id": 1, "tool": "pay", "args": {"cents": 5000, "to": "bob"}}]
    if "[three]" in asked:
        nodes += [{"id": 2, "tool": "lookup", "args": {"ticker": "MSFT"}}, {"id": 3, "tool": "send", "args": {"to": "all", "text": "hi"}}]
    return json.dumps({"nodes": nodes})


def make_engine(runs: int = 100) -> Engine:
    return Engine(
        tools=[pay, send, lookup],
        planner=ScriptedModel([_plan] * runs, name="planner-model"),
        joiner=ScriptedModel(['{"action":"finish"}'] * runs, name="joiner-model"),
        answerer=ScriptedModel(["Done."] * runs, name="answerer-model"),
    )


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def live(runs_dir: Path, live_server: Any) -> Iterator[Any]:
    app = create_app(make_engine(), api_keys=[KEY], keepalive_s=0.1, approval_timeout_s=5, runs_dir=runs_dir)
    with live_server(app) as server:
        yield server


def _data(line: str) -> dict[str, Any] | None:
    return json.loads(line[6:]) if line.startswith("data: ") else None


# -- approvals over a live stream --------------------------------------------------------------


async def test_httpx_answers_approvals_while_the_stream_keeps_flowing(live: Any) -> None:
    PAID.clear()
    SENT.clear()
    events: list[dict[str, Any]] = []
    pending: dict[int, dict[str, Any]] = {}
    keepalives_while_waiting = 0
    answers: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=live.url, headers=AUTH, timeout=20) as client:
        async with client.stream("POST", "/v1/reason", json={"query": "[three] pay bob and tell everyone", "stream": True}) as r:
            async for line in r.aiter_lines():
                if line.startswith(": keep-alive") and len(pending) == 2:
                    keepalives_while_waiting += 1
                event = _data(line)
                if event is not None and "type" in event:
                    events.append(event)
                    if event["type"] == "approval.requested":
                        pending[event["node_id"]] = event
                done = {e["node_id"] for e in events if e["type"] == "node.completed"}
                if len(pending) == 2 and 2 in done and keepalives_while_waiting >= 2 and not answers:
                    run_id = events[0]["run_id"]
                    base = f"/v1/runs/{run_id}/approvals"
                    bad = await client.post(f"{base}/{pending[1]['data']['approval_id']}", json={"decision": "edit", "args": {"cents": "five"}})
                    answers["bad"] = bad
                    answers["edit"] = await client.post(
                        f"{base}/{pending[1]['data']['approval_id']}", json={"decision": "edit", "args": {"cents": 500, "to": "bob"}}
                    )
                    answers["again"] = await client.post(f"{base}/1", json={"decision": "approve"})  # node 3 keeps the run open
                    answers["deny"] = await client.post(f"{base}/3", json={"decision": "deny", "reason": "do not message everyone"})
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "run.completed"
    # the lookup branch finished while both approvals waited, and keep-alives flowed
    assert kinds.index("node.completed") < kinds.index("approval.resolved")
    assert answers["bad"].status_code == 422 and "still open" in answers["bad"].json()["error"]["message"]
    assert answers["edit"].json() == {"run_id": events[0]["run_id"], "approval_id": "1", "decision": "edit"}
    assert answers["deny"].status_code == 200
    assert answers["again"].status_code == 409
    assert PAID == [(500, "bob")] and SENT == []
    resolved = {e["node_id"]: e["data"] for e in events if e["type"] == "approval.resolved"}
    assert resolved[1]["decision"] == "edit" and resolved[1]["args"] == {"cents": 500, "to": "bob"}
    assert resolved[3] == {"approval_id": "3", "approved": False, "decision": "deny", "reason": "do not message everyone"}
    started = {e["node_id"]: e["data"]["args"] for e in events if e["type"] == "node.started"}
    assert started[1] == {"cents": 500, "to": "bob"}
    failed = next(e for e in events if e["type"] == "node.failed")
    assert failed["data"]["error"]["message"] == "the approver denied the call to tool 'send': do not message everyone"


def test_the_openai_sdk_answers_an_approval_while_httpx_streams(live: Any) -> None:
    PAID.clear()
    with (
        openai.OpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0, timeout=20) as sdk,
        httpx.Client(base_url=live.url, headers=AUTH, timeout=20) as client,
        client.stream("POST", "/v1/reason", json={"query": "pay bob", "stream": True}) as r,
    ):
        kinds = []
        for line in r.iter_lines():
            event = _data(line)
            if event is None or "type" not in event:
                continue
            kinds.append(event["type"])
            if event["type"] == "approval.requested":
                path = f"/runs/{event['run_id']}/approvals/{event['data']['approval_id']}"
                answered = sdk.post(path, body={"decision": "approve"}, cast_to=httpx.Response)
                assert answered.json()["decision"] == "approve"
    assert kinds[-1] == "run.completed" and PAID == [(5000, "bob")]


def test_an_unanswered_approval_expires_as_a_denial(live_server: Any) -> None:
    PAID.clear()
    app = create_app(make_engine(), approval_timeout_s=0.3, keepalive_s=0.1)
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=20) as client:
        text = client.post("/v1/reason", json={"query": "pay bob", "stream": True}).text
    events = [e for e in map(_data, text.splitlines()) if e and "type" in e]
    resolved = next(e for e in events if e["type"] == "approval.resolved")
    assert resolved["data"]["decision"] == "deny" and "no one answered the approval within 0.3 s" in resolved["data"]["reason"]
    assert events[-1]["type"] == "run.completed" and PAID == []


def test_approvals_need_the_key_and_a_known_run(live: Any) -> None:
    with httpx.Client(base_url=live.url, timeout=20) as client:
        assert client.post("/v1/runs/abc/approvals/1", json={"decision": "approve"}).status_code == 401
        r = client.post("/v1/runs/abc/approvals/1", json={"decision": "approve"}, headers=AUTH)
        assert r.status_code == 404 and "no run 'abc' in flight" in r.json()["error"]["message"]
        r = client.post("/v1/runs/abc/approvals/1", json={"decision": "maybe"}, headers=AUTH)
        assert r.status_code == 422


# -- runs that cannot ask ------------------------------------------------------------------------


def test_chat_completions_refuse_calls_that_need_approval_unless_the_server_allows_them(live_server: Any) -> None:
    PAID.clear()
    for policy, paid in (("refuse", []), ("approve", [(5000, "bob")])):
        app = create_app(make_engine(), approvals=policy)  # type: ignore[arg-type]
        with live_server(app) as server, openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=20) as sdk:
            completion = sdk.chat.completions.create(model="reasoner", messages=[{"role": "user", "content": "pay bob"}])
        ext = completion.model_extra["reasoner"]  # type: ignore[index]
        assert PAID == paid
        if policy == "refuse":
            assert "requires approval, which /v1/chat/completions cannot ask for" in ext["errors"]["1"]
            assert "--approvals approve" in ext["errors"]["1"]
        else:
            assert ext["outputs"] == {"1": "paid 5000 to bob"}
        PAID.clear()


# -- plan review ---------------------------------------------------------------------------------


def test_plan_review_over_http_runs_the_edited_plan(live: Any) -> None:
    PAID.clear()
    with httpx.Client(base_url=live.url, headers=AUTH, timeout=20) as client:
        planned = client.post("/v1/plans", json={"query": "[three] pay bob"}).json()
        assert [n["tool"] for n in planned["plan"]["nodes"]] == ["pay", "lookup", "send"]
        assert planned["physical"]["1"]["requires_approval"] is True and "critical path" in planned["text"]
        assert PAID == [] and SENT == []  # nothing ran
        edited = {"nodes": [{**planned["plan"]["nodes"][1], "id": 1}]}  # keep the lookup only
        result = client.post("/v1/plans/run", json={"query": "[three] pay bob", "plan": edited}).json()
        assert result["status"] == "completed" and result["outputs"] == {"1": {"ticker": "MSFT", "close": 420.5}}
        assert result["plans"] == [edited]
        bad = client.post("/v1/plans/run", json={"query": "q", "plan": {"nodes": [{"id": 1, "tool": "nope", "args": {}}]}})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "plan"


# -- feedback ------------------------------------------------------------------------------------


def test_feedback_is_stored_with_the_trace(live: Any, runs_dir: Path) -> None:
    with httpx.Client(base_url=live.url, headers=AUTH, timeout=20) as client:
        plan = {"nodes": [{"id": 1, "tool": "lookup", "args": {"ticker": "MSFT"}}]}
        run_id = client.post("/v1/plans/run", json={"query": "MSFT close?", "plan": plan}).json()["run_id"]
        r = client.post(f"/v1/runs/{run_id}/feedback", json={"rating": "bad", "answer": "MSFT closed at 420.5."})
        assert r.status_code == 200 and r.json()["feedback"] == {"rating": "bad", "answer": "MSFT closed at 420.5."}
        replay = client.get(f"/v1/reason/{run_id}/events").text
        assert "event: feedback" in replay
        assert client.post(f"/v1/runs/{run_id}/feedback", json={}).status_code == 422
        assert client.post("/v1/runs/nope/feedback", json={"rating": "good"}).status_code == 404
        wrong = client.post(f"/v1/runs/{run_id}/feedback", json={"plan": {"nodes": [{"id": 1, "tool": "nope", "args": {}}]}})
        assert wrong.status_code == 422
    saved = load_trace(runs_dir / f"{run_id}.jsonl")
    assert saved[-1].type == "feedback" and saved[-1].data["answer"] == "MSFT closed at 420.5."
