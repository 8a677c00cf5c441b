"""Run a dataset through an engine and score every run: :func:`run_eval`.

Each item is one fresh ``engine.stream(question)`` run, watched through its events
(DESIGN.md section 5), so a run that fails still yields what it produced:

- the plan: every node of every ``plan.completed`` (all iterations, as
  ``RunResult.plan`` has them), and the first plan on its own;
- the answer: ``run.completed``'s, as text (JSON for a structured answer);
- latency: wall time of the whole run; tokens: the sum of its ``usage`` events;
- rejected plans: planner calls that produced no plan (an invalid plan the loop
  replanned after, a planner fallback, a run that ended while planning).

A run that raises keeps its plan scores (its plan is invalid only when it produced
none), scores 0 for its answer, and records the error's type and message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from reasoner.errors import UsageError
from reasoner.evals._dataset import Dataset, EvalItem
from reasoner.evals._metrics import score_item
from reasoner.evals._report import EvalReport, describe_machine, source_commit, utc_now

if TYPE_CHECKING:
    from reasoner import Engine
    from reasoner.events import Event

__all__ = ["ItemResult", "run_eval"]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's run and its scores.

    Attributes:
        id, question: the dataset item.
        plan: every node the planner wrote over all iterations, ``{"nodes": [...]}``;
            ``None`` when no plan was produced.
        first_plan: the first plan alone (``None`` when there was none).
        answer: the answer text ("" when the run failed before answering).
        latency_s: wall time of the run.
        prompt_tokens, completion_tokens: summed over the run's model calls.
        plans: plans produced; rejected_plans: planner calls that produced none.
        plan_errors: why plans were rejected (the loop's replan reasons and planner fallbacks).
        error: ``{"type", "message"}`` of the error that ended the run, or ``None``.
        partial: what the answer lacks when the run answered partially (a spent budget),
            else ``None``.
        model_calls: model calls the run made (planner, joiner, answerer; one ``usage`` each).
        plan_valid, tool_selection, answer_accuracy: the scores (see ``reasoner.evals``).
        argument_accuracy: the score, or ``None`` for an item with no ``expected_args``.
    """

    id: str
    question: str
    plan: dict[str, Any] | None
    first_plan: dict[str, Any] | None
    answer: str
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    plans: int
    rejected_plans: int
    plan_errors: tuple[str, ...]
    error: dict[str, str] | None
    plan_valid: bool
    tool_selection: float
    argument_accuracy: float | None
    answer_accuracy: float
    partial: str | None = None
    model_calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "plan_valid": self.plan_valid,
            "tool_selection": self.tool_selection,
            "argument_accuracy": self.argument_accuracy,
            "answer_accuracy": self.answer_accuracy,
            "latency_s": round(self.latency_s, 4),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "model_calls": self.model_calls,
            "plans": self.plans,
            "rejected_plans": self.rejected_plans,
            "plan_errors": list(self.plan_errors),
            "error": self.error,
            "partial": self.partial,
            "answer": self.answer,
            "plan": self.plan,
            "first_plan": self.first_plan,
        }


@dataclass(frozen=True, slots=True)
class _Watched:
    """What one run's events say."""

    plans: list[dict[str, Any]]
    answer: str
    prompt_tokens: int
    completion_tokens: int
    rejected_plans: int
    plan_errors: list[str]
    tools: list[str] | None
    roles: dict[str, list[str]]
    partial: str | None = None
    calls: int = 0


def _watch(events: Sequence[Event]) -> _Watched:
    plans: list[dict[str, Any]] = []
    planned_in: set[int] = set()
    fallbacks = prompt = completion = calls = 0
    plan_errors: list[str] = []
    answer = ""
    tools: list[str] | None = None
    roles: dict[str, list[str]] = {}
    partial: str | None = None
    for event in events:
        data = event.data
        if event.type == "run.started":
            tools = list(data.get("tools", []))
            roles = {role: list(names) for role, names in data.get("roles", {}).items()}
        elif event.type == "plan.completed":
            plans.append(data["plan"])
            planned_in.add(event.iteration)
        elif event.type == "usage":
            calls += 1
            prompt += int(data.get("prompt_tokens", 0))
            completion += int(data.get("completion_tokens", 0))
        elif event.type == "model.fallback" and data.get("role") == "planner":
            fallbacks += 1
            plan_errors.append(f"{data.get('model')}: {data.get('reason')}")
        elif event.type == "join.decision" and data.get("by") == "loop" and data.get("action") == "replan":  # after an invalid plan
            plan_errors.append(str(data.get("reason", "")))
        elif event.type == "run.completed":
            value = data.get("answer")
            answer = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            partial = data.get("partial")
    # with tools, iterations 0..last each start by planning: one without a plan lost it
    last = max((event.iteration for event in events), default=-1)
    rejected = fallbacks + (sum(1 for k in range(last + 1) if k not in planned_in) if tools else 0)
    return _Watched(plans, answer, prompt, completion, rejected, plan_errors, tools, roles, partial, calls)


