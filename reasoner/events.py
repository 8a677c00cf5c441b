"""Typed events: one stream for the library, the CLI and HTTP (DESIGN.md section 5).

Every event is an :class:`Event` with ``type``, ``run_id``, ``seq`` (0, 1, 2, ... per
run), ``ts`` (seconds since the epoch), ``iteration`` (0 for the first plan, +1 per
replan), ``node_id`` (for node events) and ``data`` (a JSON-able dict).
A trace is a list of events; :func:`save_trace` / :func:`load_trace` write and read JSONL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from reasoner.errors import TraceError

__all__ = ["EVENT_TYPES", "Event", "EventType", "Recorder", "load_trace", "save_trace"]

EventType = Literal[
    "run.started",
    "retrieval.selected",
    "plan.node",
    "plan.completed",
    "node.started",
    "node.completed",
    "node.failed",
    "node.retrying",
    "node.skipped",
    "approval.requested",
    "approval.resolved",
    "model.fallback",
    "join.decision",
    "answer.delta",
    "answer.reset",
    "answer.completed",
    "usage",
    "run.completed",
    "run.failed",
    "feedback",
]
EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    run_id: str
    seq: int
    ts: float
    iteration: int = 0
    node_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["node_id"] is None:
            del d["node_id"]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        if d.get("type") not in EVENT_TYPES:
            raise ValueError(f"unknown event type {d.get('type')!r}; expected one of {sorted(EVENT_TYPES)}")
        return cls(
            type=d["type"],
            run_id=str(d["run_id"]),
            seq=int(d["seq"]),
            ts=float(d["ts"]),
            iteration=int(d.get("iteration", 0)),
            node_id=d.get("node_id"),
            data=dict(d.get("data") or {}),
        )


class Recorder:
    """Stamps and collects the events of one run; ``sink`` (if given) sees each one as it is made.

    Not thread-safe: emit from the event loop only.
    """

    def __init__(self, run_id: str | None = None, sink: Callable[[Event], None] | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.events: list[Event] = []
        self.iteration = 0
        self._sink = sink

    def emit(self, type: EventType, node_id: int | None = None, **data: Any) -> Event:
        event = Event(type, self.run_id, len(self.events), time.time(), self.iteration, node_id, data)
        self.events.append(event)
        if self._sink is not None:
            self._sink(event)
        return event


def save_trace(events: Iterable[Event], path: str | Path) -> None:
    """Write events as JSONL, one event per line."""
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(e.to_json() + "\n")


def load_trace(path: str | Path) -> list[Event]:
    """Read a JSONL trace written by :func:`save_trace`; raises
    :class:`~reasoner.errors.TraceError` (a ``ValueError`` too) naming the bad line."""
    events = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                events.append(Event.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise TraceError(f"{path}:{lineno}: not an event: {exc}") from exc
    return events
