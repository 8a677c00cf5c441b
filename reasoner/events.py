"""Typed events: one stream for the library, the CLI and HTTP (DESIGN.md section 5).

Every event is an :class:`Event` with ``type``, ``run_id``, ``seq`` (0, 1, 2, ... per
run), ``ts`` (seconds since the epoch), ``iteration`` (0 for the first plan, +1 per
replan), ``node_id`` (for node events) and ``data`` (a JSON-able dict).
A trace is a list of events; :func:`save_trace` / :func:`load_trace` write and read JSONL.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, cast, get_args, overload

from reasoner.errors import TraceError

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream
    from pydantic import TypeAdapter

__all__ = [
    "AnswerCompleted",
    "AnswerDelta",
    "AnswerReset",
    "AnyEvent",
    "ApprovalRequested",
    "ApprovalResolved",
    "EVENTS",
    "EVENT_TYPES",
    "Event",
    "EventType",
    "FeedbackGiven",
    "JoinDecision",
    "ModelFallback",
    "NodeCompleted",
    "NodeFailed",
    "NodeRetrying",
    "NodeSkipped",
    "NodeStarted",
    "PlanCompleted",
    "PlanNode",
    "Recorder",
    "RetrievalSelected",
    "RunCompleted",
    "RunFailed",
    "RunStarted",
    "UsageReported",
    "load_trace",
    "save_trace",
]

T = TypeVar("T")

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


class Payload(Generic[T]):
    """A typed view of one key of an event's ``data`` (``None`` when the event lacks it)."""

    def __init__(self, key: str) -> None:
        self.key = key

    @overload
    def __get__(self, event: None, owner: type[Event]) -> Payload[T]: ...
    @overload
    def __get__(self, event: Event, owner: type[Event]) -> T: ...
    def __get__(self, event: Event | None, owner: type[Event]) -> Payload[T] | T:
        if event is None:
            return self
        return cast(T, event.data.get(self.key))


@dataclass(frozen=True, slots=True)
class Event:
    """One event: ``type`` names its kind; ``data`` is its JSON-able payload.

    ``Event("node.completed", run_id, seq, ts, ...)`` returns the class of that type
    (:class:`NodeCompleted` here), so ``isinstance`` and ``match`` work on any event,
    including events read back from a trace; the subclasses also read their payload as
    typed properties (``event.output``), ``data`` staying the wire form.
    """

    type: EventType
    run_id: str
    seq: int
    ts: float
    iteration: int = 0
    node_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __new__(cls, *args: Any, **kwargs: Any) -> Event:
        if cls is Event:  # dispatch on the type, given first or by name (pydantic passes neither)
            cls = _CLASSES.get(args[0] if args else kwargs.get("type"), cls)  # type: ignore[arg-type]
        return object.__new__(cls)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["node_id"] is None:
            del d["node_id"]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        """The event ``d`` describes (a dict as :meth:`to_dict` writes it), as its own class.

        Raises:
            ValueError: an unknown type or a missing or malformed field (the message names it).
        """
        if not isinstance(d, dict) or d.get("type") not in EVENT_TYPES:
            got = d.get("type") if isinstance(d, dict) else d
            raise ValueError(f"unknown event type {got!r}; expected one of {sorted(EVENT_TYPES)}")
        return _adapter().validate_python(d)


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """``run.started``: a run began: its query, tools and each role's models."""

    type: Literal["run.started"]

    query = Payload[str]("query")
    tools = Payload[list[str]]("tools")
    roles = Payload[dict[str, Any]]("roles")


@dataclass(frozen=True, slots=True)
class RetrievalSelected(Event):
    """``retrieval.selected``: tool retrieval chose the tools the planner sees."""

    type: Literal["retrieval.selected"]


@dataclass(frozen=True, slots=True)
class PlanNode(Event):
    """``plan.node``: the planner closed one node of the plan (it may start at once)."""

    type: Literal["plan.node"]

    node = Payload[dict[str, Any]]("node")


