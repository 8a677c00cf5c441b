"""Runs over several models on real loopback servers (issue 6).

* A ``reasoner serve`` app (scripted role models) is the remote planner of another engine:
  the plan grammar travels as ``response_format`` json_schema, the served engine answers
  with a plan, the calling engine runs it.
* Planner and answerer are different models (remote and local), with usage per model,
  through the API and through ``reasoner run --config``.
* A role falls back from a broken remote model to a good one, within tight timeouts.
* A whole multi-model run never shows the API key: not in events, the trace file, logs,
  the CLI's output or exception messages, even when the server echoes it in an error.

``Upstream`` below is a small OpenAI-protocol server whose replies are scripted per model
id; ``LiveServer`` runs any ASGI app on uvicorn in a thread (127.0.0.1, a free port).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from reasoner import Engine, tool
from reasoner.cli import main
from reasoner.errors import ModelUnavailable
from reasoner.events import Event, load_trace
from reasoner.models import OpenAIModel, ScriptedModel
from reasoner.server import create_app

SECRET = "sk-multi-model-7Hq2-NEVER-SHOW-ME-9f3e1c"
KEY_ENV = "REASONER_TEST_UPSTREAM_KEY"
FINISH = '{"action":"finish"}'
PLAN = json.dumps(
    {"nodes": [{"id": 1, "tool": "price", "args": {"ticker": "MSFT"}}, {"id": 2, "tool": "price", "args": {"ticker": "AAPL"}}]}
)
DEMO_PLAN = PLAN.replace('"price"', '"stock_price"')
ANSWER = "MSFT closed at 420.5 and AAPL at 242.65."
DEMO_ANSWER = "MSFT closed at 413.62 and AAPL at 242.65 (sample data)."


@tool
def price(ticker: str) -> float:
    """The latest sample close of a ticker.

    Args:
        ticker: exchange symbol, e.g. MSFT.
    """
    return {"MSFT": 420.5, "AAPL": 242.65}[ticker]


# -- servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    text: str
    usage: tuple[int, int] = (11, 7)


@dataclass(frozen=True)
class Fail:
    code: int
    message: str = "upstream error"
    echo_auth: bool = False  # put the Authorization header in the error, as careless servers do


@dataclass(frozen=True)
class Hang:
    seconds: float = 30.0


class Upstream:
    """OpenAI-protocol server: each model id replies with its scripted behaviours in
    order, the last one repeating (``[Fail(500)]`` fails forever). Records every request."""

    def __init__(self) -> None:
        self.url = ""
        self.script: dict[str, list[Reply | Fail | Hang]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []  # (model id, headers)
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._chat, methods=["POST"]), Route("/v1/models", self._models, methods=["GET"])]
        )

    def requests(self, model: str) -> list[dict[str, str]]:
        return [headers for name, headers in self.seen if name == model]

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in self.script]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        model = str(body.get("model"))
        self.seen.append((model, dict(request.headers)))
        queue = self.script.get(model) or [Fail(404, f"no model {model!r}")]
        behaviour = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(behaviour, Hang):
            with anyio.move_on_after(behaviour.seconds):  # or until the client gives up
                while not await request.is_disconnected():
                    await anyio.sleep(0.05)
            return JSONResponse({"error": {"message": "too late"}}, status_code=504)
        if isinstance(behaviour, Fail):
            message = behaviour.message
            if behaviour.echo_auth:
                message += f" (got Authorization: {request.headers.get('authorization')})"
            return JSONResponse({"error": {"message": message}}, status_code=behaviour.code)
        return StreamingResponse(_sse(behaviour), media_type="text/event-stream")


async def _sse(reply: Reply) -> AsyncIterator[bytes]:
    pieces = [reply.text[i : i + 5] for i in range(0, len(reply.text), 5)]
    chunks: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1]}})
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"


@pytest.fixture(scope="module")
def upstream_server(live_server: Any) -> Iterator[Upstream]:
    upstream = Upstream()
    with live_server(upstream.app, path="/v1", graceful_s=1) as live:
        upstream.url = live.url
        yield upstream


@pytest.fixture
def upstream(upstream_server: Upstream) -> Upstream:
    upstream_server.script.clear()
    upstream_server.seen.clear()
    return upstream_server


@pytest.fixture
def serve(live_server: Any) -> Callable[..., Any]:
    """``reasoner serve``'s app over an engine with no tools whose every role is ``model``
    (so each chat request is answered by one call of it), on the ``live_server`` harness."""

    def start(model: ScriptedModel, **options: Any) -> Any:
        return live_server(create_app(Engine(planner=model), **options), path="/v1", graceful_s=1)

    return start


def scripted_tokens(model: ScriptedModel, replies: list[str]) -> tuple[int, int]:
    # what ScriptedModel reports: one token per 4 characters, prompt and reply
    prompt = sum(-(-len(m.content) // 4) for call in model.calls for m in call.messages)
    return prompt, sum(-(-len(text) // 4) for text in replies)


def role_models(events: list[Event]) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for event in events:
        if event.type == "usage":
            seen.setdefault(event.data["role"], set()).add(event.data["model"])
    return seen


# -- a reasoner server as the remote model of another engine -----------------------------


async def test_a_reasoner_server_plans_for_another_engine(serve: Callable[..., Any]) -> None:
    served = ScriptedModel([PLAN, FINISH], name="served-engine-model")
    sent: list[dict[str, Any]] = []

    async def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    with serve(served) as a:
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
            remote = OpenAIModel(a.url, "reasoner", name="remote-reasoner", client=client, read_timeout=10, max_retries=0)
            local = ScriptedModel([ANSWER], name="local-answerer")
            b = Engine(tools=[price], planner=remote, answerer=local, call_timeout=10)  # the joiner is the planner too
            with anyio.fail_after(30):
                result = await b.reason("Compare the closes of MSFT and AAPL")

    assert result.answer == ANSWER
    assert result.outputs == {1: 420.5, 2: 242.65}
    assert [n.tool for n in result.plan.nodes] == ["price", "price"]
    # B sent its plan grammar, then the join schema, as response_format json_schema; A decoded under them
    assert [body["response_format"]["type"] for body in sent] == ["json_schema", "json_schema"]
    assert [body["model"] for body in sent] == ["reasoner", "reasoner"]
    plan_schema = sent[0]["response_format"]["json_schema"]["schema"]
    assert "nodes" in plan_schema["properties"]
    # (the served engine inlines the $defs the strict plan grammar shares between positions)
    from reasoner._output import output_schema

    assert [call.schema for call in served.calls] == [output_schema(body["response_format"]["json_schema"]["schema"])[1] for body in sent]
    # usage per model: the remote one counts what the served engine's model reported
    prompt, completion = scripted_tokens(served, [PLAN, FINISH])
    usage = result.usage
    assert set(usage) == {"remote-reasoner", "local-answerer"}
    assert (usage["remote-reasoner"].calls, usage["remote-reasoner"].prompt_tokens, usage["remote-reasoner"].completion_tokens) == (
        2, prompt, completion,
    )  # fmt: skip
    assert usage["local-answerer"].calls == 1 and usage["local-answerer"].completion_tokens == -(-len(ANSWER) // 4)
    assert role_models(result.trace) == {"planner": {"remote-reasoner"}, "joiner": {"remote-reasoner"}, "answerer": {"local-answerer"}}
    completed = [e for e in result.trace if e.type == "plan.completed"]
    assert completed[0].data["model"] == "remote-reasoner"
    assert set(result.trace[-1].data["usage"]) == {"remote-reasoner", "local-answerer"}


# -- the CLI with a remote planner from the config file ------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("REASONER_CHART_DIR", str(tmp_path / "charts"))
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REASONER_CONFIG", raising=False)
    return tmp_path


def summary_rows(out: str) -> dict[str, list[str]]:
    """The summary table of ``--plain``: role -> its cells (role, model, calls, prompt, completion, ...)."""
    lines = out[out.index("\nsummary\n") :].splitlines()
    return {cells[0]: cells for cells in (line.split() for line in lines) if cells and cells[0] in ("planner", "joiner", "answerer")}


def test_cli_run_with_a_served_planner_from_the_config_shows_both_models(
    isolated: Path, capsys: pytest.CaptureFixture[str], serve: Callable[..., Any]
) -> None:
    served = ScriptedModel([DEMO_PLAN], name="served-engine-model")
    local = ScriptedModel([FINISH, DEMO_ANSWER], name="local")
    with serve(served) as a:
        config = isolated / "reasoner.toml"
        config.write_text(f'[models.served]\nurl = "{a.url}"\nmodel = "reasoner"\nmax_retries = 0\n[roles]\nplanner = "served"\n')
        argv = ["run", "Compare MSFT and AAPL", "--config", str(config), "--joiner", "local", "--answerer", "local", "--plain"]
        code = main(argv, models={"local": local})
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "models:   planner served, joiner local, answerer local" in out
    assert "planned   2 node(s) with served" in out
    assert DEMO_ANSWER in out
    rows = summary_rows(out)
    prompt, completion = scripted_tokens(served, [DEMO_PLAN])
    assert rows["planner"][:5] == ["planner", "served", "1", str(prompt), str(completion)]
    assert rows["joiner"][:3] == ["joiner", "local", "1"]
    assert rows["answerer"][:3] == ["answerer", "local", "1"]
    assert served.calls[0].schema is not None and "nodes" in served.calls[0].schema["properties"]


# -- fallback across remote models --------------------------------------------------------

FAILURES: dict[str, tuple[list[Reply | Fail | Hang], str, int]] = {
    "http-500-forever": ([Fail(500, "engine overloaded")], "HTTP 500: engine overloaded", 2),
    "invalid-json-past-repairs": ([Reply("this is not a plan")], "no valid reply after 1 repair attempt(s)", 2),
    "hangs": ([Hang()], "no data within read_timeout=0.3 s", 1),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_role_falls_back_from_a_broken_remote_model_to_a_good_one(upstream: Upstream, failure: str) -> None:
    behaviour, reason, tries = FAILURES[failure]
    upstream.script["broken"] = behaviour
    upstream.script["good"] = [Reply(PLAN, usage=(40, 9))]
    quick = {"read_timeout": 0.3, "connect_timeout": 1.0, "backoff": (0.0,), "repair_attempts": 1}
    broken = OpenAIModel(upstream.url, "broken", name="broken-remote", max_retries=1 if failure != "hangs" else 0, **quick)
    good = OpenAIModel(upstream.url, "good", name="good-remote", max_retries=0, **quick)
    local = ScriptedModel([FINISH, ANSWER], name="local")
    engine = Engine(tools=[price], planner=[broken, good], joiner=local, answerer=local, call_timeout=5)
    with anyio.fail_after(15):  # a hung model must fall back, not stall the run
        result = await engine.reason("Compare the closes of MSFT and AAPL")

    fallbacks = [e.data for e in result.trace if e.type == "model.fallback"]
    assert len(fallbacks) == 1
    assert (fallbacks[0]["role"], fallbacks[0]["model"], fallbacks[0]["next"]) == ("planner", "broken-remote", "good-remote")
    assert reason in fallbacks[0]["reason"]
    assert len(upstream.requests("broken")) == tries
    assert result.answer == ANSWER and result.outputs == {1: 420.5, 2: 242.65}
    assert result.usage["good-remote"].prompt_tokens == 40 and result.usage["good-remote"].completion_tokens == 9
    # the failed attempt is accounted too (its time, and no tokens the server did not report)
    assert role_models(result.trace) == {"planner": {"broken-remote", "good-remote"}, "joiner": {"local"}, "answerer": {"local"}}
    assert result.usage["broken-remote"].calls >= 1 and result.usage["broken-remote"].completion_tokens == 0


# -- the API key over a whole run ---------------------------------------------------------


def keyed_config(folder: Path, url: str, planner: list[str]) -> Path:
    config = folder / "reasoner.toml"
    config.write_text(
        f"""
