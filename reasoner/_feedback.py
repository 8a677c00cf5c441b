"""Feedback on finished runs, kept with their traces, and the training examples it makes.

A person marks a run ``good``, or ``bad``, and may correct its ``answer`` or its ``plan``
(with a ``note``). The feedback is a ``feedback`` event appended to the run's trace (a
trace may hold several; the last one counts), so a saved trace carries everything a
person said about the run, next to the approvals they answered (``approval.resolved``
with ``decision: edit`` records edited arguments).

:func:`example_from_feedback` turns a trace with feedback into one example in the format
``reasoner tune`` reads (``reasoner.planner._examples``):

- ``good``: the run as it went (every plan, observation, join decision and the answer),
  with arguments a person edited at approval time in place of the planned ones;
- a corrected ``answer``: the same, with that answer;
- a corrected ``plan``: the question and that plan (a planner example; its observations
  are unknown, since that plan never ran), plus the corrected answer if one was given;
- ``bad`` with no correction: no example (nothing says what would have been right).

Traces of the command line live in a runs folder (:func:`runs_dir`), one
``RUN_ID.jsonl`` per run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reasoner.errors import PlanError, UsageError
from reasoner.events import Event, load_trace
from reasoner.planner import Plan

if TYPE_CHECKING:
    from reasoner.planner._examples import TuneExample

__all__ = ["Feedback", "append_feedback", "example_from_feedback", "feedback_event", "feedback_examples", "find_run", "latest_feedback", "runs_dir", "save_run"]

RUNS_ENV = "REASONER_RUNS_DIR"


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a person says about a finished run (at least one field)."""

    rating: Literal["good", "bad"] | None = None
    answer: str | None = None
    plan: dict[str, Any] | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.rating is None and self.answer is None and self.plan is None and self.note is None:
            raise UsageError("feedback needs at least one of rating (good or bad), answer, plan or note")
        if self.rating not in (None, "good", "bad"):
            raise UsageError(f"feedback rating must be 'good' or 'bad', got {self.rating!r}")
        if self.answer is not None and not self.answer.strip():
            raise UsageError("a corrected answer must not be empty")
        if self.plan is not None:
            try:
                Plan.from_json(self.plan)
            except PlanError as exc:
                raise UsageError(f'the corrected plan is not a plan ({{"nodes": [...]}}): {exc}') from exc

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("rating", self.rating), ("answer", self.answer), ("plan", self.plan), ("note", self.note)) if v is not None}


def feedback_event(events: Sequence[Event], feedback: Feedback) -> Event:
    """The ``feedback`` event that follows ``events`` (a finished run's trace)."""
    if not events:
        raise UsageError("feedback needs the trace of a run; this one is empty")
    last = events[-1]
    return Event("feedback", last.run_id, last.seq + 1, time.time(), last.iteration, None, feedback.to_dict())


def latest_feedback(events: Sequence[Event]) -> dict[str, Any] | None:
    """The data of the last ``feedback`` event of a trace, or ``None``."""
    return next((dict(e.data) for e in reversed(events) if e.type == "feedback"), None)


def _edited(events: Sequence[Event]) -> dict[int, dict[str, Any]]:
    """node id -> the arguments a person changed at approval time (key -> new value)."""
    out: dict[int, dict[str, Any]] = {}
    for e in events:
        if e.type == "approval.resolved" and e.data.get("decision") == "edit" and e.node_id is not None:
            new, old = e.data.get("args") or {}, e.data.get("original_args") or {}
            out[e.node_id] = {k: v for k, v in new.items() if k not in old or old[k] != v}
    return out


def _with_edits(events: Sequence[Event]) -> list[Event]:
    """The trace with each plan's nodes carrying the arguments people edited (a ref stays a
    ref unless its resolved value was changed)."""
    edits = _edited(events)
    if not edits:
        return list(events)
    out = []
    for e in events:
        if e.type == "plan.completed":
            plan = json.loads(json.dumps(e.data.get("plan") or {"nodes": []}))
            for node in plan.get("nodes", ()):
                node["args"] = {**node.get("args", {}), **edits.get(node.get("id"), {})}
            e = Event(e.type, e.run_id, e.seq, e.ts, e.iteration, e.node_id, {**e.data, "plan": plan})
        out.append(e)
    return out


