"""The sequential baseline: one tool call per model turn (``Engine(mode="react")``).

This is the usual agent loop (OpenAI function calling, ReAct): the model calls one
tool, sees its result, calls the next, and stops when it calls none. It exists to
measure what planning the whole graph at once buys, so it uses everything the plan
mode uses (the same models, prompts, grammar, executor and answerer), with two
differences only:

- each turn's plan holds at most one node (the grammar's ``maxItems`` is 1), and the
  planner sees every result so far (``Results so far: ...``), as a replan does;
- no joiner: the model's own next turn decides. It is done when it writes an empty plan
  (no further tool applies) or repeats a call it has already made; the answerer then
  answers from the results (a repeated call is not run twice: the executor treats it as
  an alias of the first). Each turn is one iteration of the budget, so the iteration
  budget caps the number of calls (the run answers partially when it runs out).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import anyio

from reasoner._executor import ExecutionResult
from reasoner._loop import (
    LoopConfig,
    RunResult,
    _from_trace,
    _plan_and_execute,
    answer_after,
    completed,
)
from reasoner._output import output_schema
from reasoner._roles import Session
from reasoner.errors import BudgetExceeded, PlanError
from reasoner.planner import Plan
from reasoner.planner._calls import CallIndex
from reasoner.planner._retrieval import Retrieved
from reasoner.tools import ToolRegistry

if TYPE_CHECKING:
    from reasoner._runtime import Runtime

__all__ = ["REACT_TURNS", "run_react"]

REACT_TURNS = 8  # the default turn budget (Budget.iterations) in react mode: the demo set's longest plan has 5 calls


def _repeats_a_call(result: ExecutionResult, before: ExecutionResult) -> bool:
    """Whether the turn's new call repeats any earlier call, whether that one succeeded or
    failed: the tools are deterministic, so the model learns nothing new by repeating it."""
    calls = CallIndex()
    for node in before.plan.nodes:
        calls.add(node)
    done = {node.id for node in before.plan.nodes}
    new = [node for node in result.plan.nodes if node.id not in done]
    return bool(new) and all(calls.add(node) is not None for node in new)


async def run_react(
    session: Session,
    runtime: Runtime,
    query: str,
    *,
    output: Any = None,
    config: LoopConfig,
    registry: ToolRegistry | None = None,
    retrieved: Retrieved | None = None,
) -> RunResult:
    """One run in react mode (see the module docstring); events and result as in plan mode."""
    registry = registry if registry is not None else runtime.registry
    answer_format = output_schema(output) if output is not None else None
    rec = session.rec
    roles = {r: session.roles.names(r) for r in ("planner", "joiner", "answerer")}
    rec.emit("run.started", query=query, tools=registry.names(), roles=roles, mode="react")
    if retrieved is not None:
        rec.emit("retrieval.selected", **retrieved.to_dict())
        registry = ToolRegistry.of([registry[name] for name in retrieved.tools])
    one_call = dataclasses.replace(config, max_nodes=1)
    plans: list[Plan] = []
    result: ExecutionResult | None = None
    partial: str | None = None
    spent: BudgetExceeded | None = None
    budget = session.budget
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + budget.seconds) as scope:
            reason: str | None = None
            while len(registry):
                before = result
                try:
                    result = await _plan_and_execute(session, runtime, registry, query, one_call, result, reason, plans)
                    reason = None
                except PlanError as exc:  # as in plan mode: the next turn sees the error
                    reason = f"the last call was invalid: {exc}"
                    rec.emit("join.decision", action="replan", reason=reason, by="loop")
                else:
                    if plans and not plans[-1].nodes:
                        rec.emit("join.decision", action="finish", reason="the model called no further tool", by="react")
                        break
                    if before is not None and _repeats_a_call(result, before):
                        rec.emit("join.decision", action="finish", reason="the model repeated a call it had made", by="react")
                        break
                if rec.iteration + 1 >= budget.iterations:
                    partial = f"the budget of {budget.iterations} turn(s) ran out"
                    spent = BudgetExceeded("iterations", budget.iterations)
                    break
                rec.iteration += 1
        if scope.cancelled_caught:
            result = _from_trace(rec.events, result)
            partial = f"the time budget of {budget.seconds:g} s ran out before the last call finished"
            spent = BudgetExceeded("seconds", budget.seconds)
        answer = await answer_after(session, query, result, answer_format, config, partial, spent, scope.deadline)
    except Exception as exc:
        rec.emit("run.failed", error={"type": type(exc).__name__, "message": str(exc)})
        raise
    return completed(session, query, answer, plans, result, partial)
