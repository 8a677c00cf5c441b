"""``/v1/chat/completions``: OpenAI's chat shapes over a reasoning run.

The answer is the assistant ``content``. Everything else the run does travels in an
extension field that plain clients ignore (the ``openai`` SDK keeps unknown fields:
``chunk.model_extra["reasoner"]``)::

    {"id": "chatcmpl-<run_id>", "object": "chat.completion.chunk", "created": 1735689600,
     "model": "reasoner",
     "choices": [{"index": 0, "delta": {"content": "..."}, "finish_reason": null}],
     "reasoner": {"event": {"type": "node.started", "run_id": "...", "seq": 5, ...}}}

One chunk per engine event (DESIGN.md section 5), in order, so ``reasoner.event.seq``
counts 0, 1, 2, ...; ``answer.delta`` events also carry their text in ``delta.content``.
The first chunk's delta has ``role: "assistant"``; the ``run.completed`` chunk has
``finish_reason: "stop"``; with ``stream_options.include_usage`` a last chunk with no
choices carries ``usage``; then ``data: [DONE]``. A failed run sends one chunk
``{"error": {...}, "reasoner": {"event": <run.failed>}}`` (the SDK raises ``APIError``)
and ``data: [DONE]``. A non-streamed completion carries ``reasoner: {run_id, status,
plans, outputs, errors, usage (per model), iterations}``.

Content is the answer with leading and trailing whitespace held back (the engine strips
the answer), so the streamed pieces join to exactly the non-streamed content. If the
answerer model fails after it began and a fallback model answers, or a looping answer is
cut, the streamed content restarts: an ``answer.reset`` event in the extension tells an
aware client to discard the content so far (a plain client would show both).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from reasoner.events import Event
from reasoner.models import Message
from reasoner.server._errors import HTTPProblem
from reasoner.server._runs import summarize
from reasoner.server._schemas import ChatMessage
from reasoner.server._sse import event_dict, frame, to_json

__all__ = ["AnswerText", "ChatStream", "chat_completion", "chat_query", "failure_problem", "models_list", "usage_totals"]


def chat_query(messages: Sequence[ChatMessage]) -> str | list[Message]:
    """The run's query: the last message, which must be the user's, after the earlier turns
    (the engine shows them to its models; ``developer`` counts as ``system``)."""
    last = messages[-1]
    if last.role != "user":
        raise HTTPProblem(
            422,
            f"the last message is the {last.role}'s; end the conversation with the user's question",
            param=f"messages[{len(messages) - 1}].role",
        )
    question = last.text()
    if not question.strip():
        raise HTTPProblem(422, "the user's question is empty", param=f"messages[{len(messages) - 1}].content")
    if len(messages) == 1:
        return question
    return [Message("system" if m.role == "developer" else m.role, m.text()) for m in messages]


class AnswerText:
    """Assembles the answer's streamed pieces into content equal to the engine's stripped answer."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._parts: list[str] = []
        self._pending = ""
        self._started = False

    def feed(self, piece: str) -> str:
        """The text to show now for ``piece`` (whitespace at either end is held back)."""
        if not self._started:
            piece = piece.lstrip()
            if not piece:
                return ""
            self._started = True
        body = piece.rstrip()
        if not body:
            self._pending += piece
            return ""
        shown = self._pending + body
        self._pending = piece[len(body) :]
        self._parts.append(shown)
        return shown

    def observe(self, event: Event) -> str:
        """Feed one engine event; returns the content it adds ("" for most events)."""
        if event.type == "answer.delta":
            return self.feed(str(event.data.get("text", "")))
        if event.type == "answer.reset" or (event.type == "model.fallback" and event.data.get("role") == "answerer"):
            self.restart()
        return ""

    @property
    def text(self) -> str:
        return "".join(self._parts)


def usage_totals(per_model: dict[str, Any]) -> dict[str, int]:
    """OpenAI's ``usage`` from the run's per-model usage."""
    prompt = sum(int(u.get("prompt_tokens", 0)) for u in per_model.values() if isinstance(u, dict))
    completion = sum(int(u.get("completion_tokens", 0)) for u in per_model.values() if isinstance(u, dict))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _content(text: AnswerText, answer: Any) -> str:
    if text.text or answer is None:
        return text.text
    return answer if isinstance(answer, str) else to_json(answer)


def failure_problem(events: Sequence[Event]) -> HTTPProblem:
    """The HTTP error for a run that ended with ``run.failed`` (or was never finished)."""
    last = events[-1] if events else None
    error = last.data.get("error", {}) if last is not None and last.type == "run.failed" else {}
    kind = str(error.get("type", "InternalError"))
    message = str(error.get("message", "the run ended without a result"))
    run_id = last.run_id if last is not None else None
    client_side = kind in ("UsageError", "GrammarError")  # a request the engine could not honour
    return HTTPProblem(
        422 if client_side else 500,
        f"run {run_id} failed: {kind}: {message}",
        code=kind,
        type="invalid_request_error" if client_side else "run_failed",
        headers=None if client_side else {"x-should-retry": "false"},  # a failed run is not a transient fault
        extra={"run_id": run_id},
    )


def chat_completion(events: Sequence[Event], *, model: str, created: int) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` for a finished run (raises :class:`HTTPProblem` if it failed)."""
    summary = summarize(events)
    if summary["status"] != "completed":
        raise failure_problem(events)
    text = AnswerText()
    for event in events:
        text.observe(event)
    return {
        "id": f"chatcmpl-{summary['run_id']}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _content(text, summary["answer"]), "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": usage_totals(summary["usage"]),
        "reasoner": summary,
    }


class ChatStream:
    """Renders a run's events as ``chat.completion.chunk`` frames (see the module docstring)."""

    def __init__(self, *, model: str, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())
        self.text = AnswerText()
        self._first = True

    def _chunk(self, event: Event, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": f"chatcmpl-{event.run_id}",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if self.include_usage:
            chunk["usage"] = None
        chunk["reasoner"] = {"event": event_dict(event)}
        return chunk

    def event(self, event: Event) -> list[bytes]:
        if event.type == "run.failed":
            problem = failure_problem([event])
            body = {**problem.body(), "reasoner": {"event": event_dict(event)}}
            return [frame(to_json(body))]
        delta: dict[str, Any] = {}
        if self._first:
            delta["role"] = "assistant"
            delta["content"] = ""
            self._first = False
        shown = self.text.observe(event)
        if shown:
            delta["content"] = shown
        finish = "stop" if event.type == "run.completed" else None
        out = [frame(to_json(self._chunk(event, delta, finish)))]
        if event.type == "run.completed" and self.include_usage:
            usage = {
                "id": f"chatcmpl-{event.run_id}",
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage_totals(event.data.get("usage", {})),
            }
            out.append(frame(to_json(usage)))
        return out

    def end(self) -> list[bytes]:
        return [frame("[DONE]")]


def models_list(engine_name: str, roles: dict[str, list[str]], created: int) -> dict[str, Any]:
    """``GET /v1/models``: the engine (with its roles) and each role model (with the roles it plays)."""
    data: list[dict[str, Any]] = [
        {
            "id": engine_name,
            "object": "model",
            "created": created,
            "owned_by": "reasoner",
            "reasoner": {"kind": "engine", "roles": roles},
        }
    ]
    plays: dict[str, list[str]] = {}
    for role, names in roles.items():
        for name in names:
            plays.setdefault(name, []).append(role)
    for name, played in plays.items():
        if name != engine_name:
            data.append(
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "reasoner",
                    "reasoner": {"kind": "role_model", "roles": played},
                }
            )
    return {"object": "list", "data": data}
