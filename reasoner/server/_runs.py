"""Runs behind the HTTP API: admission (a concurrency gate), the event pump, finished traces, summaries."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from reasoner._feedback import find_run, save_run
from reasoner.errors import ReasonerError, UsageError
from reasoner.events import Event
from reasoner.models import Message
from reasoner.server._errors import HTTPProblem

if TYPE_CHECKING:
    from reasoner._approval import Approver
    from reasoner._engine import Engine
    from reasoner._roles import Budget
    from reasoner.server._people import ApprovalDesk

__all__ = ["RunGate", "RunSpec", "Status", "StoredRun", "TraceStore", "public_event", "public_text", "pump", "summarize"]

logger = logging.getLogger("reasoner.server")

Status = Literal["completed", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run as a request asked for it (already validated)."""

    query: str | list[Message]  # a question, or a conversation ending with one
    output: Any = None
    budget: Budget | None = None
    tools: tuple[str, ...] | None = None
    plan: dict[str, Any] | None = None  # run this first instead of asking the planner
    asks: bool = False  # a streamed run: approvals are asked of the client
    approve: Approver | None = None  # otherwise: the server's policy (None: the engine's approver)


class RunGate:
    """At most ``limit`` runs at once; one more is refused with 429 and ``Retry-After``.

    Used from the event loop only: the check and the count happen with no await between.
    """

    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.active = 0

    def acquire(self) -> None:
        if self.active >= self.limit:
            raise HTTPProblem(
                429,
                f"the server is running its limit of {self.limit} concurrent runs; retry after {self.retry_after_s} s",
                code="too_many_concurrent_runs",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.active += 1

    def release(self) -> None:
        self.active -= 1


@dataclass(frozen=True, slots=True)
class StoredRun:
    events: tuple[Event, ...]
    status: Status


class TraceStore:
    """The events of the last ``max_runs`` finished runs (oldest dropped first), for replay;
    with ``folder``, every finished trace is also written there as ``RUN_ID.jsonl``."""

    def __init__(self, max_runs: int, folder: Path | None = None) -> None:
        self.max_runs = max_runs
        self.folder = folder
        self._runs: OrderedDict[str, StoredRun] = OrderedDict()

    def put(self, run_id: str, events: Sequence[Event], status: Status) -> None:
        if self.folder is not None:
            try:
                save_run(events, self.folder)
            except OSError as exc:  # the run is over either way: keep serving, say why in the log
                logger.error("cannot save the trace of run %s under %s: %s", run_id, self.folder, exc)
        if self.max_runs <= 0:
            return
        self._runs[run_id] = StoredRun(tuple(events), status)
        self._runs.move_to_end(run_id)
        while len(self._runs) > self.max_runs:
            self._runs.popitem(last=False)

    def add(self, run_id: str, event: Event) -> None:
        """Append ``event`` (feedback) to a stored run's trace, in memory and in ``folder``."""
        stored = self._runs.get(run_id)
        if stored is not None:
            self._runs[run_id] = StoredRun((*stored.events, event), stored.status)
        if self.folder is not None:
            with open(self.folder / f"{run_id}.jsonl", "a", encoding="utf-8") as f:
                f.write(event.to_json() + "\n")

    def events(self, run_id: str) -> list[Event] | None:
        """A finished run's trace: from memory, else from ``folder``; ``None`` when unknown."""
        stored = self._runs.get(run_id)
        if stored is not None:
            return list(stored.events)
        if self.folder is not None:
            try:
                return find_run(run_id, self.folder)[1]
            except UsageError:
                return None
        return None

    def get(self, run_id: str) -> StoredRun | None:
        return self._runs.get(run_id)


def status_of(events: Sequence[Event]) -> Status:
    last = events[-1].type if events else None
    return "completed" if last == "run.completed" else "failed" if last == "run.failed" else "cancelled"


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_PATH = re.compile(r"(?<![\w.:/])(?!/v1/)(?:/[\w.@+-]+){2,}/?")  # the API's own routes are no secret
_TEXT_CHARS = 500
_TEXT_KEYS = frozenset({"message", "reason", "error"})


def public_text(text: str) -> str:
    """An error text fit for a client: URLs (an upstream model's, with whatever they carry)
    and absolute file paths replaced, at most 500 characters. The server log keeps the
    original (the engine's events are logged before this)."""
    text = _PATH.sub("<path>", _URL.sub("<url>", text))
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 3] + "..."


def _public(value: Any, key: str | None) -> Any:
    if isinstance(value, str):
        return public_text(value) if key in _TEXT_KEYS else value
    if isinstance(value, dict):
        return {k: _public(v, k if key != "output" else None) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v, key) for v in value]
    return value


