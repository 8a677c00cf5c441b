"""The reasoning loop: plan (streamed into the executor) -> join -> replan or answer.

One run, step by step (events in brackets, DESIGN.md section 5):

1. ``run.started``.
2. The planner model decodes a plan under the registry's plan grammar. Each node is
   parsed, validated and dispatched the moment its JSON object closes (``plan.node``),
   so the first tools run while later nodes are still being decoded; the executor
   emits ``node.*`` events; ``plan.completed`` when the plan text ends.
3. The joiner decides under a small grammar: ``finish`` or ``replan`` with a reason
   (``join.decision``). A replan shows the planner every result so far; new node ids
   continue the numbering and may ref finished nodes, whose outputs are reused.
4. The answerer streams the answer (``answer.delta``, ``answer.completed``); with
   ``output=SomeModel`` it decodes under that model's JSON Schema and the answer is an
   instance of it.
5. ``run.completed``, or ``run.failed`` with the error, which is then raised.

Every model call emits ``usage``; a role's fallback models are tried in order on error,
timeout or invalid output (``model.fallback``). A :class:`Budget` bounds iterations,
tokens and seconds. With no tools registered, the loop skips planning and answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import TypeAdapter, ValidationError

from reasoner._executor import ExecutionResult, execute
from reasoner._roles import ModelUsage, Session
from reasoner.errors import BudgetExceeded, ModelError, PlanError, UsageError
from reasoner.events import Event
from reasoner.grammars._jsonschema import SchemaProblem, check_schema
from reasoner.models import Model
from reasoner.planner import Node, Plan, PlanStreamParser, plan_schema
from reasoner.planner._prompts import (
    JOIN_SCHEMA,
    Example,
    Observation,
    answer_messages,
    join_messages,
    plan_messages,
)
from reasoner.tools._jsonschema import RecursiveSchema, inline_refs

if TYPE_CHECKING:
    from reasoner._runtime import Runtime
    from reasoner.tools import ToolRegistry

__all__ = ["RunResult", "plan_only", "run"]

_PLAN_TOKENS = 768
_JOIN_TOKENS = 96
_ANSWER_TOKENS = 192


@dataclass(frozen=True, slots=True)
class RunResult:
    """What :meth:`Engine.reason` returns.

    Attributes:
        answer: the answer text, or an instance of ``output=`` when one was given.
        plans: each plan the planner wrote (one per iteration).
        outputs: node id -> tool output, for every node that succeeded (all iterations).
        errors: node id -> error, for nodes that failed or were skipped.
        usage: model name -> its summed usage over the run.
        trace: every event of the run, in order (replayable; see ``reasoner.events``).
    """

    query: str
    answer: Any
    plans: list[Plan]
    outputs: dict[int, Any]
    errors: dict[int, str]
    usage: dict[str, ModelUsage]
    trace: list[Event] = field(repr=False)

    @property
    def plan(self) -> Plan:
        """Every node that ran, over all iterations, as one plan."""
        return Plan(tuple(node for plan in self.plans for node in plan.nodes))

    @property
    def run_id(self) -> str:
        return self.trace[0].run_id if self.trace else ""


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Planner settings. The plan grammar's bounds are tight on purpose: a small model
    that starts rambling inside a string is stopped after ``max_string`` characters."""

    examples: Sequence[Example] = ()
    max_nodes: int = 16
    max_string: int = 96
    max_array: int = 16

    def schema(self, registry: ToolRegistry, previous: Mapping[int, Node]) -> dict[str, Any]:
        """The strict plan grammar: ids count up from after ``previous``, refs point only to
        earlier nodes, and ref paths exist in some tool's output (for ``previous`` nodes, in
        that node's tool's output) with a type that fits. A ref between two new nodes may
        still name another tool's path; validation catches that."""
        return plan_schema(
            registry,
            max_nodes=self.max_nodes,
            max_string=self.max_string,
            max_array=self.max_array,
            strict=True,
            previous=previous,
            unknown_tool_paths="union",
        )