def example_from_feedback(events: Sequence[Event], *, tools: str = "demo") -> TuneExample | None:
    """The training example a trace's latest feedback makes (see the module doc), or
    ``None`` when it makes none (no feedback, ``bad`` without a correction, or a run the
    trace cannot rebuild)."""
    from reasoner._tune_data import examples_from_trace
    from reasoner.planner._examples import TuneExample

    feedback = latest_feedback(events)
    if feedback is None:
        return None
    if feedback.get("plan") is not None:
        started = next((e for e in events if e.type == "run.started"), None)
        if started is None:
            return None
        data = {"question": started.data["query"], "tools": tools, "plan": feedback["plan"], "source": f"feedback:{started.run_id}"}
        if feedback.get("answer"):
            data["answer"] = feedback["answer"]
        try:
            return TuneExample.model_validate(data)
        except ValueError:
            return None
    if feedback.get("answer") is None and feedback.get("rating") != "good":
        return None
    example = examples_from_trace(_with_edits(events), tools=tools)
    if example is None:
        return None
    update: dict[str, Any] = {"source": f"feedback:{events[0].run_id}"}
    if feedback.get("answer"):
        update["answer"] = feedback["answer"]
    return example.model_copy(update=update)


# -- the runs folder of the command line ------------------------------------------------------


def runs_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the command line keeps run traces: ``$REASONER_RUNS_DIR``, else ``<reasoner home>/runs``
    (home: ``$REASONER_HOME`` or ``~/.cache/reasoner``)."""
    env = os.environ if env is None else env
    if env.get(RUNS_ENV):
        return Path(env[RUNS_ENV]).expanduser()
    home = Path(env["REASONER_HOME"]).expanduser() if env.get("REASONER_HOME") else Path.home() / ".cache" / "reasoner"
    return home / "runs"


def _checked_id(run_id: str) -> str:
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise UsageError(f"{run_id!r} is not a run id (letters, digits, - and _; reasoner run prints it at the end)")
    return run_id


def save_run(events: Sequence[Event], folder: Path) -> Path:
    """Write a run's trace to ``folder/RUN_ID.jsonl`` (the folder is created)."""
    from reasoner.events import save_trace

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_checked_id(events[0].run_id)}.jsonl"
    save_trace(events, path)
    return path


def find_run(run_id: str, folder: Path) -> tuple[Path, list[Event]]:
    """The trace file and events of run ``run_id`` in ``folder`` (``UsageError`` when absent)."""
    path = folder / f"{_checked_id(run_id)}.jsonl"
    if not path.is_file():
        raise UsageError(f"no run {run_id!r} in {folder} (reasoner run keeps its runs there unless --no-save)")
    try:
        return path, load_trace(path)
    except ValueError as exc:
        raise UsageError(f"the trace of run {run_id!r} is damaged: {exc}") from exc


def append_feedback(path: Path, events: Sequence[Event], feedback: Feedback) -> Event:
    """Append ``feedback`` to the trace file ``path`` (whose events are ``events``); the new event."""
    event = feedback_event(events, feedback)
    with open(path, "a", encoding="utf-8") as f:
        f.write(event.to_json() + "\n")
    return event


def feedback_examples(folder: Path, *, tools: str = "demo") -> tuple[list[TuneExample], list[str]]:
    """The examples the runs in ``folder`` with feedback make, and the ids of the runs with
    feedback that made none (``bad`` without a correction, or a trace that cannot be rebuilt)."""
    examples: list[TuneExample] = []
    none: list[str] = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
        try:
            events = load_trace(path)
        except (OSError, ValueError):
            continue  # not a trace of ours
        if latest_feedback(events) is None:
            continue
        example = example_from_feedback(events, tools=tools)
        if example is None:
            none.append(path.stem)
        else:
            examples.append(example)
    return examples, none
