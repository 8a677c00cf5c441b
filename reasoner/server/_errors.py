"""HTTP errors of the server, in OpenAI's shape: ``{"error": {"type", "message", "param", "code"}}``.

Every error response the server sends is built here, so none carries a stack trace: the
message is ours (or a reasoner error's, which says what went wrong and how to fix it),
and anything unexpected is logged server-side and answered with a generic message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from reasoner.errors import UsageError

__all__ = ["HTTPProblem", "from_validation_error", "problem_response"]

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    403: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class HTTPProblem(UsageError):
    """A request the server refuses (4xx) or a run that failed (5xx), ready to be sent.

    Attributes:
        status: the HTTP status code.
        message: what was wrong and how to fix it.
        param: the request field at fault (dotted path), when there is one.
        code: a short machine-readable code (``"model_not_found"``, ``"invalid_api_key"``).
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message, "param": self.param, "code": self.code}, **self.extra}


def problem_response(problem: HTTPProblem) -> JSONResponse:
    """The JSON response for ``problem``."""
    return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)


def _loc(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts)


def from_validation_error(exc: ValidationError, *, prefix: str = "") -> HTTPProblem:
    """A 422 naming the first invalid field in ``param`` and every problem in the message."""
    errors = exc.errors(include_url=False, include_input=False)
    shown = []
    for err in errors[:5]:
        where = _loc(tuple(err["loc"]), prefix) or "body"
        shown.append(f"{where}: {err['msg']}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    first = _loc(tuple(errors[0]["loc"]), prefix) if errors else None
    return HTTPProblem(422, "invalid request: " + "; ".join(shown) + more, param=first or None, code="invalid_request")