def _merge(plans: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    if not plans:
        return None
    return {"nodes": [node for plan in plans for node in plan.get("nodes", [])]}


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def _run_item(engine: Engine, item: EvalItem) -> tuple[ItemResult, dict[str, list[str]]]:
    events: list[Event] = []
    error: dict[str, str] | None = None
    start = time.perf_counter()
    try:
        async with aclosing(engine.stream(item.question)) as stream:  # type: ignore[type-var]
            async for event in stream:
                events.append(event)
    except Exception as exc:  # noqa: BLE001 - a run's failure is a result to score, not a reason to stop the eval
        leaf = _leaf(exc)
        error = {"type": type(leaf).__name__, "message": str(leaf)}
    latency = time.perf_counter() - start
    seen = _watch(events)
    plan = _merge(seen.plans)
    score = score_item(item.expectations(), plan, seen.answer, seen.tools)
    result = ItemResult(
        id=item.id,
        question=item.question,
        plan=plan,
        first_plan=seen.plans[0] if seen.plans else None,
        answer=seen.answer,
        latency_s=latency,
        prompt_tokens=seen.prompt_tokens,
        completion_tokens=seen.completion_tokens,
        plans=len(seen.plans),
        rejected_plans=seen.rejected_plans,
        plan_errors=tuple(seen.plan_errors),
        error=error,
        plan_valid=score.plan_valid,
        tool_selection=score.tool_selection,
        argument_accuracy=score.argument_accuracy if item.expected_args else None,
        answer_accuracy=0.0 if error is not None else score.answer_accuracy,
        partial=seen.partial,
        model_calls=seen.calls,
    )
    return result, seen.roles


def _items(items: Dataset | Iterable[EvalItem | Mapping[str, Any]]) -> list[EvalItem]:
    out = []
    for index, item in enumerate(items):
        if isinstance(item, EvalItem):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(EvalItem.model_validate(dict(item)))
        else:
            raise UsageError(f"run_eval: item {index} is a {type(item).__name__}; pass EvalItem objects or dicts (see load_dataset)")
    return out


async def run_eval(
    engine: Engine | Callable[[], Engine],
    items: Dataset | Iterable[EvalItem | Mapping[str, Any]],
    *,
    concurrency: int = 1,
    limit: int | None = None,
    on_item: Callable[[ItemResult], None] | None = None,
    dataset: str | None = None,
) -> EvalReport:
    """Run every item's question through the engine, one fresh run each, and score it.

    Args:
        engine: an :class:`~reasoner.Engine` (its tool cache is cleared before each item,
            so no run reuses another's tool results), or a function returning a new one
            per item.
        items: a :class:`Dataset` (see :func:`load_dataset`), or eval items (``EvalItem``
            or dicts with the same fields).
        concurrency: runs at once. Default 1: a local model is CPU/GPU bound, and
            concurrent runs would inflate each other's latency.
        limit: run only the first ``limit`` items.
        on_item: called with each :class:`ItemResult` as its run ends (progress).
        dataset: the name shown in the report (default: the Dataset's, else "custom").

    Returns:
        An :class:`EvalReport`: the rows in item order and the aggregates.

    Raises:
        UsageError: a bad argument, or an item that is not an eval item. A run that fails
            does not raise: its error is in its row.
    """
    from reasoner import Engine

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise UsageError(f"run_eval(concurrency={concurrency!r}) must be a whole number >= 1")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise UsageError(f"run_eval(limit={limit!r}) must be a whole number >= 1, or None for every item")
    make: Callable[[], Engine]
    if isinstance(engine, Engine):
        fixed = engine

        def make() -> Engine:
            fixed.clear_cache()
            return fixed

    elif callable(engine):
        make = engine
    else:
        raise UsageError(f"run_eval needs an Engine or a function that returns one, got {type(engine).__name__}")
    name = dataset or (items.name if isinstance(items, Dataset) else "custom")
    selected = _items(items)[:limit]

    rows: list[ItemResult | None] = [None] * len(selected)
    roles: dict[str, list[str]] = {}
    tool_names: list[str] = []
    queue = iter(enumerate(selected))
    mode_seen: list[str] = []

    async def worker() -> None:
        for index, item in queue:  # one iterator shared by the workers: each item runs once
            current = make()
            if not isinstance(current, Engine):
                raise UsageError(f"run_eval: the engine factory returned a {type(current).__name__}, not an Engine")
            row, seen_roles = await _run_item(current, item)
            if not roles and seen_roles:
                roles.update(seen_roles)
                tool_names.extend(current.tools.names())
            rows[index] = row
            mode_seen[:] = [current.mode]
            if on_item is not None:
                on_item(row)

    started, wall_start, commit = utc_now(), time.perf_counter(), source_commit()  # the code that ran
    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, len(selected))):
            tg.start_soon(worker)
    return EvalReport(
        dataset=name,
        items=tuple(row for row in rows if row is not None),
        models=roles,
        tools=tool_names,
        started_at=started,
        wall_s=time.perf_counter() - wall_start,
        concurrency=concurrency,
        machine=describe_machine(),
        commit=commit,
        mode=engine.mode if isinstance(engine, Engine) else (mode_seen[0] if mode_seen else "plan"),
    )
