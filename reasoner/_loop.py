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
   instance of it. ``answer.reset`` says to discard the text streamed so far: a fallback
   model starts the answer again, or a looping answer was cut (its kept text follows).
5. ``run.completed``, or ``run.failed`` with the error, which is then raised.

Every model call emits ``usage``; a role's fallback models are tried in order on error,
timeout or invalid output (``model.fallback``). A :class:`Budget` bounds iterations,
tokens and seconds. With no tools registered, the loop skips planning and answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import TypeAdapter, ValidationError

from reasoner._executor import ExecutionResult, execute
from reasoner._output import output_schema
from reasoner._roles import ModelUsage, Session
from reasoner.errors import BudgetExceeded, ModelError, NodeFailure, PlanError, UsageError
from reasoner.events import Event
from reasoner.models import Model, validate_output
from reasoner.planner import Node, Plan, PlanStreamParser, plan_schema
from reasoner.planner._calls import CallIndex
from reasoner.planner._prompts import (
    JOIN_SCHEMA,
    Example,
    Observation,
    answer_messages,
    format_observations,
    join_messages,
    plan_messages,
)
from reasoner.planner._retrieval import Retrieved
from reasoner.tools import ToolRegistry

if TYPE_CHECKING:
    from reasoner._runtime import Runtime

__all__ = ["RunResult", "plan_only", "run"]

_JOIN_TOKENS = 96
_ANSWER_TOKENS = 192