def public_event(event: Event) -> Event:
    """``event`` with the error messages and reasons in its data made public (see
    :func:`public_text`); tool outputs, plans and answers are left as they are."""
    if event.type not in ("node.failed", "node.retrying", "node.skipped", "model.fallback", "run.failed", "approval.resolved"):
        return event
    return dataclasses.replace(event, data=_public(event.data, None))


def _error_of(exc: BaseException, run_id: str) -> dict[str, str]:
    if isinstance(exc, ReasonerError | TimeoutError):
        return {"type": type(exc).__name__, "message": str(exc)}
    # not one of ours: a bug or a tool's own exception escaping; keep its details in the log
    logger.error("run %s failed with an unexpected error", run_id, exc_info=exc)
    return {"type": "InternalError", "message": f"internal error in run {run_id}; the server log has the details"}


async def pump(
    engine: Engine, spec: RunSpec, out: MemoryObjectSendStream[Event], store: TraceStore | None, desk: ApprovalDesk | None = None
) -> None:
    """Run ``spec`` on ``engine`` and send every event to ``out`` (closed at the end).

    A run that ``asks`` is open at ``desk`` from its first event to its end, so that
    clients can answer its approvals (``reasoner.server._people``).

    The last event is always ``run.completed`` or ``run.failed``: a failure the engine did
    not report (one raised before ``run.started``) gets a ``run.failed`` made here, and an
    unexpected error's message is replaced by a generic one (no internals in responses).
    On cancellation (the client left) nothing more is sent. The trace goes to ``store``.
    """
    events: list[Event] = []
    held: Event | None = None
    approvals = desk.new_run() if spec.asks and desk is not None else None
    try:
        async with out:
            try:
                kwargs: dict[str, Any] = {"output": spec.output, "budget": spec.budget}
                if spec.tools is not None:
                    kwargs["tools"] = list(spec.tools)
                if spec.plan is not None:
                    kwargs["plan"] = spec.plan
                approve = approvals.ask if approvals is not None else spec.approve
                if approve is not None:
                    kwargs["approve"] = approve
                events_of = cast(AsyncGenerator[Event, None], engine.stream(spec.query, **kwargs))
                async with aclosing(events_of) as stream:
                    async for raw in stream:
                        if not events and approvals is not None and desk is not None:
                            desk.open(raw.run_id, approvals)
                        event = public_event(raw)
                        events.append(event)
                        if event.type == "run.failed":
                            held = event  # sent once the exception says whether its message may be shown
                            continue
                        try:
                            out.send_nowait(event)  # no extra trip through the event loop while there is room
                        except anyio.WouldBlock:
                            await out.send(event)
                if held is not None:
                    await out.send(held)
            except Exception as exc:
                run_id = events[0].run_id if events else uuid.uuid4().hex[:12]
                error = _public(_error_of(exc, run_id), "error")
                if held is not None:
                    failed = dataclasses.replace(held, data={**held.data, "error": error})
                    events[-1] = failed
                else:
                    seq = events[-1].seq + 1 if events else 0
                    iteration = events[-1].iteration if events else 0
                    failed = Event("run.failed", run_id, seq, time.time(), iteration, None, {"error": error})
                    events.append(failed)
                await out.send(failed)
    finally:
        if events and desk is not None:
            desk.close(events[0].run_id)
        if store is not None and events:
            store.put(events[0].run_id, events, status_of(events))


def summarize(events: Sequence[Event]) -> dict[str, Any]:
    """The one-JSON result of a finished run, built from its events."""
    plans: list[Any] = []
    outputs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for e in events:
        if e.type == "plan.completed":
            plans.append(e.data.get("plan"))
        elif e.type == "node.completed" and e.node_id is not None:
            outputs[str(e.node_id)] = e.data.get("output")
        elif e.type == "node.failed" and e.node_id is not None:
            err = e.data.get("error")
            errors[str(e.node_id)] = err.get("message", str(err)) if isinstance(err, dict) else str(err)
        elif e.type == "node.skipped" and e.node_id is not None:
            errors[str(e.node_id)] = f"skipped: {e.data.get('reason')}"
    last = events[-1] if events else None
    return {
        "run_id": events[0].run_id if events else None,
        "status": status_of(events),
        "answer": last.data.get("answer") if last is not None and last.type == "run.completed" else None,
        "plans": plans,
        "outputs": outputs,
        "errors": errors,
        "usage": last.data.get("usage", {}) if last is not None and last.type == "run.completed" else {},
        "iterations": (last.iteration + 1) if last is not None else 0,
    }