[models.keyed]
url = "{url}"
model = "keyed-model"
api_key_env = "{KEY_ENV}"
max_retries = 0
read_timeout = 5
[models.good]
url = "{url}"
model = "good-model"
max_retries = 0
read_timeout = 5
[roles]
planner = {json.dumps(planner)}
answerer = "keyed"
"""
    )
    return config


def assert_secret_absent(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert SECRET[8:24] not in text  # not even a part of it


def test_the_api_key_appears_nowhere_in_a_multi_model_run(
    isolated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    monkeypatch.setenv(KEY_ENV, SECRET)
    # the keyed planner call fails with the key echoed (the fallback path); its answerer call succeeds
    upstream.script["keyed-model"] = [Fail(401, "Incorrect API key", echo_auth=True), Reply(DEMO_ANSWER)]
    upstream.script["good-model"] = [Reply(DEMO_PLAN)]
    config = keyed_config(isolated, upstream.url, ["keyed", "good"])
    trace = isolated / "run.jsonl"
    argv = ["run", "Compare MSFT and AAPL", "--config", str(config), "--joiner", "local", "--plain", "--trace", str(trace)]
    code = main(argv, models={"local": ScriptedModel([FINISH], name="local")})
    out, err = capsys.readouterr()

    assert code == 0, err
    # the key was sent (with both of the keyed model's requests) and echoed back once
    assert [h["authorization"] for h in upstream.requests("keyed-model")] == [f"Bearer {SECRET}"] * 2
    assert "authorization" not in upstream.requests("good-model")[0]
    assert "fallback  planner: keyed failed, trying good" in out
    assert "Incorrect API key (got Authorization: Bearer <api key>)" in out  # the echo, scrubbed
    assert DEMO_ANSWER in out
    assert {"keyed", "good", "local"} <= {cells[1] for cells in summary_rows(out).values()}
    events = load_trace(trace)
    assert [e.type for e in events if e.type == "model.fallback"] == ["model.fallback"]
    assert caplog.records
    assert_secret_absent(out, err, trace.read_text(), *(e.to_json() for e in events), caplog.text)
    assert_secret_absent(*(record.getMessage() for record in caplog.records))


def test_the_api_key_is_not_in_the_error_of_a_run_that_fails(
    isolated: Path, upstream: Upstream, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, SECRET)
    upstream.script["keyed-model"] = [Fail(401, "Incorrect API key", echo_auth=True)]
    config = keyed_config(isolated, upstream.url, ["keyed"])
    argv = ["run", "Compare MSFT and AAPL", "--config", str(config), "--joiner", "local", "--trace", str(isolated / "t.jsonl")]
    code = main([*argv, "--json"], models={"local": ScriptedModel([FINISH])})
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("error: ") and "Bearer <api key>" in err
    failed = [Event.from_dict(json.loads(line)) for line in out.splitlines()][-1]
    assert failed.type == "run.failed" and "Bearer <api key>" in failed.data["error"]["message"]
    with pytest.raises(ModelUnavailable) as caught:  # --debug lets the exception itself out
        main([*argv, "--plain", "--debug"], models={"local": ScriptedModel([FINISH])})
    said = "\n".join(traceback.format_exception(caught.value))
    assert "HTTP 401" in said
    out2, err2 = capsys.readouterr()
    assert_secret_absent(out, err, out2, err2, said, (isolated / "t.jsonl").read_text(), caplog.text)


# -- a teacher model on a server writes training examples (reasoner tune --synthesize --teacher) --


async def test_a_served_teacher_writes_questions_and_its_good_runs_become_examples(upstream: Upstream, tmp_path: Path) -> None:
    from reasoner._tune_teacher import teach
    from reasoner.planner._examples import role_samples
    from reasoner.tools import ToolRegistry
    from reasoner.tools.demo import demo_tools

    bad_plan = '{"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"ZZZZ"}}]}'
    upstream.script["teacher-id"] = [
        Reply(json.dumps({"questions": ["Compare MSFT and AAPL closes.", "What is ZZZZ at?"]})),
        Reply(DEMO_PLAN), Reply(FINISH), Reply(DEMO_ANSWER),  # question 1: a good run
        Reply(bad_plan), Reply(FINISH), Reply("ZZZZ is unknown."),  # question 2: its call fails
    ]  # fmt: skip
    (tmp_path / "reasoner.toml").write_text(f'[models.teacher]\nurl = "{upstream.url}"\nmodel = "teacher-id"\n')
    registry = ToolRegistry(demo_tools())
    examples = await teach("teacher", 2, registry, catalog_env={"REASONER_CONFIG": str(tmp_path / "reasoner.toml")})
    assert [e.question for e in examples] == ["Compare MSFT and AAPL closes."]
    [example] = examples
    assert example.plan == json.loads(DEMO_PLAN) and example.answer == DEMO_ANSWER
    assert example.observations is not None and [o.output["close"] for o in example.observations] == [413.62, 248.12]  # type: ignore[index]
    assert example.source == "teacher:teacher"
    assert [s.role for s in role_samples(example, registry)] == ["planner", "joiner", "answerer"]
    assert len(upstream.requests("teacher-id")) == 7
