"""Checks on a request before a run starts: body size and type, JSON shape, query length,
tools, budget, output schema, the bearer key, and the Host and Origin headers. Each failure
is an :class:`HTTPProblem` naming the field."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Sequence
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from reasoner._roles import Budget
from reasoner.grammars._jsonschema import SchemaLimits, SchemaProblem, check_schema, check_size
from reasoner.server._errors import HTTPProblem, from_validation_error, problem_response
from reasoner.server._schemas import BudgetIn, schema_problem
from reasoner.tools._jsonschema import RecursiveSchema, inline_refs

__all__ = [
    "BearerAuth",
    "RequestGuard",
    "budget_cap",
    "check_budget",
    "check_output",
    "check_query",
    "check_tools",
    "host_name",
    "read_body",
]

M = TypeVar("M", bound=BaseModel)
_PARSE_INLINE_BYTES = 64 * 1024
# one schema check at a time: a check holds the GIL, and the event loop must keep answering
_SCHEMA_CHECKS = anyio.CapacityLimiter(1)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, model: type[M], limit: int, timeout_s: float = 30.0) -> M:
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        # a web page can POST text/plain or a form cross-site without asking (no CORS
        # preflight); JSON needs one, which this server answers only for --cors-origin
        raise HTTPProblem(
            415,
            f"the request body must be JSON, sent with Content-Type: application/json (got {content_type or 'none'!r})",
            code="unsupported_media_type",
        )
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise HTTPProblem(
            413, f"the request body has {int(length)} bytes; this server takes at most {limit}", code="body_too_large"
        )
    body = bytearray()
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise HTTPProblem(413, f"the request body is over this server's limit of {limit} bytes", code="body_too_large")
    except TimeoutError:
        raise HTTPProblem(
            408, f"the request body did not arrive within {timeout_s:g} s", code="request_timeout", headers={"Connection": "close"}
        ) from None
    try:
        if len(body) <= _PARSE_INLINE_BYTES:
            return model.model_validate_json(bytes(body))
        # a large body takes tens of milliseconds to parse: not on the event loop
        return await anyio.to_thread.run_sync(model.model_validate_json, bytes(body))
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def check_query(query: str, limit: int, param: str) -> None:
    if len(query) > limit:
        raise HTTPProblem(
            413, f"the query has {len(query)} characters; this server takes at most {limit}", param=param, code="query_too_long"
        )


def check_tools(names: list[str] | None, known: list[str], *, can_limit: bool, param: str) -> tuple[str, ...] | None:
    if names is None:
        return None
    for name in names:
        if name not in known:
            have = ", ".join(known) if known else "no tools"
            raise HTTPProblem(
                422, f"unknown tool {name!r}; this server has {have} (GET /v1/tools lists them)", param=param, code="unknown_tool"
            )
    if not can_limit:
        raise HTTPProblem(
            422,
            f"this engine cannot limit a run to some of its tools (its stream() takes no tools=); leave {param} out",
            param=param,
            code="unsupported",
        )
    return tuple(dict.fromkeys(names))


def check_budget(given: BudgetIn | None, cap: Budget, param: str) -> Budget | None:
    """The run's budget: each field given must be within ``cap`` (the engine's budget, lowered
    by the server's ``max_budget``), and each field left out is the cap's."""
    if given is None:
        return None
    values = {k: v for k, v in given.model_dump().items() if v is not None}
    for name, value in values.items():
        if value > getattr(cap, name):
            raise HTTPProblem(
                422,
                f"{param}.{name}={value:g} is over this server's limit of {getattr(cap, name):g}",
                param=f"{param}.{name}",
                code="budget_too_large",
            )
    return dataclasses.replace(cap, **values)


def budget_cap(engine_budget: Budget | None, max_budget: Budget | None) -> Budget:
    """Per field, the smaller of the engine's budget and the server's cap: a client may lower
    a limit, never raise it."""
    base = engine_budget if isinstance(engine_budget, Budget) else Budget()
    if max_budget is None:
        return base
    return Budget(**{n: min(getattr(base, n), getattr(max_budget, n)) for n in ("iterations", "tokens", "seconds")})


async def check_output(schema: dict[str, Any] | None, param: str, *, limits: SchemaLimits, deadline_s: float, strict: bool = False) -> Any:
    """``schema`` (closed to undeclared keys when ``strict``), or 422 unless it can be an
    answer schema. The check runs in a worker thread under ``deadline_s``, after the size,
    depth and expansion limits (all linear time), so a hostile schema neither blocks the
    event loop nor holds a thread for long."""
    if schema is None:
        return None
    from reasoner._output import close_objects

    def check() -> str | None:
        try:
            check_size(schema, limits)
        except SchemaProblem as exc:
            return f"the schema is too large for this server: {exc}"
        try:
            check_schema(schema, limits)
        except SchemaProblem as exc:
            return f"not a valid JSON Schema: {exc}"
        try:
            defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
            body = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
            inline_refs(body, defs, limits=limits, root=schema)
        except SchemaProblem as exc:
            return f"the schema is too large for this server: {exc}"
        except (RecursiveSchema, KeyError, AttributeError, TypeError):
            pass  # named by schema_problem below
        problem = schema_problem(schema)
        if problem is None and strict:
            closed.append(close_objects(schema))
        return problem

    closed: list[Any] = []

    try:
        with anyio.fail_after(deadline_s):
            async with _SCHEMA_CHECKS:
                problem = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    except TimeoutError:
        problem = f"checking it took longer than {deadline_s:g} s; simplify the schema"
    if problem is not None:
        raise HTTPProblem(422, f"{param}: {problem}", param=param, code="invalid_schema")
    return closed[0] if strict else schema


# -- auth ------------------------------------------------------------------------------


class BearerAuth:
    """401 unless ``Authorization: Bearer <key>`` matches a configured key (constant-time)."""

    def __init__(self, app: ASGIApp, keys: Sequence[str], public: frozenset[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]
        self.public = public

    def _allowed(self, given: bytes) -> bool:
        ok = False
        for key in self.keys:  # every key is compared, so timing does not say which one matched
            ok |= hmac.compare_digest(given, key)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if not header:
            problem = HTTPProblem(401, "missing API key: send the header Authorization: Bearer <key>", code="missing_api_key")
        elif scheme.lower() != b"bearer" or not self._allowed(token.strip()):
            problem = HTTPProblem(401, "invalid API key: the bearer key is not one this server accepts", code="invalid_api_key")
        else:
            await self.app(scope, receive, send)
            return
        problem.headers["WWW-Authenticate"] = "Bearer"
        await problem_response(problem)(scope, receive, send)


# -- Host and Origin -------------------------------------------------------------------


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:8000`` -> ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class RequestGuard:
    """400 for a ``Host`` not on the allow-list (a DNS-rebinding page names its own host),
    403 for a browser ``Origin`` that is not an allowed CORS origin. ``"*"`` allows any."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str], origins: Sequence[str]) -> None:
        self.app = app
        self.hosts = {host_name(h) for h in hosts}
        self.any_host = "*" in hosts
        self.origins = {o.rstrip("/").lower() for o in origins}
        self.any_origin = "*" in origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not self.any_host and host_name(host) not in self.hosts:
            problem = HTTPProblem(
                400,
                f"the Host header {host!r} is not one this server answers to ({', '.join(sorted(self.hosts))}); "
                "start it with --allowed-host NAME",
                code="host_not_allowed",
            )
        elif origin and not self.any_origin and origin.rstrip("/").lower() not in self.origins:
            problem = HTTPProblem(
                403,
                f"requests from the web origin {origin!r} are not allowed; start the server with --cors-origin {origin}",
                code="origin_not_allowed",
            )
        else:
            await self.app(scope, receive, send)
            return
        await problem_response(problem)(scope, receive, send)
