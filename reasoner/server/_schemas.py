"""Request bodies of the HTTP API (pydantic, ``extra="forbid"``) and the raw-JSON-Schema output type.

``/v1/reason`` takes :class:`ReasonRequest`; ``/v1/chat/completions`` takes
:class:`ChatRequest`, OpenAI's request with the sampling knobs accepted and ignored (each
role model has its own generation options) and one extension, ``reasoner``
(:class:`ReasonerOptions`: a tool subset and a budget), which the ``openai`` SDK sends
with ``extra_body={"reasoner": {...}}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import UsageError

__all__ = [
    "ApprovalAnswer",
    "BudgetIn",
    "ChatMessage",
    "ChatRequest",
    "FeedbackRequest",
    "JSONSchemaFormat",
    "PlanRequest",
    "PlanRunRequest",
    "ReasonRequest",
    "ReasonerOptions",
    "ResponseFormat",
    "StreamOptions",
    "TextPart",
    "schema_problem",
]

_STRICT = ConfigDict(extra="forbid", strict=True)


class BudgetIn(BaseModel):
    """Per-request limits; a field left out keeps the engine's default."""

    model_config = _STRICT
    iterations: int | None = Field(None, ge=1, le=1_000_000, description="plans at most (the first plan and each replan)")
    tokens: int | None = Field(None, ge=1, le=10**15, description="prompt plus completion tokens over every model call")
    seconds: float | None = Field(None, gt=0, le=10**9, allow_inf_nan=False, description="wall time of the whole run")


class ReasonRequest(BaseModel):
    """``POST /v1/reason``."""

    model_config = _STRICT
    query: str = Field(min_length=1, description="the question")
    tools: list[str] | None = Field(None, description="names of registered tools the run may use (default: all)")
    output_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema (Draft 2020-12) the answer must match; the answer is then JSON"
    )
    budget: BudgetIn | None = None
    stream: bool = Field(False, description="Server-Sent Events instead of one JSON result")


class PlanRequest(BaseModel):
    """``POST /v1/plans``: plan a question without running anything."""

    model_config = _STRICT
    query: str = Field(min_length=1, description="the question")


class PlanRunRequest(BaseModel):
    """``POST /v1/plans/run``: answer ``query`` running ``plan`` (reviewed or edited) as the first plan."""

    model_config = _STRICT
    query: str = Field(min_length=1, description="the question the plan answers")
    plan: dict[str, Any] = Field(description='the plan, {"nodes": [...]}, as /v1/plans returned it or edited')
    output_schema: dict[str, Any] | None = Field(None, description="JSON Schema the answer must match")
    budget: BudgetIn | None = None
    stream: bool = Field(False, description="Server-Sent Events instead of one JSON result")


class ApprovalAnswer(BaseModel):
    """``POST /v1/runs/{run_id}/approvals/{approval_id}``."""

    model_config = _STRICT
    decision: Literal["approve", "deny", "edit"]
    reason: str | None = Field(None, max_length=2000, description="why it is denied (the planner reads it)")
    args: dict[str, Any] | None = Field(None, description="with edit: the arguments to call the tool with")


class FeedbackRequest(BaseModel):
    """``POST /v1/runs/{run_id}/feedback``: at least one field."""

    model_config = _STRICT
    rating: Literal["good", "bad"] | None = Field(None, description="good: the run is an example to learn from as it is")
    answer: str | None = Field(None, min_length=1, max_length=20_000, description="the correct answer")
    plan: dict[str, Any] | None = Field(None, description="the plan that should have run")
    note: str | None = Field(None, max_length=2000)


class TextPart(BaseModel):
    model_config = _STRICT
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = _STRICT
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class JSONSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    json_schema: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = _STRICT
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None


class StreamOptions(BaseModel):
    model_config = _STRICT
    include_usage: bool = False
    include_obfuscation: bool | None = None


class ReasonerOptions(BaseModel):
    """The ``reasoner`` request extension of ``/v1/chat/completions``."""

    model_config = _STRICT
    tools: list[str] | None = Field(None, description="names of registered tools the run may use (default: all)")
    budget: BudgetIn | None = None


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: the query is the last user message (earlier turns become context)."""

    model_config = _STRICT
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    n: Literal[1] | None = None
    # accepted for compatibility and ignored: each role model has its own generation options
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    reasoner: ReasonerOptions | None = None


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` cannot be an answer schema (``None`` when it can); the loop takes the
    schema itself as ``output=``."""
    from reasoner._output import output_schema

    try:
        output_schema(schema)
    except UsageError as exc:
        return str(exc)
    return None

