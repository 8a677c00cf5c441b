"""Training examples for the three roles: the JSONL format, its checks, and role samples.

One example per line::

    {"question": "What is 3 times Netflix's latest close?",
     "tools": "demo",                                  # which registry (see below); default "demo"
     "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "NFLX"}},
                        {"id": 2, "tool": "calculator",
                         "args": {"expression": "a*3", "variables": {"a": {"$ref": 1, "path": "close"}}}}]},
     "observations": [{"id": 1, "output": {...}}, {"id": 2, "output": {...}}],   # optional
     "join": {"action": "finish"},                     # optional
     "replan": {"plan": {...}, "observations": [...], "join": {...}},          # optional
     "answer": "3 times NFLX's close of 930.1 is 2790.3."}                      # optional

``tools`` names the registry the example was written for: ``"demo"`` (the demo toolkit)
or ``"module:attr"`` (a function, ToolSpec, list or ToolRegistry); it is resolved by the
caller (``reasoner tune``). ``observations`` give each node's ``output`` or ``error``;
``replan`` is the second iteration after a ``join`` of ``replan``: its plan continues
the ids and may ref the first plan's nodes. Each part present turns into one sample of
its role (:func:`role_samples`), whose prompt is built by the same functions the loop
uses at run time (:func:`~reasoner.planner._prompts.plan_messages`, ``join_messages``,
``answer_messages``), so a tuned model sees exactly what it will see when it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reasoner.errors import PlanError, UsageError
from reasoner.models import Message
from reasoner.planner._plan import Node, Plan
from reasoner.planner._prompts import (
    Observation,
    answer_messages,
    join_messages,
    plan_messages,
)
from reasoner.planner._validate import validate

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry

__all__ = ["ExampleError", "RoleSample", "TuneExample", "canonical_plan", "check_example", "load_examples", "parse_examples", "role_samples"]

Role = Literal["planner", "joiner", "answerer"]


class ExampleError(UsageError):
    """A bad line in an examples file; the message starts with ``SOURCE:LINE:``."""

    def __init__(self, message: str, *, source: str, line: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.line = line


class ObservationRecord(BaseModel):
    """What one node returned (``output``) or why it did not (``error``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=1)
    output: Any = None
    error: str | None = None


class JoinRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["finish", "replan"]
    reason: str | None = Field(default=None, max_length=200)

    def text(self) -> str:
        """The joiner's reply as the loop decodes it (compact JSON, under JOIN_SCHEMA)."""
        body: dict[str, str] = {"action": self.action}
        if self.action == "replan":
            body["reason"] = self.reason or ""
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: dict[str, Any]
    observations: list[ObservationRecord] | None = None
    join: JoinRecord | None = None


class TuneExample(BaseModel):
    """One training example (the module doc shows the format)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1, max_length=2000)
    tools: str = "demo"
    plan: dict[str, Any]
    observations: list[ObservationRecord] | None = None
    join: JoinRecord | None = None
    replan: Step | None = None
    answer: str | None = None
    source: str | None = None  # where it came from (a seed id, a trace's run id); not trained on

    def steps(self) -> list[Step]:
        first = Step(plan=self.plan, observations=self.observations, join=self.join)
        return [first] if self.replan is None else [first, self.replan]

    def to_line(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class RoleSample:
    """One training sample: the messages the loop would send ``role``, and the reply to learn."""

    role: Role
    messages: tuple[Message, ...]
    output: str


def parse_examples(lines: Iterable[str], *, source: str = "<examples>") -> list[TuneExample]:
    """Parse JSONL lines into examples, checking each line's shape (not its registry).

    Raises:
        ExampleError: a line that is not JSON, not an object, or not a valid example; the
            message starts with ``SOURCE:LINE:`` and names the field and the problem.
    """
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise ExampleError(f"{where}: not JSON: {exc}", source=source, line=number) from exc
        if not isinstance(data, dict):
            raise ExampleError(f"{where}: expected a JSON object, got {type(data).__name__}", source=source, line=number)
        try:
            example = TuneExample.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'example'}: {e['msg']}" for e in exc.errors())
            raise ExampleError(f"{where}: {problems}", source=source, line=number) from None
        try:
            _check_shape(example)
        except (PlanError, ValueError) as exc:
            raise ExampleError(f"{where}: {exc}", source=source, line=number) from exc
        examples.append(example)
    if not examples:
        raise ExampleError(f"{source}: no examples (write one JSON object per line)", source=source)
    return examples


def load_examples(path: str | Path) -> list[TuneExample]:
    """Read and parse an examples file (see :func:`parse_examples`).

    Raises:
        ExampleError: the file is missing or unreadable, or a line is bad.
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExampleError(f"cannot read the examples file {str(file)!r}: {exc}", source=str(file)) from exc
    return parse_examples(text.splitlines(), source=str(file))


