"""The HTTP server: ``create_app(engine)`` is a Starlette app; ``reasoner serve`` runs it on uvicorn.

Routes (every one but ``/healthz`` and ``/openapi.json`` needs ``Authorization: Bearer
<key>`` when keys are configured):

- ``POST /v1/reason`` ``{query, tools?, output_schema?, budget?, stream?}``: one JSON
  result, or with ``stream: true`` the run's events as Server-Sent Events (see
  ``reasoner._server_sse`` for the framing; the last engine event is ``run.completed`` or
  ``run.failed``, then ``event: done``).
- ``GET /v1/reason/{run_id}/events``: replay a recent run's events; with ``Last-Event-ID:
  <run_id>:<seq>`` only those after it. A run belongs to its connection (a client that
  leaves cancels it), so replay serves runs that ended: completed, failed or cancelled.
- ``POST /v1/chat/completions``: OpenAI-compatible (see ``reasoner._server_openai`` for
  the ``reasoner`` extension field that carries plan and tool activity).
- ``GET /v1/models``, ``GET /v1/tools``, ``GET /healthz``, ``GET /openapi.json``.

Errors are JSON ``{"error": {"type", "message", "param", "code"}}``: 401 missing or wrong
key, 404 unknown model (``model_not_found``) or route, 413 body or query too long, 422
malformed JSON, invalid field, unknown tool, invalid output schema, 429 when
``max_concurrent_runs`` runs are in flight (with ``Retry-After``), 500 a failed run
(``x-should-retry: false``: the SDK does not repeat it). No response carries a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reasoner import __version__
from reasoner._roles import Budget
from reasoner._server_checks import BearerAuth, check_budget, check_output, check_query, check_tools, read_body
from reasoner._server_errors import HTTPProblem, problem_response
from reasoner._server_openai import (
    ChatStream,
    chat_completion,
    chat_query,
    failure_problem,
    models_list,
)
from reasoner._server_openapi import openapi_document
from reasoner._server_runs import (
    RunGate,
    RunSpec,
    Status,
    TraceStore,
    pump,
    status_of,
    summarize,
)
from reasoner._server_schemas import (
    ChatRequest,
    ReasonRequest,
)
from reasoner._server_sse import (
    CollectedRun,
    RunTask,
    StreamedRun,
    event_frame,
    frame,
    json_response,
    to_json,
)
from reasoner.errors import UsageError
from reasoner.events import Event

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

    from reasoner._engine import Engine
    from reasoner.models import Model

__all__ = ["ServerConfig", "add_serve_arguments", "create_app", "serve_engine", "serve_main"]

logger = logging.getLogger("reasoner.server")
_PUBLIC = frozenset({"/healthz", "/openapi.json"})


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

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_query_chars", "max_concurrent_runs", "retry_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"create_app({name}={value!r}) must be an integer >= 1")
        if isinstance(self.trace_store_runs, bool) or not isinstance(self.trace_store_runs, int) or self.trace_store_runs < 0:
            raise UsageError(f"create_app(trace_store_runs={self.trace_store_runs!r}) must be an integer >= 0 (0 keeps none)")
        if isinstance(self.keepalive_s, bool) or not isinstance(self.keepalive_s, int | float) or not self.keepalive_s > 0:
            raise UsageError(f"create_app(keepalive_s={self.keepalive_s!r}) must be a number of seconds > 0")
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
        self.store = TraceStore(config.trace_store_runs)
        self.created = int(time.time())
        self.openapi = openapi_document(title="reasoner", version=__version__, auth=bool(config.api_keys))

    def _start(self, spec: RunSpec) -> RunTask:
        self.gate.acquire()
        try:
            engine = self.engines.for_run()
        except BaseException:
            self.gate.release()
            raise
        return partial(pump, engine, spec, store=self.store)

    async def reason(self, request: Request) -> Response | StreamedRun | CollectedRun:
        body = await read_body(request, ReasonRequest, self.config.max_body_bytes)
        check_query(body.query, self.config.max_query_chars, "query")
        spec = RunSpec(
            query=body.query,
            output=check_output(body.output_schema, "output_schema"),
            budget=check_budget(body.budget, self.config.max_budget, "budget"),
            tools=self._tools(body.tools, "tools"),
        )
        run = self._start(spec)
        if body.stream:
            return StreamedRun(run, _ReasonRenderer(), keepalive_s=self.config.keepalive_s, on_close=self.gate.release)

        def finish(events: list[Event]) -> Response:
            summary = summarize(events)
            if summary["status"] != "completed":
                return problem_response(failure_problem(events))
            return json_response(summary)

        return CollectedRun(run, finish, on_close=self.gate.release)

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
            if rid != run_id or not seq.isdigit():
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
        body = await read_body(request, ChatRequest, self.config.max_body_bytes)
        known = self._model_names()
        if body.model not in known:
            raise HTTPProblem(
                404,
                f"the model {body.model!r} does not exist here; this server serves {', '.join(known)}",
                param="model",
                code="model_not_found",
            )
        query = chat_query(body.messages)
        check_query(query, self.config.max_query_chars, "messages")
        schema = None
        fmt = body.response_format
        if fmt is not None and fmt.type == "json_schema":
            if fmt.json_schema is None:
                raise HTTPProblem(
                    422, "response_format.json_schema is required when type is 'json_schema'", param="response_format.json_schema"
                )
            schema = fmt.json_schema.json_schema
        elif fmt is not None and fmt.type == "json_object":
            schema = {"type": "object"}
        ext = body.reasoner
        spec = RunSpec(
            query=query,
            output=check_output(schema, "response_format.json_schema.schema"),
            budget=check_budget(ext.budget if ext else None, self.config.max_budget, "reasoner.budget"),
            tools=self._tools(ext.tools if ext else None, "reasoner.tools"),
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
) -> Starlette:
    """The HTTP API over ``engine`` as a Starlette (ASGI) app; see the module docstring for the routes.

    Args:
        engine: an :class:`~reasoner.Engine`, shared by every run (an engine runs many
            concurrent runs), or a function returning one, called for each run (and once
            here, to list the tools and models).
        api_keys: bearer keys; with none, no key is asked for (bind to loopback then).
        max_body_bytes: larger request bodies get 413.
        max_query_chars: longer queries (for chat: the conversation as one query) get 413.
        max_concurrent_runs: runs in flight at once; one more gets 429 with ``Retry-After``.
        cors_origins: origins allowed by CORS (``"*"`` for any); none: CORS is off.
        keepalive_s: seconds between ``: keep-alive`` comments on an idle event stream.
        engine_name: the model id that names the engine in ``/v1/models`` and chat requests.
        max_budget: per-request budgets above it get 422 (``None``: no cap).
        retry_after_s: the ``Retry-After`` sent with 429.
        trace_store_runs: finished runs kept for replay (0: none).

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
    )
    api = _Api(_Engines(engine), config)
    routes = [
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/openapi.json", api.openapi_json, methods=["GET"]),
        Route("/v1/reason", api.reason, methods=["POST"]),
        Route("/v1/reason/{run_id}/events", api.replay, methods=["GET"]),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/tools", api.tools, methods=["GET"]),
    ]
    middleware = []
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
    )
    app.state.config = config
    return app


