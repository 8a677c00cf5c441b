"""Checks on a request before a run starts: body size, JSON shape, query length, tools, budget,
output schema, and the bearer key. Each failure is an :class:`HTTPProblem` naming the field."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from reasoner._roles import Budget
from reasoner._server_errors import HTTPProblem, from_validation_error, problem_response
from reasoner._server_schemas import BudgetIn, schema_problem

__all__ = ["BearerAuth", "check_budget", "check_output", "check_query", "check_tools", "read_body"]

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M], limit: int) -> M:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise HTTPProblem(
            413, f"the request body has {int(length)} bytes; this server takes at most {limit}", code="body_too_large"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPProblem(413, f"the request body is over this server's limit of {limit} bytes", code="body_too_large")
    try:
        return model.model_validate_json(bytes(body))
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


def check_budget(given: BudgetIn | None, cap: Budget | None, param: str) -> Budget | None:
    if given is None:
        return None
    values = {k: v for k, v in given.model_dump().items() if v is not None}
    if cap is not None:
        for name, value in values.items():
            if value > getattr(cap, name):
                raise HTTPProblem(
                    422,
                    f"{param}.{name}={value:g} is over this server's limit of {getattr(cap, name):g}",
                    param=f"{param}.{name}",
                    code="budget_too_large",
                )
    # fields left out keep the server's cap (which `reasoner serve` makes the engine's default too)
    return dataclasses.replace(cap or Budget(), **values)


def check_output(schema: dict[str, Any] | None, param: str) -> Any:
    if schema is None:
        return None
    problem = schema_problem(schema)
    if problem is not None:
        raise HTTPProblem(422, f"{param}: {problem}", param=param, code="invalid_schema")
    return schema


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