def _observations(result: ExecutionResult | None) -> list[Observation]:
    if result is None:
        return []
    out = []
    for node in result.plan.nodes:
        if node.id in result.outputs:
            out.append(Observation(node, result.outputs[node.id]))
        else:
            out.append(Observation(node, error=result.errors.get(node.id) or f"skipped: {result.skipped.get(node.id)}"))
    return out


async def _plan_stream(
    session: Session, model: Model, messages: Any, schema: dict[str, Any], parser: PlanStreamParser, plans: list[Plan]
) -> AsyncIterator[Node]:
    async for piece in session.deltas("planner", model, messages, schema=schema, max_tokens=_PLAN_TOKENS):
        for node in parser.feed(piece):
            session.rec.emit("plan.node", node.id, node=node.to_dict())
            yield node
    plan = parser.finish()
    plans.append(plan)
    session.rec.emit("plan.completed", nodes=len(plan.nodes), plan=plan.to_dict(), model=model.name)


async def _plan_and_execute(
    session: Session,
    runtime: Runtime,
    registry: ToolRegistry,
    query: str,
    config: LoopConfig,
    previous: ExecutionResult | None,
    reason: str | None,
    plans: list[Plan],
) -> ExecutionResult:
    known = {n.id: n for n in previous.plan.nodes} if previous else {}
    schema = config.schema(registry, known)
    messages = plan_messages(
        query, registry, examples=config.examples, observations=_observations(previous), replan_reason=reason, first_id=max(known, default=0) + 1
    )

    async def attempt(model: Model) -> ExecutionResult:
        parser = PlanStreamParser(registry, previous=known)
        nodes = _plan_stream(session, model, messages, schema, parser, plans)
        return await execute(runtime, nodes, session.rec, previous=previous)

    return await session.with_fallback("planner", attempt)


async def _join(session: Session, query: str, result: ExecutionResult) -> tuple[str, str]:
    messages = join_messages(query, _observations(result))

    async def attempt(model: Model) -> dict[str, Any]:
        text = await session.text("joiner", model, messages, schema=JOIN_SCHEMA, max_tokens=_JOIN_TOKENS)
        decision: dict[str, Any] = json.loads(text)
        return decision

    decision = await session.with_fallback("joiner", attempt)
    action, why = decision["action"], decision.get("reason", "")
    session.rec.emit("join.decision", action=action, reason=why)
    return action, why


def output_schema(output: Any) -> tuple[TypeAdapter[Any], dict[str, Any]]:
    """The adapter and JSON Schema the answer is decoded under, for ``output=``.

    ``output`` is a type (objects in its schema are closed to extra keys) or a JSON Schema
    dict (used as given, local ``$ref``s inlined; the answer is then the plain JSON value,
    validated with jsonschema). Raises UsageError for an invalid or recursive schema.
    """
    if isinstance(output, Mapping):
        return TypeAdapter(Any), _inline(dict(output))
    adapter: TypeAdapter[Any] = TypeAdapter(output)
    schema = adapter.json_schema()

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return adapter, schema


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    try:
        check_schema(schema)  # linear time, no recursion: a hostile schema is refused, not expanded
    except SchemaProblem as exc:
        raise UsageError(f"output schema is not a valid JSON Schema: {exc}") from exc
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    body = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    try:
        return inline_refs(body, defs, root=schema)
    except SchemaProblem as exc:
        raise UsageError(f"output schema is too large: {exc}") from exc
    except RecursiveSchema as exc:
        raise UsageError(f"output schema: definition {exc.name!r} refers to itself; bound the nesting, a grammar cannot decode a recursive schema") from exc
    except KeyError as exc:
        raise UsageError(f"output schema: $ref {exc.args[0]!r} points nowhere; only local refs (#/$defs/Name) are supported") from exc


