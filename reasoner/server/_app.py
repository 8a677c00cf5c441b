"""The HTTP app: ``create_app(engine)`` is a Starlette app; :func:`reasoner.server.serve` runs it on uvicorn.

Routes (every one but ``/healthz`` and ``/openapi.json`` needs ``Authorization: Bearer
<key>`` when keys are configured):

- ``POST /v1/reason`` ``{query, tools?, output_schema?, budget?, stream?}``: one JSON
  result, or with ``stream: true`` the run's events as Server-Sent Events (see
  ``reasoner.server._sse`` for the framing; the last engine event is ``run.completed`` or
  ``run.failed``, then ``event: done``).
- ``GET /v1/reason/{run_id}/events``: replay a recent run's events; with ``Last-Event-ID:
  <run_id>:<seq>`` only those after it. A run belongs to its connection (a client that
  leaves cancels it), so replay serves runs that ended: completed, failed or cancelled.
- ``POST /v1/chat/completions``: OpenAI-compatible (see ``reasoner.server._openai`` for
  the ``reasoner`` extension field that carries plan and tool activity).
- ``POST /v1/plans`` ``{query}``: the plan the planner writes, explained, nothing run.
- ``POST /v1/plans/run`` ``{query, plan, output_schema?, budget?, stream?}``: a run that
  starts with ``plan`` (reviewed, maybe edited) instead of asking the planner.
- ``POST /v1/runs/{run_id}/approvals/{approval_id}`` ``{decision, reason?, args?}``: answer
  an ``approval.requested`` event of a streamed run; ``POST /v1/runs/{run_id}/feedback``
  ``{rating?, answer?, plan?, note?}``: feedback on a finished run (see
  ``reasoner.server._people``).
- ``GET /v1/models``, ``GET /v1/tools``, ``GET /healthz``, ``GET /openapi.json``.

Browsers: request bodies must be ``Content-Type: application/json`` (415 otherwise: a web
page cannot send JSON cross-site without a CORS preflight), the ``Host`` header must name
an allowed host (400 otherwise: DNS rebinding), and a request carrying an ``Origin`` that
is not a configured CORS origin gets 403.

Errors are JSON ``{"error": {"type", "message", "param", "code"}}``: 400 a Host not
allowed, 401 missing or wrong key, 403 a web origin not allowed, 404 unknown model
(``model_not_found``) or route, 408 a body not received within ``body_timeout_s``, 413 body
or query too long, 415 a body that is not JSON, 422 malformed JSON, invalid field, unknown
tool, invalid output schema (malformed, over the size limits, or too slow to check), 409 an
approval already answered or feedback on a run still running, 429 when
``max_concurrent_runs`` runs are in flight (with ``Retry-After``), 500 a failed run
(``x-should-retry: false``: the SDK does not repeat it). No response carries a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reasoner import __version__
from reasoner._feedback import Feedback, feedback_event
from reasoner._roles import Budget
from reasoner.errors import PlanError, ReasonerError, UsageError
from reasoner.events import Event
from reasoner.grammars._jsonschema import SchemaLimits
from reasoner.server._checks import (
    BearerAuth,
    RequestGuard,
    budget_cap,
    check_budget,
    check_output,
    check_query,
    check_tools,
    read_body,
)
from reasoner.server._errors import HTTPProblem, problem_response
from reasoner.server._openai import (
    ChatStream,
    chat_completion,
    chat_query,
    failure_problem,
    models_list,
)
from reasoner.server._openapi import openapi_document
from reasoner.server._people import ApprovalDesk, ApprovalPolicy, unattended_approver
from reasoner.server._runs import (
    RunGate,
    RunSpec,
    Status,
    TraceStore,
    public_text,
    pump,
    status_of,
    summarize,
)
from reasoner.server._schemas import (
    ApprovalAnswer,
    ChatRequest,
    FeedbackRequest,
    PlanRequest,
    PlanRunRequest,
    ReasonRequest,
)
from reasoner.server._sse import (
    CollectedRun,
    RunTask,
    StreamedRun,
    event_frame,
    frame,
    json_response,
    to_json,
)

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

    from reasoner._engine import Engine

__all__ = ["LOOPBACK_HOSTS", "ServerConfig", "create_app"]

logger = logging.getLogger("reasoner.server")
_PUBLIC = frozenset({"/healthz", "/openapi.json"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# client schemas: well above real answer schemas, well below what takes a second to check
CLIENT_SCHEMA_LIMITS = SchemaLimits(max_nodes=20_000, max_depth=64, max_expanded=20_000)


@dataclasses.dataclass(frozen=True, slots=True)
class ServerConfig:
    """The server's limits and switches (see :func:`create_app`)."""

    api_keys: tuple[str, ...] = ()
    max_body_bytes: int = 1_000_000
    max_query_chars: int = 8_000
    max_concurrent_runs: int = 32
    cors_origins: tuple[str, ...] = ()
    keepalive_s: float = 15.0
    engine_name: str = "reasoner"
    max_budget: Budget | None = None
    retry_after_s: int = 1
    trace_store_runs: int = 256
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    schema_limits: SchemaLimits = CLIENT_SCHEMA_LIMITS
    schema_check_s: float = 2.0
    body_timeout_s: float = 30.0
    approvals: ApprovalPolicy = "refuse"
    approval_timeout_s: float = 300.0
    runs_dir: Path | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_query_chars", "max_concurrent_runs", "retry_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"create_app({name}={value!r}) must be an integer >= 1")
        if isinstance(self.trace_store_runs, bool) or not isinstance(self.trace_store_runs, int) or self.trace_store_runs < 0:
            raise UsageError(f"create_app(trace_store_runs={self.trace_store_runs!r}) must be an integer >= 0 (0 keeps none)")
        if self.approvals not in ("refuse", "approve", "engine"):
            raise UsageError(f"create_app(approvals={self.approvals!r}) must be 'refuse', 'approve' or 'engine'")
        for name in ("keepalive_s", "schema_check_s", "body_timeout_s", "approval_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise UsageError(f"create_app({name}={value!r}) must be a number of seconds > 0")
        if not self.allowed_hosts or not all(isinstance(h, str) and h for h in self.allowed_hosts):
            raise UsageError("create_app(allowed_hosts=...) must list host names (or '*' for any)")
        if not isinstance(self.schema_limits, SchemaLimits):
            raise UsageError(f"create_app(schema_limits=...) must be a SchemaLimits, got {type(self.schema_limits).__name__}")
        for key in self.api_keys:
            if not isinstance(key, str) or not key or not key.isascii() or any(c.isspace() for c in key):
                raise UsageError("create_app(api_keys=...): every key must be a non-empty ASCII string without spaces")
        if not self.engine_name:
            raise UsageError("create_app(engine_name=...) must not be empty")


# -- the engine ------------------------------------------------------------------------


class _Engines:
    """One shared engine, or a factory called once per run (and once up front to describe it)."""

    def __init__(self, engine: Engine | Callable[[], Engine]) -> None:
        if callable(getattr(engine, "stream", None)):
            self._shared: Engine | None = engine  # type: ignore[assignment]
            self.probe: Engine = engine  # type: ignore[assignment]
            self._factory: Callable[[], Engine] | None = None
        elif callable(engine):
            self._shared = None
            self._factory = engine
            self.probe = engine()
        else:
            raise UsageError(f"create_app(engine) takes an Engine or a function returning one, got {type(engine).__name__}")

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """While the app runs, a shared engine is open (``async with``): its remote models
        keep one connection pool per endpoint across runs. Engines a factory makes are not."""
        if self._shared is None or not callable(getattr(self._shared, "__aenter__", None)):
            yield
            return
        async with self._shared:
            yield

    def for_run(self) -> Engine:
        return self._shared if self._shared is not None else self._factory()  # type: ignore[misc]

    def tool_names(self) -> list[str]:
        return list(self.probe.tools.names())

    def roles(self) -> dict[str, list[str]]:
        return {role: list(self.probe.role_models(role)) for role in ("planner", "joiner", "answerer")}

    def can_limit_tools(self) -> bool:
        return "tools" in inspect.signature(self.probe.stream).parameters


# -- the app ---------------------------------------------------------------------------


class _ReasonRenderer:
    def __init__(self, status: Status | None = None) -> None:
        self._events: list[Event] = []
        self._status = status

    def event(self, event: Event) -> list[bytes]:
        self._events.append(event)
        return [event_frame(event)]

    def end(self) -> list[bytes]:
        last = self._events[-1] if self._events else None
        done = {
            "run_id": last.run_id if last else None,
            "status": self._status or status_of(self._events),
            "last_seq": last.seq if last else None,
        }
        return [frame(to_json(done), event="done")]


class _Api:
    def __init__(self, engines: _Engines, config: ServerConfig) -> None:
        self.engines = engines
        self.config = config
        self.gate = RunGate(config.max_concurrent_runs, config.retry_after_s)
        self.store = TraceStore(config.trace_store_runs, config.runs_dir)
        self.desk = ApprovalDesk(config.approval_timeout_s)
        self.created = int(time.time())
        self.openapi = openapi_document(title="reasoner", version=__version__, auth=bool(config.api_keys))
        # a client's budget may lower the engine's limits, never raise them
        self.budget_cap = budget_cap(getattr(engines.probe, "budget", None), config.max_budget)

    def _start(self, spec: RunSpec) -> RunTask:
        self.gate.acquire()
        try:
            engine = self.engines.for_run()
        except BaseException:
            self.gate.release()
            raise
        return partial(pump, engine, spec, store=self.store, desk=self.desk)

    async def reason(self, request: Request) -> Response | StreamedRun | CollectedRun:
        body = await read_body(request, ReasonRequest, self.config.max_body_bytes, self.config.body_timeout_s)
        check_query(body.query, self.config.max_query_chars, "query")
        spec = RunSpec(
            query=body.query,
            output=await self._output(body.output_schema, "output_schema"),
            budget=check_budget(body.budget, self.budget_cap, "budget"),
            tools=self._tools(body.tools, "tools"),
            asks=body.stream,
            approve=None if body.stream else unattended_approver(self.config.approvals, "a non-streamed /v1/reason"),
        )
        return self._respond(spec, body.stream)

    def _respond(self, spec: RunSpec, stream: bool) -> StreamedRun | CollectedRun:
        run = self._start(spec)
        if stream:
            return StreamedRun(run, _ReasonRenderer(), keepalive_s=self.config.keepalive_s, on_close=self.gate.release)

        def finish(events: list[Event]) -> Response:
            summary = summarize(events)
            if summary["status"] != "completed":
                return problem_response(failure_problem(events))
            return json_response(summary)

        return CollectedRun(run, finish, on_close=self.gate.release)

    async def plans(self, request: Request) -> Response:
        body = await read_body(request, PlanRequest, self.config.max_body_bytes, self.config.body_timeout_s)
        check_query(body.query, self.config.max_query_chars, "query")
        self.gate.acquire()  # planning runs the planner model: it counts as a run
        try:
            x = await self.engines.for_run().explain(body.query)
        except UsageError as exc:
            raise HTTPProblem(422, str(exc), param="query") from None
        except (ReasonerError, TimeoutError) as exc:
            raise HTTPProblem(500, f"planning failed: {public_text(str(exc))}", code="plan_failed", headers={"x-should-retry": "false"}) from None
        finally:
            self.gate.release()
        return json_response(x.to_dict())

    async def plans_run(self, request: Request) -> Response | StreamedRun | CollectedRun:
        body = await read_body(request, PlanRunRequest, self.config.max_body_bytes, self.config.body_timeout_s)
        check_query(body.query, self.config.max_query_chars, "query")
        try:
            await self.engines.probe.explain(plan=body.plan)  # validated before anything runs
        except (PlanError, UsageError) as exc:
            raise HTTPProblem(422, f"the plan does not fit this server's tools: {exc}", param="plan") from None
        spec = RunSpec(
            query=body.query,
            output=await self._output(body.output_schema, "output_schema"),
            budget=check_budget(body.budget, self.budget_cap, "budget"),
            plan=body.plan,
            asks=body.stream,
            approve=None if body.stream else unattended_approver(self.config.approvals, "a non-streamed /v1/plans/run"),
        )
        return self._respond(spec, body.stream)

    async def approval(self, request: Request) -> Response:
        body = await read_body(request, ApprovalAnswer, self.config.max_body_bytes, self.config.body_timeout_s)
        run_id, approval_id = request.path_params["run_id"], request.path_params["approval_id"]
        decision = self.desk.answer(run_id, approval_id, body)
        return json_response({"run_id": run_id, "approval_id": approval_id, "decision": decision.type})

    async def feedback(self, request: Request) -> Response:
        body = await read_body(request, FeedbackRequest, self.config.max_body_bytes, self.config.body_timeout_s)
        run_id = request.path_params["run_id"]
        if self.desk.is_running(run_id):
            raise HTTPProblem(409, f"run {run_id} is still running: give feedback once it has finished", param="run_id", code="run_in_flight")
        events = self.store.events(run_id)
        if events is None:
            raise HTTPProblem(404, f"no finished run {run_id!r} is kept here", param="run_id", code="run_not_found")
        if body.plan is not None:
            try:
                await self.engines.probe.explain(plan=body.plan)
            except (PlanError, UsageError) as exc:
                raise HTTPProblem(422, f"the corrected plan does not fit this server's tools: {exc}", param="plan") from None
        try:
            feedback = Feedback(rating=body.rating, answer=body.answer, plan=body.plan, note=body.note)
        except UsageError as exc:
            raise HTTPProblem(422, str(exc)) from None
        event = feedback_event(events, feedback)
        self.store.add(run_id, event)
        return json_response({"run_id": run_id, "seq": event.seq, "feedback": event.data})

    async def replay(self, request: Request) -> Response | StreamedRun:
        run_id = request.path_params["run_id"]
        stored = self.store.get(run_id)
        if stored is None:
            raise HTTPProblem(
                404,
                f"no finished run {run_id!r} is kept here (the server keeps the last {self.config.trace_store_runs})",
                param="run_id",
                code="run_not_found",
            )
        after = -1
        last_id = request.headers.get("last-event-id")
        if last_id:
            rid, _, seq = last_id.rpartition(":")
            if rid != run_id or not (seq.isascii() and seq.isdigit()):
                raise HTTPProblem(
                    422,
                    f"Last-Event-ID {last_id!r} is not an id of run {run_id} (the form is {run_id}:<seq>)",
                    param="Last-Event-ID",
                )
            after = int(seq)
        events = [e for e in stored.events if e.seq > after]

        async def send(out: MemoryObjectSendStream[Event]) -> None:
            async with out:
                for event in events:
                    await out.send(event)

        renderer = _ReasonRenderer(stored.status)
        return StreamedRun(send, renderer, keepalive_s=self.config.keepalive_s, on_close=lambda: None)

    async def chat(self, request: Request) -> Response | StreamedRun | CollectedRun:
        body = await read_body(request, ChatRequest, self.config.max_body_bytes, self.config.body_timeout_s)
        known = self._model_names()
        if body.model not in known:
            raise HTTPProblem(
                404,
                f"the model {body.model!r} does not exist here; this server serves {', '.join(known)}",
                param="model",
                code="model_not_found",
            )
        query = chat_query(body.messages)
        check_query(query if isinstance(query, str) else "\n".join(m.content for m in query), self.config.max_query_chars, "messages")
        schema, strict = None, False
        fmt = body.response_format
        if fmt is not None and fmt.type == "json_schema":
            if fmt.json_schema is None:
                raise HTTPProblem(
                    422, "response_format.json_schema is required when type is 'json_schema'", param="response_format.json_schema"
                )
            schema = fmt.json_schema.json_schema
            strict = bool(fmt.json_schema.strict)
        elif fmt is not None and fmt.type == "json_object":
            schema = {"type": "object"}
        ext = body.reasoner
        spec = RunSpec(
            query=query,
            output=await self._output(schema, "response_format.json_schema.schema", strict=strict),
            budget=check_budget(ext.budget if ext else None, self.budget_cap, "reasoner.budget"),
            tools=self._tools(ext.tools if ext else None, "reasoner.tools"),
            approve=unattended_approver(self.config.approvals, "/v1/chat/completions"),
        )
        run = self._start(spec)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            renderer = ChatStream(model=body.model, include_usage=include_usage)
            return StreamedRun(run, renderer, keepalive_s=self.config.keepalive_s, on_close=self.gate.release)

        def finish(events: list[Event]) -> Response:
            try:
                return json_response(chat_completion(events, model=body.model, created=int(time.time())))
            except HTTPProblem as problem:
                return problem_response(problem)

        return CollectedRun(run, finish, on_close=self.gate.release)

    async def _output(self, schema: dict[str, Any] | None, param: str, *, strict: bool = False) -> Any:
        return await check_output(schema, param, limits=self.config.schema_limits, deadline_s=self.config.schema_check_s, strict=strict)

    def _tools(self, names: list[str] | None, param: str) -> tuple[str, ...] | None:
        return check_tools(names, self.engines.tool_names(), can_limit=self.engines.can_limit_tools(), param=param)

    def _model_names(self) -> list[str]:
        names = [self.config.engine_name]
        for role_names in self.engines.roles().values():
            names.extend(n for n in role_names if n not in names)
        return names

    async def models(self, request: Request) -> Response:
        return JSONResponse(models_list(self.config.engine_name, self.engines.roles(), self.created))

    async def tools(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": self.engines.probe.tools.to_json()})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "active_runs": self.gate.active, "max_concurrent_runs": self.gate.limit})

    async def openapi_json(self, request: Request) -> Response:
        return JSONResponse(self.openapi)


async def _on_problem(request: Request, exc: Exception) -> Response:
    return problem_response(cast(HTTPProblem, exc))


async def _on_http(request: Request, exc: Exception) -> Response:
    exc = cast(HTTPException, exc)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = f"{exc.detail}: {request.method} {request.url.path}" + (
        " (GET /openapi.json lists the routes)" if exc.status_code in (404, 405) else ""
    )
    return problem_response(HTTPProblem(exc.status_code, message, code=code, headers=exc.headers))


async def _on_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(HTTPProblem(500, "internal server error; the server log has the details", code="internal_error"))


def create_app(
    engine: Engine | Callable[[], Engine],
    *,
    api_keys: Iterable[str] = (),
    max_body_bytes: int = 1_000_000,
    max_query_chars: int = 8_000,
    max_concurrent_runs: int = 32,
    cors_origins: Iterable[str] = (),
    keepalive_s: float = 15.0,
    engine_name: str = "reasoner",
    max_budget: Budget | None = None,
    retry_after_s: int = 1,
    trace_store_runs: int = 256,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
    schema_limits: SchemaLimits = CLIENT_SCHEMA_LIMITS,
    schema_check_s: float = 2.0,
    body_timeout_s: float = 30.0,
    approvals: ApprovalPolicy = "refuse",
    approval_timeout_s: float = 300.0,
    runs_dir: str | Path | None = None,
) -> Starlette:
    """The HTTP API over ``engine`` as a Starlette (ASGI) app; see the module docstring for the routes.

    Args:
        engine: an :class:`~reasoner.Engine`, shared by every run (an engine runs many
            concurrent runs; the app's lifespan opens it, so its remote models keep their
            connections), or a function returning one, called for each run (and once
            here, to list the tools and models).
        api_keys: bearer keys; with none, no key is asked for (bind to loopback then).
        max_body_bytes: larger request bodies get 413.
        max_query_chars: longer queries (for chat: the conversation as one query) get 413.
        max_concurrent_runs: runs in flight at once; one more gets 429 with ``Retry-After``.
        cors_origins: origins allowed by CORS (``"*"`` for any); none: CORS is off, and
            a request with an ``Origin`` header (a web page's) gets 403.
        keepalive_s: seconds between ``: keep-alive`` comments on an idle event stream.
        engine_name: the model id that names the engine in ``/v1/models`` and chat requests.
        max_budget: a cap on per-request budgets, below the engine's own budget where it is
            lower (``None``: the engine's budget is the cap). A request's budget may lower
            each limit, never raise it (422); the limits it leaves out are the cap's.
        retry_after_s: the ``Retry-After`` sent with 429.
        trace_store_runs: finished runs kept for replay (0: none).
        allowed_hosts: names the ``Host`` header may carry (``"*"``: any); default loopback.
        schema_limits: size, depth and ``$ref`` expansion caps on a client's output schema.
        schema_check_s: deadline for checking one output schema (in a worker thread).
        body_timeout_s: deadline for receiving a request body (408 after it).
        approvals: what a run that cannot ask the client (chat completions, a
            non-streamed run) does with a call that needs approval: ``"refuse"`` (it fails,
            saying how to get it approved), ``"approve"`` (approved) or ``"engine"`` (the
            engine's own approver decides). Streamed runs always ask the client.
        approval_timeout_s: an approval unanswered this long is denied.
        runs_dir: also write every finished trace (and its feedback) there as
            ``RUN_ID.jsonl``, for ``reasoner tune --from-feedback``.

    Raises:
        UsageError: a limit that is not a positive number, a malformed key, or ``engine``
            neither an Engine nor a factory.
    """
    config = ServerConfig(
        api_keys=tuple(api_keys),
        max_body_bytes=max_body_bytes,
        max_query_chars=max_query_chars,
        max_concurrent_runs=max_concurrent_runs,
        cors_origins=tuple(cors_origins),
        keepalive_s=keepalive_s,
        engine_name=engine_name,
        max_budget=max_budget,
        retry_after_s=retry_after_s,
        trace_store_runs=trace_store_runs,
        allowed_hosts=tuple(allowed_hosts),
        schema_limits=schema_limits,
        schema_check_s=schema_check_s,
        body_timeout_s=body_timeout_s,
        approvals=approvals,
        approval_timeout_s=approval_timeout_s,
        runs_dir=Path(runs_dir).expanduser() if runs_dir is not None else None,
    )
    engines = _Engines(engine)
    api = _Api(engines, config)
    routes = [
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/openapi.json", api.openapi_json, methods=["GET"]),
        Route("/v1/reason", api.reason, methods=["POST"]),
        Route("/v1/reason/{run_id}/events", api.replay, methods=["GET"]),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/plans", api.plans, methods=["POST"]),
        Route("/v1/plans/run", api.plans_run, methods=["POST"]),
        Route("/v1/runs/{run_id}/approvals/{approval_id}", api.approval, methods=["POST"]),
        Route("/v1/runs/{run_id}/feedback", api.feedback, methods=["POST"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/tools", api.tools, methods=["GET"]),
    ]
    middleware = [Middleware(RequestGuard, hosts=config.allowed_hosts, origins=config.cors_origins)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=config.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "last-event-id"],
            )
        )
    if config.api_keys:
        middleware.append(Middleware(BearerAuth, keys=config.api_keys, public=_PUBLIC))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPProblem: _on_problem, HTTPException: _on_http, Exception: _on_error},
        lifespan=engines.lifespan,
    )
    app.state.config = config
    return app