# -- reasoner serve --------------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``reasoner serve``."""
    from reasoner._cli_load import add_tool_options
    from reasoner._cli_roles import add_model_options

    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    net.add_argument("--port", type=int, default=8000, help="port to bind (default: 8000)")
    net.add_argument(
        "--api-key",
        action="append",
        metavar="KEY",
        help="accept this bearer key (repeatable; also $REASONER_API_KEYS, comma-separated); none: no auth",
    )
    net.add_argument(
        "--cors-origin", action="append", metavar="ORIGIN", help="allow this browser origin (repeatable; default: CORS off)"
    )
    add_model_options(parser)
    parser.add_argument("--engine-name", default="reasoner", help="the model id clients ask for (default: reasoner)")
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-body-bytes", type=int, default=1_000_000, metavar="N", help="largest request body (default: 1000000)"
    )
    limits.add_argument("--max-query-chars", type=int, default=8_000, metavar="N", help="longest query (default: 8000)")
    limits.add_argument(
        "--max-concurrent-runs", type=int, default=32, metavar="N", help="runs at once; more get 429 (default: 32)"
    )
    limits.add_argument("--max-iterations", type=int, metavar="N", help="plans per run at most (default and cap; default 3)")
    limits.add_argument(
        "--max-tokens", type=int, metavar="N", help="model tokens per run at most (default and cap; default 32000)"
    )
    limits.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="wall time per run at most (default and cap; default 300)"
    )
    limits.add_argument("--keepalive", type=float, default=15.0, metavar="SECONDS", help="SSE keep-alive interval (default: 15)")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"], help="uvicorn log level"
    )
    add_tool_options(parser)


def serve_engine(args: argparse.Namespace, env: Mapping[str, str], models: Mapping[str, Model] | None = None) -> Engine:
    """The engine ``reasoner serve`` runs: the tools and models the options name, with the
    library's default planner prompt (``models`` are injected by tests, as for the CLI)."""
    from reasoner._cli_load import build_registry
    from reasoner._cli_roles import resolve_roles
    from reasoner._engine import Engine

    limits = {"iterations": args.max_iterations, "tokens": args.max_tokens, "seconds": args.timeout}
    budget = Budget(**{k: v for k, v in limits.items() if v is not None})
    roles = resolve_roles(args, env, models or {})
    return Engine(
        tools=build_registry(args, env),
        planner=roles.planner,
        joiner=roles.joiner,
        answerer=roles.answerer,
        catalog=roles.catalog,
        budget=budget,
    )


def serve_main(args: argparse.Namespace) -> int:
    """Run ``reasoner serve`` with parsed ``args`` (see :func:`add_serve_arguments`) until interrupted.

    Raises:
        UsageError: a bad option (the message names it); ``CliError`` for a bad ``--tools``.
    """
    import uvicorn

    from reasoner._cli_common import split_names

    env = os.environ
    keys = [*(args.api_key or ()), *split_names([env.get("REASONER_API_KEYS", "")])]
    engine = serve_engine(args, env)
    budget = engine.budget
    app = create_app(
        engine,
        api_keys=keys,
        max_body_bytes=args.max_body_bytes,
        max_query_chars=args.max_query_chars,
        max_concurrent_runs=args.max_concurrent_runs,
        cors_origins=args.cors_origin or (),
        keepalive_s=args.keepalive,
        engine_name=args.engine_name,
        max_budget=budget,
    )
    if not keys and args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s with no API key: anyone who can reach it may run the engine (pass --api-key)", args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