def _check_shape(example: TuneExample) -> None:
    steps = example.steps()
    known: dict[int, Node] = {}
    for i, step in enumerate(steps):
        where = "plan" if i == 0 else "replan.plan"
        try:
            plan = _parse(step.plan, known)
        except PlanError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        ids = {n.id for n in plan.nodes}
        for obs in step.observations or ():
            if obs.id not in ids:
                raise ValueError(f"{where}: an observation names node {obs.id}, which this plan does not have")
            if (obs.error is None) == (obs.output is None):
                raise ValueError(f"{where}: observation of node {obs.id} needs exactly one of output or error")
        known.update({n.id: n for n in plan.nodes})
    if example.join is not None and example.join.action == "replan" and not example.join.reason:
        raise ValueError("join: a replan needs a reason")
    if example.replan is not None and (example.join is None or example.join.action != "replan"):
        raise ValueError('replan: a second plan needs "join": {"action": "replan", "reason": ...} before it')
    if example.join is not None and example.join.action == "replan" and example.replan is None:
        raise ValueError('join says replan, but there is no "replan": {"plan": ...} to follow it')


def check_example(example: TuneExample, registry: ToolRegistry) -> None:
    """Validate every plan of ``example`` against ``registry`` (as the loop does before running).

    Raises:
        PlanError: a plan that does not fit the registry (unknown tool, bad argument, bad ref).
    """
    known: dict[int, Node] = {}
    for step in example.steps():
        plan = canonical_plan(_parse(step.plan, known), registry)
        validate(plan, registry, previous=known)
        known.update({n.id: n for n in plan.nodes})


def canonical_plan(plan: Plan, registry: ToolRegistry) -> Plan:
    """``plan`` with each node's arguments in the order of its tool's schema: the order the
    plan grammar makes a model write them in."""
    nodes = []
    for node in plan.nodes:
        spec = registry.get(node.tool) if node.tool in registry.names() else None
        if spec is None:
            nodes.append(node)
            continue
        order = list(spec.input_schema.get("properties", {}))
        args = dict(sorted(node.args.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
        nodes.append(Node(node.id, node.tool, args))
    return Plan(tuple(nodes))


def _parse(plan: Mapping[str, Any], known: Mapping[int, Node]) -> Plan:
    # a replan's ids continue after the nodes before it
    return Plan.from_json(plan, first_id=max(known, default=0) + 1)


def _observations(plan: Plan, records: Sequence[ObservationRecord]) -> list[Observation]:
    by_id = {n.id: n for n in plan.nodes}
    return [Observation(by_id[r.id], r.output, r.error) for r in records]


def role_samples(example: TuneExample, registry: ToolRegistry, roles: Sequence[Role] = ("planner", "joiner", "answerer")) -> list[RoleSample]:
    """The training samples of ``example``: one per plan (planner), join decision (joiner)
    and answer (answerer), each prompt built exactly as the loop builds it at run time."""
    out: list[RoleSample] = []
    seen: list[Observation] = []
    known: dict[int, Node] = {}
    reason: str | None = None
    question = example.question
    steps = example.steps()
    for step in steps:
        plan = canonical_plan(_parse(step.plan, known), registry)
        if "planner" in roles:
            messages = plan_messages(
                question, registry, observations=list(seen), replan_reason=reason, first_id=max(known, default=0) + 1
            )
            out.append(RoleSample("planner", tuple(messages), plan.to_json()))
        known.update({n.id: n for n in plan.nodes})
        if step.observations is None:
            break
        seen = seen + _observations(plan, step.observations)
        if step.join is not None and plan.nodes and "joiner" in roles:  # an empty plan is answered without a join
            out.append(RoleSample("joiner", tuple(join_messages(question, seen)), step.join.text()))
        reason = step.join.reason if step.join is not None else None
    complete = all(s.observations is not None for s in steps)
    if example.answer is not None and complete and "answerer" in roles:
        out.append(RoleSample("answerer", tuple(answer_messages(question, seen)), example.answer))
    return out