@dataclass(frozen=True, slots=True)
class PlanCompleted(Event):
    """``plan.completed``: the planner finished a plan."""

    type: Literal["plan.completed"]

    plan = Payload[dict[str, Any]]("plan")
    model = Payload[str]("model")


@dataclass(frozen=True, slots=True)
class NodeStarted(Event):
    """``node.started``: a tool call started."""

    type: Literal["node.started"]

    tool = Payload[str]("tool")
    args = Payload[dict[str, Any]]("args")


@dataclass(frozen=True, slots=True)
class NodeCompleted(Event):
    """``node.completed``: a tool call returned."""

    type: Literal["node.completed"]

    output = Payload[Any]("output")
    duration_s = Payload[float]("duration_s")


@dataclass(frozen=True, slots=True)
class NodeFailed(Event):
    """``node.failed``: a tool call failed after its retries."""

    type: Literal["node.failed"]

    error = Payload[dict[str, Any]]("error")
    attempts = Payload[int]("attempts")


@dataclass(frozen=True, slots=True)
class NodeRetrying(Event):
    """``node.retrying``: a tool call failed and is tried again after a delay."""

    type: Literal["node.retrying"]

    attempt = Payload[int]("attempt")
    delay_s = Payload[float]("delay_s")
    error = Payload[dict[str, Any]]("error")


@dataclass(frozen=True, slots=True)
class NodeSkipped(Event):
    """``node.skipped``: a call did not run because a node it needs failed."""

    type: Literal["node.skipped"]

    reason = Payload[str]("reason")
    cause = Payload[Any]("cause")


@dataclass(frozen=True, slots=True)
class ApprovalRequested(Event):
    """``approval.requested``: a call waits for a person's approval."""

    type: Literal["approval.requested"]

    tool = Payload[str]("tool")
    args = Payload[dict[str, Any]]("args")


@dataclass(frozen=True, slots=True)
class ApprovalResolved(Event):
    """``approval.resolved``: a person (or policy) approved, denied or edited a call."""

    type: Literal["approval.resolved"]

    approved = Payload[bool]("approved")
    decision = Payload[str]("decision")


@dataclass(frozen=True, slots=True)
class ModelFallback(Event):
    """``model.fallback``: a role's model failed and the next one takes over."""

    type: Literal["model.fallback"]

    role = Payload[str]("role")
    model = Payload[str]("model")
    next = Payload[str]("next")
    reason = Payload[str]("reason")


@dataclass(frozen=True, slots=True)
class JoinDecision(Event):
    """``join.decision``: the joiner (or the loop) decided to finish or replan."""

    type: Literal["join.decision"]

    action = Payload[str]("action")
    reason = Payload[str]("reason")


@dataclass(frozen=True, slots=True)
class AnswerDelta(Event):
    """``answer.delta``: a piece of the answer text."""

    type: Literal["answer.delta"]

    text = Payload[str]("text")


@dataclass(frozen=True, slots=True)
class AnswerReset(Event):
    """``answer.reset``: discard the answer text streamed so far (a fallback model starts again)."""

    type: Literal["answer.reset"]

    reason = Payload[str]("reason")


@dataclass(frozen=True, slots=True)
class AnswerCompleted(Event):
    """``answer.completed``: the whole answer (JSON-able when ``output=`` is given)."""

    type: Literal["answer.completed"]

    answer = Payload[Any]("answer")


@dataclass(frozen=True, slots=True)
class UsageReported(Event):
    """``usage``: tokens used by a model call."""

    type: Literal["usage"]


@dataclass(frozen=True, slots=True)
class RunCompleted(Event):
    """``run.completed``: the run finished with an answer (the last event)."""

    type: Literal["run.completed"]

    answer = Payload[Any]("answer")
    usage = Payload[dict[str, Any]]("usage")


