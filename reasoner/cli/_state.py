"""The state of one run as the CLI shows it, folded from events; plus compact text forms.

Both the live view and the plain printer read this, so they always agree. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reasoner.events import Event

__all__ = ["NodeView", "RoleUsage", "RunState", "call_text", "compact", "is_sample_data", "preview"]

Status = Literal["planned", "approval", "running", "retrying", "done", "failed", "skipped"]
SAMPLE = "sample data"
_FINISHED = ("done", "failed", "skipped")


@dataclass(slots=True)
class NodeView:
    """One plan node: what it calls and how it went."""

    id: int
    iteration: int
    tool: str
    args: dict[str, Any]
    status: Status = "planned"
    started: float | None = None  # event timestamps (seconds since the epoch)
    ended: float | None = None
    duration: float | None = None
    output: Any = None
    cached: bool = False
    error: str | None = None
    attempts: int = 0
    note: str = ""  # retry / approval / skip detail


@dataclass(slots=True)
class RoleUsage:
    """Model calls of one role on one model, summed."""

    role: str
    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    forced_tokens: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class RunState:
    """Everything the views show, updated by :meth:`apply` one event at a time."""

    query: str = ""
    run_id: str = ""
    started: float | None = None
    ended: float | None = None
    phase: str = "starting"
    nodes: dict[int, NodeView] = field(default_factory=dict)
    plan_models: dict[int, str] = field(default_factory=dict)  # iteration -> planner model
    decisions: dict[int, tuple[str, str]] = field(default_factory=dict)  # iteration -> (action, reason)
    fallbacks: list[str] = field(default_factory=list)
    answer_text: str = ""
    answer: Any = None
    answered: bool = False
    usage: dict[tuple[str, str], RoleUsage] = field(default_factory=dict)
    error: str | None = None
    roles: dict[str, list[str]] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        d, nid = event.data, event.node_id
        kind = event.type
        if kind == "run.started":
            self.query, self.started, self.run_id = str(d.get("query", "")), event.ts, event.run_id
            self.roles = {k: list(v) for k, v in (d.get("roles") or {}).items()}
            first = (self.roles.get("planner") or ["the planner"])[0]
            self.phase = f"planning with {first}" if d.get("tools") else "answering"
        elif kind == "plan.node":
            node = d.get("node") or {}
            node_id = int(node.get("id", nid or 0))
            self.nodes[node_id] = NodeView(node_id, event.iteration, str(node.get("tool", "?")), dict(node.get("args") or {}))
        elif kind == "plan.completed":
            self.plan_models[event.iteration] = str(d.get("model", ""))
            self.phase = "running tools"
        elif kind == "model.fallback":
            self.fallbacks.append(f"{d.get('role')}: {d.get('model')} failed, trying {d.get('next')} ({d.get('reason')})")
            if d.get("role") == "answerer":
                self.answer_text = ""
        elif kind == "join.decision":
            self.decisions[event.iteration] = (str(d.get("action", "")), str(d.get("reason", "")))
            planner = (self.roles.get("planner") or ["the planner"])[0]
            self.phase = "answering" if d.get("action") == "finish" else f"replanning with {planner}"
        elif kind == "answer.reset":
            self.answer_text = ""
        elif kind == "answer.delta":
            self.answer_text += str(d.get("text", ""))
            self.phase = "answering"
        elif kind == "answer.completed":
            self.answer, self.answered = d.get("answer"), True
        elif kind == "usage":
            key = (str(d.get("role", "")), str(d.get("model", "")))
            row = self.usage.get(key) or RoleUsage(*key)
            row.calls += 1
            row.prompt_tokens += int(d.get("prompt_tokens", 0))
            row.completion_tokens += int(d.get("completion_tokens", 0))
            row.forced_tokens += int(d.get("forced_tokens", 0))
            row.seconds += float(d.get("seconds", 0.0))
            self.usage[key] = row
        elif kind in ("run.completed", "run.failed"):
            self.ended = event.ts
            self.phase = "done" if kind == "run.completed" else "failed"
            if kind == "run.completed" and not self.answered:
                self.answer, self.answered = d.get("answer"), True
            if kind == "run.failed":
                error = d.get("error") or {}
                self.error = f"{error.get('type', 'Error')}: {error.get('message', '')}"
        elif nid is not None:
            self._node_event(event, nid)

    def _node_event(self, event: Event, nid: int) -> None:
        d = event.data
        node = self.nodes.get(nid)
        if node is None:  # an executed plan that was never streamed as plan.node
            node = self.nodes[nid] = NodeView(nid, event.iteration, str(d.get("tool", "?")), dict(d.get("args") or {}))
        kind = event.type
        if kind == "node.started":
            node.status, node.started = "running", event.ts
            node.attempts = max(node.attempts, 1)
        elif kind == "node.completed":
            node.status, node.ended = "done", event.ts
            node.duration = float(d.get("duration_s", 0.0))
            node.output, node.cached = d.get("output"), bool(d.get("cached", False))
        elif kind == "node.failed":
            node.status, node.ended = "failed", event.ts
            if node.started is not None:
                node.duration = event.ts - node.started
            node.error = _error_text(d.get("error"))
            node.attempts = int(d.get("attempts", node.attempts))
        elif kind == "node.retrying":
            node.status = "retrying"
            node.attempts = int(d.get("attempt", node.attempts)) + 1
            node.note = f"retry {d.get('attempt')} in {float(d.get('delay_s', 0.0)):.2g} s: {_error_text(d.get('error'))}"
        elif kind == "node.skipped":
            node.status, node.note = "skipped", str(d.get("reason", ""))
        elif kind == "approval.requested":
            node.status, node.note = "approval", "waiting for approval"
        elif kind == "approval.resolved":
            decision = d.get("decision") or ("approve" if d.get("approved") else "deny")
            if decision == "edit":
                node.args, node.note = dict(d.get("args") or {}), "approved with edited arguments"
            elif decision == "deny":
                node.note = "denied" + (f": {d['reason']}" if d.get("reason") else "")
            elif decision == "error":
                node.note = f"approval failed: {_error_text(d.get('error'))}"
            else:
                node.note = "approved"

    # -- summaries -----------------------------------------------------------------------

    @property
    def status_line(self) -> str:
        """What the run is doing now, for a spinner line."""
        if self.phase == "running tools" and all(n.status in _FINISHED for n in self.nodes.values()):
            return "deciding whether to finish or replan"
        return self.phase

    @property
    def wall_time(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def tool_times(self) -> tuple[int, float, float]:
        """``(calls, summed seconds, elapsed seconds)``: elapsed is the union of the calls'
        intervals, so summed > elapsed shows how much ran in parallel."""
        spans = sorted((n.started, n.ended) for n in self.nodes.values() if n.started is not None and n.ended is not None)
        summed = sum(n.duration or 0.0 for n in self.nodes.values() if n.status in ("done", "failed"))
        elapsed, cur_start, cur_end = 0.0, None, None
        for start, end in spans:
            if cur_end is None or start > cur_end:
                if cur_end is not None and cur_start is not None:
                    elapsed += cur_end - cur_start
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        if cur_start is not None and cur_end is not None:
            elapsed += cur_end - cur_start
        return len(spans), summed, elapsed

    def answer_display(self) -> str:
        """The answer as text: a string as is, structured output as indented JSON."""
        if not self.answered:
            return self.answer_text
        if isinstance(self.answer, str):
            return self.answer
        return json.dumps(self.answer, indent=2, ensure_ascii=False, default=str)


def _error_text(error: Any) -> str:
    if isinstance(error, Mapping):
        return f"{error.get('type', 'Error')}: {error.get('message', '')}"
    return str(error)


# -- compact text forms ----------------------------------------------------------------------


def _is_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) <= {"$ref", "path"} and "$ref" in value


def compact(value: Any, limit: int = 40, ellipsis: str = "…") -> str:
    """A short one-line form of an argument or output; refs read ``$2.close``."""
    if _is_ref(value):
        path = value.get("path") or ""
        return f"${value['$ref']}.{path}" if path else f"${value['$ref']}"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= limit else text[: max(limit - 1 - len(ellipsis), 1)] + ellipsis + '"'
    if isinstance(value, list | tuple):
        items = [compact(v, max(limit // 2, 12), ellipsis) for v in value[:6]]
        more = [ellipsis] if len(value) > 6 else []
        return "[" + ", ".join([*items, *more]) + "]"
    if isinstance(value, Mapping):
        entries = list(value.items())
        items = [f"{k}: {compact(v, max(limit // 2, 12), ellipsis)}" for k, v in entries[:6]]
        more = [ellipsis] if len(entries) > 6 else []
        return "{" + ", ".join([*items, *more]) + "}"
    return json.dumps(value, default=str)


def call_text(tool: str, args: Mapping[str, Any], ellipsis: str = "…") -> str:
    """``stock_price(ticker="MSFT")``, ``chart(values=[$2.close, $3.close])``."""
    return f"{tool}(" + ", ".join(f"{k}={compact(v, 40, ellipsis)}" for k, v in args.items()) + ")"


def preview(output: Any, limit: int = 72, ellipsis: str = "…") -> str:
    """A one-line preview of a tool's output, at most ``limit`` characters."""
    text = compact(output, limit, ellipsis)
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis


def is_sample_data(output: Any) -> bool:
    """Whether a tool output says it comes from sample data (``source: "sample data"`` anywhere)."""
    if isinstance(output, Mapping):
        source = output.get("source")
        if isinstance(source, str) and SAMPLE in source.casefold():
            return True
        return any(is_sample_data(v) for v in output.values())
    if isinstance(output, list | tuple):
        return any(is_sample_data(v) for v in output)
    return False