@dataclass(frozen=True, slots=True)
class RunResult:
    """What :meth:`Engine.reason` returns.

    Attributes:
        answer: the answer text, or an instance of ``output=`` when one was given.
        plans: each plan the planner wrote (one per iteration).
        outputs: node id -> tool output, for every node that succeeded (all iterations).
        errors: node id -> a :class:`~reasoner.errors.NodeFailure` for each node that failed
            or was skipped (``str()`` of it is ``"ErrorType: message"`` or ``"skipped: why"``;
            ``.error`` is the exception the call raised).
        usage: model name -> its summed usage over the run.
        trace: every event of the run, in order (replayable; see ``reasoner.events``).
        partial: ``None`` for a complete answer; else what is missing (the budget ended,
            or the planner could only repeat itself, and the answer is from the results so far).
    """

    query: str
    answer: Any
    plans: list[Plan]
    outputs: dict[int, Any]
    errors: dict[int, NodeFailure]
    usage: dict[str, ModelUsage]
    trace: list[Event] = field(repr=False)
    partial: str | None = None

    @property
    def plan(self) -> Plan:
        """Every node that ran, over all iterations, as one plan."""
        return Plan(tuple(node for plan in self.plans for node in plan.nodes))

    @property
    def run_id(self) -> str:
        return self.trace[0].run_id if self.trace else ""


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Planner settings (``Engine(max_plan_nodes=, max_string=, max_array=, max_plan_tokens=)``).

    The plan grammar bounds every string and array: by the tool's own ``maxLength`` /
    ``maxItems`` where its schema states one, else by ``max_string`` characters and
    ``max_array`` items (defaults that fit real arguments: a long URL, a message body, a
    list of a few dozen numbers). The plan may take ``max_tokens`` tokens; in its last
    ``close_within`` tokens a local model is steered to close what is open, so the plan can
    end within the cap whatever the bounds, and a plan cut off anyway keeps its complete
    nodes.
    """

    examples: Sequence[Example] = ()
    max_nodes: int = 16
    max_string: int = 2048
    max_array: int = 64
    max_tokens: int = 1024
    max_observation_tokens: int = 1024

    def __post_init__(self) -> None:
        for name in ("max_nodes", "max_string", "max_array", "max_tokens", "max_observation_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"Engine({_SETTING[name]}={value!r}) must be an integer >= 1")
        if self.max_tokens < 64:
            raise UsageError(f"Engine(max_plan_tokens={self.max_tokens}) must be at least 64: a plan of one call needs room to open and close")

    @property
    def close_within(self) -> int:
        """The last tokens of the plan cap, in which a local planner is steered to close the plan."""
        return min(64, self.max_tokens // 4)

    def schema(self, registry: ToolRegistry, previous: Mapping[int, Node], decoded: Sequence[str] | None = None) -> dict[str, Any]:
        """The strict plan grammar: ids count up from after ``previous``, refs point only to
        earlier nodes, and ref paths exist in the output of the tool that node called, with
        a type that fits.

        ``decoded=None`` is the one grammar for a model that cannot swap grammars while it
        decodes: a ref between two new nodes may then name a path of another tool's output
        (``unknown_tool_paths="union"``), which validation rejects. With ``decoded`` (the
        tools of the nodes closed so far) the grammar is rebuilt as each node closes and
        every ref names a field of the tool that node actually chose."""
        if decoded is None:
            return plan_schema(
                registry, max_nodes=self.max_nodes, max_string=self.max_string, max_array=self.max_array,
                strict=True, previous=previous, unknown_tool_paths="union",
            )  # fmt: skip
        return plan_schema(
            registry, max_nodes=self.max_nodes, max_string=self.max_string, max_array=self.max_array,
            strict=True, previous=previous, decoded=decoded, lookahead=2,
        )  # fmt: skip


class _Grammars:
    """The plan grammars of one planner call: one fixed schema, or (for a model that
    refines) one per prefix of decoded tools, each built once."""

    def __init__(self, config: LoopConfig, registry: ToolRegistry, previous: Mapping[int, Node], model: Model) -> None:
        self._config = config
        self._registry = registry
        self._previous = previous
        self.exact = bool(getattr(model, "refines_schema", False))
        self._built: dict[tuple[str, ...] | None, dict[str, Any]] = {}

    def schema(self, decoded: tuple[str, ...] | None) -> dict[str, Any]:
        key = decoded if self.exact else None
        if key not in self._built:
            self._built[key] = self._config.schema(self._registry, self._previous, key)
        return self._built[key]


_SETTING = {
    "max_nodes": "max_plan_nodes", "max_string": "max_string", "max_array": "max_array",
    "max_tokens": "max_plan_tokens", "max_observation_tokens": "max_observation_tokens",
}  # fmt: skip
_OBSERVATION_CHARS = 4000  # at most, per observation


def _observation_chars(observations: Sequence[Observation], model: Model, cap: int) -> int:
    """Characters per observation such that all of them fit ``cap`` tokens of ``model``'s
    tokenizer (a model that cannot count: about 4 characters a token)."""
    if not observations:
        return _OBSERVATION_CHARS
    count = getattr(model, "count_text", None)
    measure: Any = count if callable(count) else (lambda text: len(text) // 4 + 1)
    chars = min(_OBSERVATION_CHARS, 4 * cap // len(observations))  # about 4 characters a token to start
    while chars > 40 and measure(format_observations(observations, chars)) > cap:
        chars = chars * 2 // 3
    return chars


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


_REPEATS = 2  # the planner is stopped after writing this many repeated calls in a row


async def _plan_stream(
    session: Session,
    model: Model,
    messages: Any,
    grammars: _Grammars,
    parser: PlanStreamParser,
    plans: list[Plan],
    config: LoopConfig,
    calls: CallIndex,
) -> AsyncGenerator[Node, None]:
    """The planner's nodes as they close. The plan ends early, keeping the nodes so far, when
    the planner repeats calls (``_REPEATS`` in a row), runs out of tokens mid-node, writes a
    bad node or fails after its first node: nodes already dispatched are never lost and never
    planned again by a fallback model. With no node yet, the error propagates (fallback)."""
    stopped: str | None = None
    repeats = 0

    def refine() -> dict[str, Any]:  # the model asks before each step: narrow as nodes close
        return grammars.schema(tuple(node.tool for node in parser.nodes))

    try:
        async with aclosing(
            session.deltas(
                "planner", model, messages, schema=grammars.schema(()), max_tokens=config.max_tokens,
                close_within=config.close_within, refine=refine if grammars.exact else None,
            )  # fmt: skip
        ) as pieces:
            async for piece in pieces:
                for node in parser.feed(piece):
                    session.rec.emit("plan.node", node.id, node=node.to_dict())
                    yield node
                    repeats = repeats + 1 if calls.add(node) is not None else 0
                    if repeats >= _REPEATS:
                        stopped = f"the planner repeated a call {repeats} times in a row"
                        break
                if stopped:
                    break
        plan = parser.finish() if stopped is None else Plan(parser.nodes)
    except (ModelError, PlanError, TimeoutError) as exc:
        if not parser.nodes:
            raise
        stopped = f"{type(exc).__name__}: {exc}"
        plan = Plan(parser.nodes)
    plans.append(plan)
    extra: dict[str, Any] = {} if stopped is None else {"stopped": stopped}
    session.rec.emit("plan.completed", nodes=len(plan.nodes), plan=plan.to_dict(), model=model.name, **extra)


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
    observations = _observations(previous)

    async def attempt(model: Model) -> ExecutionResult:
        messages = plan_messages(
            query, registry, history=session.history, examples=config.examples, observations=observations, replan_reason=reason,
            first_id=max(known, default=0) + 1, observation_chars=_observation_chars(observations, model, config.max_observation_tokens),
        )  # fmt: skip
        parser = PlanStreamParser(registry, previous=known)
        calls = CallIndex()
        for node in known.values():
            if previous is not None and node.id in previous.outputs:
                calls.add(node)
        nodes = _plan_stream(session, model, messages, _Grammars(config, registry, known, model), parser, plans, config, calls)
        return await execute(runtime, nodes, session.rec, previous=previous, approve=session.approve)

    return await session.with_fallback("planner", attempt)


async def _run_given(session: Session, runtime: Runtime, plan: Plan, plans: list[Plan]) -> ExecutionResult:
    """A plan given by the caller (one a person reviewed or edited) stands in for the first planner call."""
    for node in plan.nodes:
        session.rec.emit("plan.node", node.id, node=node.to_dict())
    plans.append(plan)
    session.rec.emit("plan.completed", nodes=len(plan.nodes), plan=plan.to_dict(), model="given")
    return await execute(runtime, plan, session.rec, approve=session.approve)


async def _join(session: Session, query: str, result: ExecutionResult, config: LoopConfig) -> tuple[str, str]:
    observations = _observations(result)

    async def attempt(model: Model) -> dict[str, Any]:
        chars = _observation_chars(observations, model, config.max_observation_tokens)
        messages = join_messages(query, observations, history=session.history, observation_chars=chars)
        text = await session.text("joiner", model, messages, schema=JOIN_SCHEMA, max_tokens=_JOIN_TOKENS)
        decision: dict[str, Any] = json.loads(text)
        return decision

    decision = await session.with_fallback("joiner", attempt)
    action, why = decision["action"], decision.get("reason", "")
    session.rec.emit("join.decision", action=action, reason=why)
    return action, why


def repetition_cut(text: str, longest: int = 200) -> int | None:
    """Where to cut ``text`` when it ends in a loop: the end of the first copy of a unit
    (up to ``longest`` characters) that its tail repeats at least three times in a row and
    over at least 32 characters; ``None`` when it does not end in a loop."""
    n = len(text)
    for size in range(1, min(longest, n // 3) + 1):
        copies = max(3, -(-32 // size))
        span = size * copies
        if span > n:
            continue
        start = n - span
        if text[start:] == text[start : start + size] * copies:
            while start >= size and text[start - size : start] == text[start : start + size]:
                start -= size  # back to the loop's first copy
            return start + size
    return None


async def _answer(
    session: Session,
    query: str,
    result: ExecutionResult | None,
    answer_format: tuple[TypeAdapter[Any], dict[str, Any]] | None,
    config: LoopConfig,
    missing: str | None = None,
) -> Any:
    observations = _observations(result)
    adapter, schema = answer_format if answer_format is not None else (None, None)
    stopped: list[str] = []

    def messages_for(model: Model) -> list[Any]:
        chars = _observation_chars(observations, model, config.max_observation_tokens)
        return answer_messages(query, observations, structured=schema is not None, missing=missing, history=session.history, observation_chars=chars)

    streamed: list[str] = []  # the answer text streamed so far

    def on_text(piece: str) -> None:
        streamed.append(piece)
        session.rec.emit("answer.delta", text=piece)

    def reset(reason: str) -> None:  # consumers discard the text streamed so far
        if streamed:
            streamed.clear()
            session.rec.emit("answer.reset", reason=reason)

    async def answer_text(model: Model) -> str:
        # every piece waits for a slow stream reader (a bounded stream holds the decoding back);
        # a small model may loop ("23 times 23 is 529. 23 times 23 is 529. ..."): free text stops there
        text = ""
        async with aclosing(session.deltas("answerer", model, messages_for(model), schema=schema, max_tokens=_ANSWER_TOKENS)) as pieces:
            async for piece in pieces:
                text += piece
                cut = repetition_cut(text) if schema is None else None
                if cut is not None:
                    stopped.append("repetition")
                    if len("".join(streamed)) > cut:  # the loop's start was streamed: stream the kept text again
                        reset("repetition")
                        on_text(text[:cut])
                    return text[:cut].strip()
                on_text(piece)
                await session.rec.room()
        return text.strip() if schema is None else text

    async def attempt(model: Model) -> Any:
        reset("fallback")  # a fallback model starts the answer again
        text = await answer_text(model)
        if schema is None or adapter is None:
            return text
        validate_output(text, schema, model=model.name)
        try:
            return adapter.validate_json(text)
        except ValidationError as exc:
            raise ModelError(f"answerer model {model.name!r} wrote output that does not fit the output type: {exc}") from exc

    answer = await session.with_fallback("answerer", attempt)
    shown = answer if isinstance(answer, str) else TypeAdapter(type(answer)).dump_python(answer, mode="json")
    extra: dict[str, Any] = {"stopped": stopped[0]} if stopped else {}
    if missing:
        extra["partial"] = missing
    session.rec.emit("answer.completed", answer=shown, **extra)
    return answer


def _repeats_known_calls(result: ExecutionResult, before: ExecutionResult) -> bool:
    """Whether every node the new plan added repeats a call that already succeeded."""
    calls = CallIndex()
    for node in before.plan.nodes:
        if node.id in before.outputs:
            calls.add(node)
    done = {node.id for node in before.plan.nodes}
    new = [node for node in result.plan.nodes if node.id not in done]
    return bool(new) and all(calls.add(node) is not None for node in new)


def _from_trace(events: Sequence[Event], result: ExecutionResult | None) -> ExecutionResult | None:
    """What the events say ran, for a run cut off mid-plan (its execute never returned)."""
    nodes = {n.id: n for n in result.plan.nodes} if result else {}
    outputs = dict(result.outputs) if result else {}
    errors = dict(result.errors) if result else {}
    for event in events:
        if event.type == "plan.node" and event.node_id is not None and event.node_id not in nodes:
            nodes[event.node_id] = Node.from_dict(event.data["node"])
        elif event.type == "node.completed" and event.node_id is not None:
            outputs[event.node_id] = event.data.get("output")
        elif event.type == "node.failed" and event.node_id is not None:
            error = event.data.get("error") or {}
            errors[event.node_id] = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    if not nodes:
        return None
    ran = [nodes[i] for i in sorted(nodes) if i in outputs or i in errors]
    return ExecutionResult(plan=Plan(tuple(ran)), outputs={i: outputs[i] for i in sorted(outputs) if i in nodes}, errors=errors)


async def run(
    session: Session,
    runtime: Runtime,
    query: str,
    *,
    output: Any = None,
    config: LoopConfig,
    registry: ToolRegistry | None = None,
    retrieved: Retrieved | None = None,
    plan: Plan | None = None,
) -> RunResult:
    """One reasoning run (see the module docstring). Raises what ended it, after ``run.failed``.

    ``plan`` (validated by the caller) is run as the first iteration's plan instead of
    asking the planner; the joiner may still ask for a replan.

    ``registry`` (default: the runtime's) is the set of tools the planner may use this run;
    ``retrieved`` narrows it to the tools retrieval chose (``retrieval.selected``).

    When the iteration, token or time budget ends (or the planner only repeats calls already
    made) while there are results, the run answers from them and ``RunResult.partial`` says
    what is missing; :class:`BudgetExceeded` is raised only when there is nothing to answer
    from. Planning and joining leave a share of the token budget for that answer.
    A run whose time ran out gets ``min(30, seconds)`` more seconds to answer.
    """
    registry = registry if registry is not None else runtime.registry
    answer_format = output_schema(output) if output is not None else None  # a bad output= fails before anything runs
    rec = session.rec
    turns: dict[str, Any] = {"history": [{"role": m.role, "content": m.content} for m in session.history]} if session.history else {}
    rec.emit("run.started", query=query, tools=registry.names(), roles={r: session.roles.names(r) for r in ("planner", "joiner", "answerer")}, **turns)
    if retrieved is not None:  # the planner sees, and its grammar allows, only these
        rec.emit("retrieval.selected", **retrieved.to_dict())
        registry = ToolRegistry.of([registry[name] for name in retrieved.tools])
    plans: list[Plan] = []
    result: ExecutionResult | None = None
    partial: str | None = None
    spent: BudgetExceeded | None = None
    budget = session.budget
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + budget.seconds) as scope:
            if len(registry) or plan is not None:
                reason: str | None = None
                while True:
                    before = result
                    try:
                        if plan is not None and not plans:
                            result = await _run_given(session, runtime, plan, plans)
                        else:
                            result = await _plan_and_execute(session, runtime, registry, query, config, result, reason, plans)
                    except PlanError as exc:  # every planner model wrote an invalid plan: show it the error
                        action, reason = "replan", f"the last plan was invalid: {exc}"
                        rec.emit("join.decision", action=action, reason=reason, by="loop")
                    except BudgetExceeded as exc:  # planning used the tokens not kept for the answer
                        result, spent = _from_trace(rec.events, result), exc
                        partial = f"the token budget of {budget.tokens} ran out while planning"
                        break
                    else:
                        if plans and not plans[-1].nodes:  # an empty plan: no (further) tool applies
                            rec.emit("join.decision", action="finish", reason="the planner called no tool", by="loop")
                            break
                        if before is not None and reason and _repeats_known_calls(result, before):
                            partial = f"asked to plan again ({reason}), the planner only repeated calls already made"
                            rec.emit("join.decision", action="finish", reason=partial, by="loop")
                            break
                        try:
                            action, reason = await _join(session, query, result, config)
                        except BudgetExceeded as exc:
                            spent, partial = exc, f"the token budget of {budget.tokens} ran out before the results were checked"
                            break
                    if action == "finish":
                        break
                    if rec.iteration + 1 >= budget.iterations:
                        partial = f"the budget of {budget.iterations} plan(s) ran out; still missing: {reason}"
                        spent = BudgetExceeded("iterations", budget.iterations)
                        break
                    rec.iteration += 1
        if scope.cancelled_caught:
            result = _from_trace(rec.events, result)
            partial = f"the time budget of {budget.seconds:g} s ran out before the plan finished"
            spent = BudgetExceeded("seconds", budget.seconds)
        answer = await answer_after(session, query, result, answer_format, config, partial, spent, scope.deadline)
    except Exception as exc:
        rec.emit("run.failed", error={"type": type(exc).__name__, "message": str(exc)})
        raise
    return completed(session, query, answer, plans, result, partial)



async def answer_after(
    session: Session,
    query: str,
    result: ExecutionResult | None,
    answer_format: tuple[TypeAdapter[Any], dict[str, Any]] | None,
    config: LoopConfig,
    partial: str | None,
    spent: BudgetExceeded | None,
    deadline: float,
) -> Any:
    """The answer once planning ended (plan and react mode): ``spent`` is raised when there
    is nothing to answer from; a run whose budget ran out gets ``min(30, seconds)`` more
    seconds to answer, another the time left before ``deadline``."""
    if spent is not None and (result is None or not result.outputs):
        raise spent
    seconds = session.budget.seconds
    with anyio.move_on_after(min(30.0, seconds) if spent is not None else max(deadline - anyio.current_time(), 0.0)) as answering:
        answer = await _answer(session, query, result, answer_format, config, partial)
    if answering.cancelled_caught:
        raise BudgetExceeded("seconds", seconds)
    return answer


def node_failures(result: ExecutionResult | None) -> dict[int, NodeFailure]:
    """``RunResult.errors``: each failed or skipped node of ``result``, as an exception."""
    if result is None:
        return {}
    failed = {k: NodeFailure(text, node_id=k, error=result.exceptions.get(k)) for k, text in result.errors.items()}
    skipped = {k: NodeFailure(f"skipped: {why}", node_id=k, skipped=True) for k, why in result.skipped.items()}
    return {**failed, **skipped}


def completed(session: Session, query: str, answer: Any, plans: list[Plan], result: ExecutionResult | None, partial: str | None) -> RunResult:
    """Emit ``run.completed`` and build the run's :class:`RunResult` (plan and react mode)."""
    usage = {name: {"calls": u.calls, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "seconds": round(u.seconds, 3)} for name, u in session.usage.items()}
    shown = answer if isinstance(answer, str) else TypeAdapter(type(answer)).dump_python(answer, mode="json")
    ending: dict[str, Any] = {"partial": partial} if partial else {}
    session.rec.emit("run.completed", answer=shown, usage=usage, **ending)
    return RunResult(
        query=query,
        answer=answer,
        plans=plans,
        outputs=dict(result.outputs) if result else {},
        errors=node_failures(result),
        usage=dict(session.usage),
        trace=list(session.rec.events),
        partial=partial,
    )

async def plan_only(session: Session, runtime: Runtime, query: str, *, config: LoopConfig, registry: ToolRegistry | None = None) -> Plan:
    """Ask the planner for a plan without running any tool (``Engine.explain(question)``).

    As in a run, a plan cut off (token cap, a bad node, a failing model) keeps its complete
    nodes, and repeated calls end it."""
    registry = registry if registry is not None else runtime.registry
    messages = plan_messages(query, registry, history=session.history, examples=config.examples)

    async def attempt(model: Model) -> Plan:
        plans: list[Plan] = []
        parser = PlanStreamParser(registry)
        grammars = _Grammars(config, registry, {}, model)
        async with aclosing(_plan_stream(session, model, messages, grammars, parser, plans, config, CallIndex())) as nodes:
            async for _ in nodes:
                pass
        return plans[-1]

    return await session.with_fallback("planner", attempt)
