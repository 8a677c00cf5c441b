"""The OpenAPI 3.1 document served at ``GET /openapi.json`` (request schemas come from the pydantic models)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from reasoner.server._schemas import ApprovalAnswer, ChatRequest, FeedbackRequest, PlanRequest, PlanRunRequest, ReasonRequest

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string", "description": "what was wrong and how to fix it"},
                "param": {"type": ["string", "null"], "description": "the request field at fault"},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

_SSE_DOC = (
    "With `stream: true`: `text/event-stream`, one SSE event per engine event (DESIGN.md section 5): "
    "`event:` the type, `id:` `<run_id>:<seq>`, `data:` the event JSON `{type, run_id, seq, ts, iteration, node_id?, data}`. "
    "`: keep-alive` comments while idle. The last engine event is `run.completed` or `run.failed`, then "
    '`event: done` with `data: {"run_id", "status", "last_seq"}`. Without streaming: one JSON result '
    "`{run_id, status, answer, plans, outputs, errors, usage, iterations}`."
)

_CHAT_DOC = (
    "OpenAI-compatible. The answer is the assistant content. Each stream chunk (and the non-streamed completion) "
    "has an extension field `reasoner`: in a chunk `{event: <engine event>}` (plan, tool activity, usage: "
    "one chunk per event, in order), in a completion the run summary. `response_format` `json_schema` constrains "
    "the answer (content is then JSON). Request extension `reasoner: {tools?, budget?}` (SDK: `extra_body`). "
    "Sampling parameters are accepted and ignored: each role model has its own."
)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        401: "missing or wrong API key",
        404: "unknown model, run or approval",
        409: "approval already answered, or the run is still running",
        413: "body or query too long",
        422: "malformed JSON, invalid field, unknown tool, invalid schema",
        429: "too many concurrent runs (see Retry-After)",
        500: "the run failed",
    }
    return {str(c): {"description": text[c], "content": _json({"$ref": "#/components/schemas/Error"})} for c in codes}


def _post(
    summary: str, body: str, ok: str, errors: tuple[int, ...], secured: dict[str, Any], params: tuple[str, ...] = ()
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "requestBody": {"required": True, "content": _json({"$ref": f"#/components/schemas/{body}"})},
        "responses": {"200": {"description": ok, "content": _json({"type": "object"})}, **_errors(*errors)},
        **secured,
    }
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
    return {"post": op}


def openapi_document(*, title: str, version: str, auth: bool) -> dict[str, Any]:
    """The API description; ``auth`` adds the bearer scheme to every route but ``/healthz``."""
    _, defs = models_json_schema(
        [(m, "validation") for m in (ReasonRequest, ChatRequest, PlanRequest, PlanRunRequest, ApprovalAnswer, FeedbackRequest)],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = _ERROR
    secured: dict[str, Any] = {"security": [{"bearer": []}]} if auth else {}
    listing = {"200": {"description": "OK", "content": _json({"type": "object"})}}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {"summary": "Liveness", "responses": {"200": {"description": "alive", "content": _json({"type": "object"})}}}
        },
        "/v1/reason": {
            "post": {
                "summary": "Run the reasoning loop on a question",
                "description": _SSE_DOC,
                "requestBody": {"required": True, "content": _json({"$ref": "#/components/schemas/ReasonRequest"})},
                "responses": {
                    "200": {
                        "description": "the result, or its event stream",
                        "content": {**_json({"type": "object"}), "text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 413, 422, 429, 500),
                },
                **secured,
            }
        },
        "/v1/reason/{run_id}/events": {
            "get": {
                "summary": "Replay a finished run's events",
                "description": "The events of a recent run as SSE; with `Last-Event-ID: <run_id>:<seq>` only those after "
                "it, then `event: done`. The server keeps the last runs in memory (bounded).",
                "parameters": [
                    {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "events", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                    **_errors(401, 404),
                },
                **secured,
            }
        },
        "/v1/chat/completions": {
            "post": {
                "summary": "OpenAI-compatible chat completion",
                "description": _CHAT_DOC,
                "requestBody": {"required": True, "content": _json({"$ref": "#/components/schemas/ChatRequest"})},
                "responses": {
                    "200": {
                        "description": "chat.completion, or chat.completion.chunk events",
                        "content": {**_json({"type": "object"}), "text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 404, 413, 422, 429, 500),
                },
                **secured,
            }
        },
        "/v1/plans": _post("Plan a question without running anything", "PlanRequest", "the explained plan: "
                           "{plan, critical_path, critical_path_cost, levels, physical, retrieved, text}", (401, 413, 422, 429, 500), secured),
        "/v1/plans/run": _post("Answer a question running a given (reviewed or edited) plan first", "PlanRunRequest",
                               "as /v1/reason: the result, or its event stream", (401, 413, 422, 429, 500), secured),
        "/v1/runs/{run_id}/approvals/{approval_id}": _post(
            "Answer an approval.requested event of a streamed run: approve, deny (reason) or edit (args)", "ApprovalAnswer",
            "{run_id, approval_id, decision}", (401, 404, 409, 422), secured, params=("run_id", "approval_id")),
        "/v1/runs/{run_id}/feedback": _post(
            "Feedback on a finished run: rating good/bad, a corrected answer or plan, a note", "FeedbackRequest",
            "{run_id, seq, feedback}", (401, 404, 409, 422), secured, params=("run_id",)),
        "/v1/models": {"get": {"summary": "The engine and its role models", "responses": {**listing, **_errors(401)}, **secured}},
        "/v1/tools": {
            "get": {"summary": "The tool registry (names and JSON Schemas)", "responses": {**listing, **_errors(401)}, **secured}
        },
    }
    components: dict[str, Any] = {"schemas": schemas}
    if auth:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths, "components": components}