async def _answer(
    session: Session, query: str, result: ExecutionResult | None, answer_format: tuple[TypeAdapter[Any], dict[str, Any]] | None
) -> Any:
    observations = _observations(result)
    adapter, schema = answer_format if answer_format is not None else (None, None)
    messages = answer_messages(query, observations, structured=schema is not None)

    def on_text(piece: str) -> None:
        session.rec.emit("answer.delta", text=piece)

    async def attempt(model: Model) -> Any:
        text = await session.text("answerer", model, messages, schema=schema, max_tokens=_ANSWER_TOKENS, on_text=on_text)
        if schema is None or adapter is None:
            return text.strip()
        try:
            return adapter.validate_json(text)
        except ValidationError as exc:
            raise ModelError(f"answerer model {model.name!r} wrote output that does not fit the output type: {exc}") from exc

    answer = await session.with_fallback("answerer", attempt)
    shown = answer if isinstance(answer, str) else TypeAdapter(type(answer)).dump_python(answer, mode="json")
    session.rec.emit("answer.completed", answer=shown)
    return answer


async def run(
    session: Session, runtime: Runtime, query: str, *, output: Any = None, config: LoopConfig, registry: ToolRegistry | None = None
) -> RunResult:
    """One reasoning run (see the module docstring). Raises what ended it, after ``run.failed``.

    ``registry`` (default: the runtime's) is the set of tools the planner may use this run.
    """
    registry = registry if registry is not None else runtime.registry
    answer_format = output_schema(output) if output is not None else None  # a bad output= fails before anything runs
    rec = session.rec
    rec.emit("run.started", query=query, tools=registry.names(), roles={r: session.roles.names(r) for r in ("planner", "joiner", "answerer")})
    plans: list[Plan] = []
    result: ExecutionResult | None = None
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + session.budget.seconds) as scope:
            if len(registry):
                reason: str | None = None
                while True:
                    try:
                        result = await _plan_and_execute(session, runtime, registry, query, config, result, reason, plans)
                    except PlanError as exc:  # every planner model wrote an invalid plan: show it the error
                        action, reason = "replan", f"the last plan was invalid: {exc}"
                        rec.emit("join.decision", action=action, reason=reason, by="loop")
                    else:
                        action, reason = await _join(session, query, result)
                    if action == "finish":
                        break
                    if rec.iteration + 1 >= session.budget.iterations:
                        raise BudgetExceeded("iterations", session.budget.iterations)
                    rec.iteration += 1
            answer = await _answer(session, query, result, answer_format)
        if scope.cancelled_caught:
            raise BudgetExceeded("seconds", session.budget.seconds)
    except Exception as exc:
        rec.emit("run.failed", error={"type": type(exc).__name__, "message": str(exc)})
        raise
    usage = {name: {"calls": u.calls, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "seconds": round(u.seconds, 3)} for name, u in session.usage.items()}
    shown = answer if isinstance(answer, str) else TypeAdapter(type(answer)).dump_python(answer, mode="json")
    rec.emit("run.completed", answer=shown, usage=usage)
    return RunResult(
        query=query,
        answer=answer,
        plans=plans,
        outputs=dict(result.outputs) if result else {},
        errors={**result.errors, **{k: f"skipped: {v}" for k, v in result.skipped.items()}} if result else {},
        usage=dict(session.usage),
        trace=list(rec.events),
    )


async def plan_only(session: Session, runtime: Runtime, query: str, *, config: LoopConfig) -> Plan:
    """Ask the planner for a plan without running any tool (``Engine.explain(question)``)."""
    schema = config.schema(runtime.registry, {})
    messages = plan_messages(query, runtime.registry, examples=config.examples)

    async def attempt(model: Model) -> Plan:
        parser = PlanStreamParser(runtime.registry)
        text = await session.text("planner", model, messages, schema=schema, max_tokens=_PLAN_TOKENS)
        parser.feed(text)
        return parser.finish()

    return await session.with_fallback("planner", attempt)