@dataclass(frozen=True, slots=True)
class RunFailed(Event):
    """``run.failed``: the run failed (the last event; the error is raised after it)."""

    type: Literal["run.failed"]

    error = Payload[dict[str, Any]]("error")


@dataclass(frozen=True, slots=True)
class FeedbackGiven(Event):
    """``feedback``: a person's feedback on a finished run, appended to its trace."""

    type: Literal["feedback"]


AnyEvent = (
    RunStarted | RetrievalSelected | PlanNode | PlanCompleted | NodeStarted | NodeCompleted | NodeFailed | NodeRetrying | NodeSkipped | ApprovalRequested | ApprovalResolved | ModelFallback | JoinDecision
    | AnswerDelta | AnswerReset | AnswerCompleted | UsageReported | RunCompleted | RunFailed | FeedbackGiven
)
"""Any event, as a discriminated union on ``type`` (for pydantic models and ``match``)."""

if TYPE_CHECKING:
    EVENTS: TypeAdapter[AnyEvent]
    """The one adapter between events and JSON: ``EVENTS.validate_json(line)``, ``EVENTS.json_schema()``."""


@functools.cache
def _adapter() -> TypeAdapter[AnyEvent]:
    from pydantic import Field, TypeAdapter

    return TypeAdapter(Annotated[AnyEvent, Field(discriminator="type")])


def __getattr__(name: str) -> Any:
    if name == "EVENTS":  # built on first use: it takes a third of a second
        return _adapter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_CLASSES: dict[str, type[Event]] = {
    "run.started": RunStarted,
    "retrieval.selected": RetrievalSelected,
    "plan.node": PlanNode,
    "plan.completed": PlanCompleted,
    "node.started": NodeStarted,
    "node.completed": NodeCompleted,
    "node.failed": NodeFailed,
    "node.retrying": NodeRetrying,
    "node.skipped": NodeSkipped,
    "approval.requested": ApprovalRequested,
    "approval.resolved": ApprovalResolved,
    "model.fallback": ModelFallback,
    "join.decision": JoinDecision,
    "answer.delta": AnswerDelta,
    "answer.reset": AnswerReset,
    "answer.completed": AnswerCompleted,
    "usage": UsageReported,
    "run.completed": RunCompleted,
    "run.failed": RunFailed,
    "feedback": FeedbackGiven,
}


class Recorder:
    """Stamps and collects the events of one run; ``sink`` (if given) sees each one as it is made.

    With ``channel`` (the send end of a bounded memory stream), each event is also sent
    there; when the stream is full the event waits in line, and :meth:`room` (awaited by
    the loop between answer pieces and by the executor before each call) waits until the
    reader has taken the waiting ones: a slow reader slows the run down instead of events
    piling up in memory.

    Not thread-safe: emit from the event loop only.
    """

    def __init__(
        self, run_id: str | None = None, sink: Callable[[Event], None] | None = None, *, channel: MemoryObjectSendStream[Event] | None = None
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.events: list[Event] = []
        self.iteration = 0
        self._sink = sink
        self._channel = channel
        self._waiting: deque[Event] = deque()

    def emit(self, type: EventType, node_id: int | None = None, **data: Any) -> Event:
        event = Event(type, self.run_id, len(self.events), time.time(), self.iteration, node_id, data)
        self.events.append(event)
        if self._sink is not None:
            self._sink(event)
        if self._channel is not None:
            if self._waiting:
                self._waiting.append(event)
            else:
                from anyio import WouldBlock

                try:
                    self._channel.send_nowait(event)
                except WouldBlock:
                    self._waiting.append(event)
        return event

    @property
    def waiting(self) -> int:
        """Events made but not yet taken by the channel's reader (0 without a channel)."""
        return len(self._waiting)

    async def room(self) -> None:
        """Wait until every event made so far is in the channel (at once without one)."""
        while self._channel is not None and self._waiting:
            await self._channel.send(self._waiting[0])
            self._waiting.popleft()


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
