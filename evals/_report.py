"""The eval report: per-item rows, aggregates, the run's context, as JSON or a text table."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reasoner.evals._runner import ItemResult

__all__ = ["EvalReport", "Machine", "describe_machine", "percentile", "source_commit", "utc_now"]


@dataclass(frozen=True, slots=True)
class Machine:
    """Where an eval ran."""

    cpu: str
    cores: int
    system: str
    python: str
    gpu: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cpu": self.cpu, "cores": self.cores, "system": self.system, "python": self.python, "gpu": self.gpu}

    def __str__(self) -> str:
        gpu = f", GPU {self.gpu}" if self.gpu else ""
        return f"{self.cpu} ({self.cores} cores){gpu}, {self.system}, Python {self.python}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine() -> Machine:
    """The CPU model and core count, OS, Python, and the CUDA device when torch is already loaded and sees one."""
    gpu = None
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                gpu = str(torch.cuda.get_device_name(0))
        except Exception:  # noqa: BLE001 - a broken CUDA setup must not lose the report
            gpu = "unavailable"
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        system=f"{platform.system()} {platform.machine()}",
        python=platform.python_version(),
        gpu=gpu,
    )


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def source_commit() -> str | None:
    """The git commit of the reasoner source in use (``+dirty`` with uncommitted changes to
    tracked files), or ``None`` when it is not a git checkout (an installed wheel)."""
    import reasoner

    folder = Path(reasoner.__file__).resolve().parent
    commit = _git("rev-parse", "HEAD", cwd=folder)
    if not commit:
        return None
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=folder)
    return commit + ("+dirty" if status else "")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class EvalReport:
    """The rows of one eval (in dataset order), their aggregates and the run's context.

    Aggregates: ``n``; ``plan_validity`` (fraction of items whose plan is valid; an item
    with no plan counts as invalid); ``tool_selection`` (mean F1); ``argument_accuracy``
    (mean over the items that have ``expected_args``; ``None`` when none has);
    ``answer_accuracy`` (mean; failed runs count 0); ``latency_median_s`` and
    ``latency_p90_s`` over every run; ``total_tokens``; ``mode`` the engine's (``plan`` or
    ``react``, see :class:`~reasoner.Engine`); ``sample`` / ``seed`` how the CLI drew the
    items (``None``: not sampled); ``errors`` (runs that raised);
    ``rejected_plans`` (planner calls that produced no plan); ``partial`` (runs answered
    partially when a budget ended). ``str()`` is a text table;
    :meth:`to_json` has everything.
    """

    dataset: str
    items: tuple[ItemResult, ...]
    models: dict[str, list[str]]
    tools: list[str]
    started_at: str
    wall_s: float
    concurrency: int
    machine: Machine
    commit: str | None
    mode: str = "plan"
    sample: int | None = None
    seed: int | None = None

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def plan_validity(self) -> float:
        return sum(r.plan_valid for r in self.items) / self.n if self.items else 0.0

    @property
    def tool_selection(self) -> float:
        return fmean(r.tool_selection for r in self.items) if self.items else 0.0

    @property
    def argument_accuracy(self) -> float | None:
        scored = [r.argument_accuracy for r in self.items if r.argument_accuracy is not None]
        return fmean(scored) if scored else None

    @property
    def answer_accuracy(self) -> float:
        return fmean(r.answer_accuracy for r in self.items) if self.items else 0.0

    @property
    def latency_median_s(self) -> float | None:
        return percentile([r.latency_s for r in self.items], 50)

    @property
    def latency_p90_s(self) -> float | None:
        return percentile([r.latency_s for r in self.items], 90)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.items)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.items)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def errors(self) -> int:
        return sum(r.error is not None for r in self.items)

    @property
    def rejected_plans(self) -> int:
        return sum(r.rejected_plans for r in self.items)

    @property
    def partial(self) -> int:
        return sum(r.partial is not None for r in self.items)

    def summary(self) -> dict[str, Any]:
        """The aggregates as a dict (fractions in 0..1, seconds)."""
        return {
            "n": self.n,
            "plan_validity": self.plan_validity,
            "tool_selection": self.tool_selection,
            "argument_accuracy": self.argument_accuracy,
            "argument_items": sum(r.argument_accuracy is not None for r in self.items),
            "answer_accuracy": self.answer_accuracy,
            "latency_median_s": self.latency_median_s,
            "latency_p90_s": self.latency_p90_s,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "errors": self.errors,
            "rejected_plans": self.rejected_plans,
            "partial": self.partial,
        }

    def to_dict(self) -> dict[str, Any]:
        from reasoner import __version__

        return {
            "kind": "eval",
            "dataset": self.dataset,
            "mode": self.mode,
            "sample": self.sample,
            "seed": self.seed,
            "models": self.models,
            "tools": self.tools,
            "started_at": self.started_at,
            "wall_s": round(self.wall_s, 3),
            "concurrency": self.concurrency,
            "machine": self.machine.to_dict(),
            "commit": self.commit,
            "reasoner_version": __version__,
            "summary": self.summary(),
            "items": [r.to_dict() for r in self.items],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        return "\n".join([*self._header(), "", *self._metrics(), "", *self._rows()])

    def _header(self) -> list[str]:
        from reasoner import __version__

        models = " | ".join(f"{role} {', '.join(names)}" for role, names in self.models.items()) or "(no run started)"
        return [
            f"reasoner eval: dataset {self.dataset}, {self.mode} mode, {self.n} items"
            + (f" (sample {self.sample}, seed {self.seed})" if self.sample is not None else "")
            + f", {self.started_at}, {self.wall_s:.1f} s"
            + (f", concurrency {self.concurrency}" if self.concurrency > 1 else ""),
            f"models   {models}",
            f"machine  {self.machine}",
            f"commit   {self.commit or 'unknown (not a git checkout)'}, reasoner {__version__}",
        ]

    def _metrics(self) -> list[str]:
        valid = sum(r.plan_valid for r in self.items)
        args = self.argument_accuracy
        arg_items = sum(r.argument_accuracy is not None for r in self.items)
        rows = [
            ("plan validity", f"{100 * self.plan_validity:.1f}%", f"{valid}/{self.n} items"),
            ("tool selection (F1)", f"{self.tool_selection:.3f}", "mean"),
            ("argument accuracy", "-" if args is None else f"{args:.3f}", f"mean over {arg_items} items with expected args"),
            ("answer accuracy", f"{self.answer_accuracy:.3f}", "mean fraction of expected facts; failed runs 0"),
            ("latency median", _seconds(self.latency_median_s), "wall time per run"),
            ("latency p90", _seconds(self.latency_p90_s), ""),
            ("tokens", f"{self.total_tokens:,}", f"prompt {self.prompt_tokens:,} + completion {self.completion_tokens:,}"),
            ("errors", str(self.errors), "runs that raised"),
            ("rejected plans", str(self.rejected_plans), "planner calls that produced no plan"),
            ("partial answers", str(self.partial), "runs answered from what they had when a budget ended"),
        ]
        return _table(("metric", "value", ""), rows)

    def _rows(self) -> list[str]:
        rows = []
        for r in self.items:
            error = f"{r.error['type']}: {r.error['message']}" if r.error else ""
            rows.append(
                (
                    r.id,
                    "yes" if r.plan_valid else "NO",
                    f"{r.tool_selection:.2f}",
                    "-" if r.argument_accuracy is None else f"{r.argument_accuracy:.2f}",
                    f"{r.answer_accuracy:.2f}",
                    _seconds(r.latency_s),
                    f"{r.tokens:,}",
                    error if len(error) <= 70 else error[:67] + "...",
                )
            )
        return _table(("id", "plan", "tools", "args", "answer", "latency", "tokens", "error"), rows)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *rows)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in (head, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths if w).rstrip())
    return lines
