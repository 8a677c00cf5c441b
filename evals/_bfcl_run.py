"""Plan BFCL questions with an engine's planner and score the plans: :func:`run_bfcl`.

Each item gets an engine over its own functions (``make_engine(registry)``); the question
is planned by ``engine.explain(question)``: the planner model under our plan grammar,
nothing run. The plan's nodes, in order, are the model's calls, scored by BFCL's AST
semantics (``reasoner.evals._bfcl_check``). An item whose functions the engine cannot
register (BFCL has a few integer parameters with string enums) or whose planning fails
scores 0, and its row says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import fmean
from typing import TYPE_CHECKING, Any

from reasoner.errors import ReasonerError, ToolDefinitionError
from reasoner.evals._bfcl import BfclItem, BfclSet, bfcl_registry, plan_calls, score_bfcl
from reasoner.evals._report import Machine, _seconds, _table, describe_machine, percentile, source_commit, utc_now

if TYPE_CHECKING:
    from reasoner import Engine
    from reasoner.events import Event
    from reasoner.tools import ToolRegistry

__all__ = ["BfclReport", "BfclRow", "run_bfcl"]


@dataclass(frozen=True, slots=True)
class BfclRow:
    """One item: its verdict, the calls the plan made, cost, and why it failed (``error_type``:
    BFCL's, or ``unsupported_schema`` / ``planning_failed``)."""

    id: str
    valid: bool
    calls: list[dict[str, dict[str, Any]]]
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    error: str = ""
    error_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "valid": self.valid, "calls": self.calls, "latency_s": round(self.latency_s, 4),
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "error": self.error, "error_type": self.error_type,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class BfclReport:
    """The rows of one BFCL category and the run's context; ``accuracy`` is BFCL's (valid / n)."""

    data: BfclSet
    rows: tuple[BfclRow, ...]
    models: dict[str, list[str]]
    started_at: str
    wall_s: float
    machine: Machine
    commit: str | None

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def accuracy(self) -> float:
        return sum(r.valid for r in self.rows) / self.n if self.rows else 0.0

    def _count(self, kind: str) -> int:
        return sum(r.error_type == kind for r in self.rows)

    def summary(self) -> dict[str, Any]:
        latencies = [r.latency_s for r in self.rows]
        return {
            "n": self.n,
            "correct": sum(r.valid for r in self.rows),
            "accuracy": self.accuracy,
            "unsupported_schema": self._count("unsupported_schema"),
            "planning_failed": self._count("planning_failed"),
            "latency_median_s": percentile(latencies, 50),
            "latency_p90_s": percentile(latencies, 90),
            "latency_mean_s": fmean(latencies) if latencies else None,
            "prompt_tokens": sum(r.prompt_tokens for r in self.rows),
            "completion_tokens": sum(r.completion_tokens for r in self.rows),
        }

    def to_dict(self) -> dict[str, Any]:
        from reasoner import __version__

        return {
            "kind": "bfcl",
            "dataset": f"bfcl:{self.data.category}",
            "dataset_version": f"bfcl-eval {self.data.version} (BFCL v4)",
            "category_size": self.data.total,
            "skipped_items": self.data.skipped,
            "sample": self.data.sample,
            "seed": self.data.seed,
            "mode": "plan",
            "models": self.models,
            "started_at": self.started_at,
            "wall_s": round(self.wall_s, 3),
            "machine": self.machine.to_dict(),
            "commit": self.commit,
            "reasoner_version": __version__,
            "summary": self.summary(),
            "items": [r.to_dict() for r in self.rows],
        }

    def __str__(self) -> str:
        s = self.summary()
        drawn = f"sample {self.data.sample}, seed {self.data.seed}" if self.data.sample else "first items in file order"
        models = " | ".join(f"{role} {', '.join(names)}" for role, names in self.models.items()) or "-"
        head = [
            f"reasoner eval: BFCL {self.data.category} (bfcl-eval {self.data.version}), {self.n} of {self.data.total} items ({drawn}), {self.started_at}, {self.wall_s:.1f} s",
            f"models   {models}",
            f"machine  {self.machine}",
            f"commit   {self.commit or 'unknown (not a git checkout)'}",
            "",
            f"accuracy {100 * self.accuracy:.1f}% ({s['correct']}/{self.n}; BFCL AST checker semantics)"
            f"  latency median {_seconds(s['latency_median_s'])}, p90 {_seconds(s['latency_p90_s'])}"
            f"  tokens {s['prompt_tokens'] + s['completion_tokens']:,}",
        ]
        if s["unsupported_schema"] or s["planning_failed"]:
            head.append(f"unsupported schemas {s['unsupported_schema']}, planning failed {s['planning_failed']} (both scored wrong)")
        rows = []
        for r in self.rows:
            calls = ", ".join(next(iter(c)) for c in r.calls) or "(no call)"
            why = f"{r.error_type}: {' '.join(r.error.split())}" if r.error_type else ""
            rows.append((r.id, "yes" if r.valid else "no", _seconds(r.latency_s), calls if len(calls) <= 40 else calls[:37] + "...", why[:90]))
        return "\n".join([*head, "", *_table(("id", "ok", "latency", "calls", "why not"), rows)])


async def _plan_item(make_engine: Callable[[ToolRegistry], Engine], item: BfclItem) -> tuple[BfclRow, dict[str, list[str]]]:
    try:
        registry = bfcl_registry(item)
    except ToolDefinitionError as exc:
        return BfclRow(item.id, False, [], 0.0, 0, 0, str(exc), "unsupported_schema"), {}
    engine = make_engine(registry)
    roles = {"planner": engine.role_models("planner")}
    tokens = [0, 0]

    def count(event: Event) -> None:
        if event.type == "usage":
            tokens[0] += int(event.data.get("prompt_tokens", 0))
            tokens[1] += int(event.data.get("completion_tokens", 0))

    start = time.perf_counter()
    try:
        explanation = await engine.explain(item.question, on_event=count)
    except (ReasonerError, TimeoutError) as exc:  # a failed plan is a wrong answer, not a reason to stop
        elapsed = time.perf_counter() - start
        return BfclRow(item.id, False, [], elapsed, tokens[0], tokens[1], f"{type(exc).__name__}: {exc}", "planning_failed"), roles
    elapsed = time.perf_counter() - start
    calls = plan_calls(explanation.plan.to_dict())
    verdict = score_bfcl(item, calls)
    return BfclRow(item.id, verdict.valid, calls, elapsed, tokens[0], tokens[1], verdict.error, verdict.error_type), roles


async def run_bfcl(
    make_engine: Callable[[ToolRegistry], Engine],
    data: BfclSet,
    *,
    on_item: Callable[[BfclRow], None] | None = None,
) -> BfclReport:
    """Plan every item of ``data`` (see :func:`~reasoner.evals.load_bfcl`) and score it.

    Args:
        make_engine: returns an engine over the given registry (the item's functions),
            with the planner under evaluation; called once per item. Reuse loaded models
            across calls (pass Model objects, not names), or every item reloads them.
        data: the items.
        on_item: called with each row as it is scored (progress).

    Items run one at a time, so latencies do not inflate each other.
    """
    rows: list[BfclRow] = []
    models: dict[str, list[str]] = {}
    started, wall, commit = utc_now(), time.perf_counter(), source_commit()  # the code that ran, not what is checked out at the end
    for item in data:
        row, roles = await _plan_item(make_engine, item)
        models = models or roles
        rows.append(row)
        if on_item is not None:
            on_item(row)
    return BfclReport(data, tuple(rows), models, started, time.perf_counter() - wall, describe_machine(), commit)

