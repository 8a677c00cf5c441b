"""Reports side by side: :func:`load_reports` reads saved report JSON, :func:`compare_reports`
prints two of them as a table with the difference (accuracies) or the ratio (latency,
tokens), e.g. plan mode against react mode, or one model against another.

A report file holds one report (``reasoner eval --out``) or several
(``{"reports": [...]}``, what ``--mode both`` and a multi-category BFCL run write).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reasoner.errors import UsageError
from reasoner.evals._report import _seconds, _table, percentile

__all__ = ["compare_reports", "label", "load_reports", "paired_latencies"]

Report = Mapping[str, Any]

# (summary key, shown name, how b relates to a: "diff" of fractions, "ratio" of costs)
_EVAL_ROWS = (
    ("plan_validity", "plan validity", "diff"),
    ("tool_selection", "tool selection (F1)", "diff"),
    ("argument_accuracy", "argument accuracy", "diff"),
    ("answer_accuracy", "answer accuracy", "diff"),
    ("latency_median_s", "latency median", "ratio"),
    ("latency_p90_s", "latency p90", "ratio"),
    ("total_tokens", "tokens", "ratio"),
    ("model_calls", "model calls", "ratio"),
)


def load_reports(path: str | Path) -> list[dict[str, Any]]:
    """The reports in a saved JSON file (one, or a ``{"reports": [...]}`` list).

    Raises:
        UsageError: the file cannot be read or is not a reasoner eval report.
    """
    try:
        data = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the report {str(path)!r}: {exc}") from exc
    reports = data.get("reports") if isinstance(data, dict) and "reports" in data else [data]
    if not isinstance(reports, list) or not all(isinstance(r, dict) and "summary" in r and "items" in r for r in reports):
        raise UsageError(f"{str(path)!r} is not a reasoner eval report (write one with `reasoner eval --out FILE`)")
    return reports


def label(report: Report) -> str:
    """A short name for a report: planner model(s), mode, dataset."""
    planner = ", ".join(report.get("models", {}).get("planner", [])) or "?"
    return f"{planner} {report.get('mode', 'plan')} {report.get('dataset', '?')}"


def _model_calls(report: Report) -> int | None:
    """Model calls over the run (from the rows' token counts we cannot tell; from usage when saved)."""
    calls = [item.get("model_calls") for item in report.get("items", [])]
    return sum(c for c in calls if isinstance(c, int)) if calls and all(isinstance(c, int) for c in calls) else None


def _value(report: Report, key: str) -> Any:
    if key == "model_calls":
        return _model_calls(report)
    return report.get("summary", {}).get(key)


def _show(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key.endswith("_s"):
        return _seconds(float(value))
    if isinstance(value, float) and key not in ("total_tokens",):
        return f"{value:.3f}"
    return f"{value:,}"


def _relation(kind: str, a: Any, b: Any) -> str:
    if a is None or b is None:
        return "-"
    if kind == "diff":
        return f"{b - a:+.3f}"
    return f"{b / a:.2f}x" if a else "-"


def paired_latencies(a: Report, b: Report) -> list[tuple[str, float, float]]:
    """``(item id, latency in a, latency in b)`` for the items both reports ran, in a's order."""
    other = {item["id"]: item for item in b.get("items", [])}
    return [(item["id"], float(item["latency_s"]), float(other[item["id"]]["latency_s"])) for item in a.get("items", []) if item["id"] in other]


def compare_reports(a: Report, b: Report) -> str:
    """``a`` and ``b`` as a text table: each metric, its values, and ``b - a`` (accuracies)
    or ``b / a`` (latency, tokens); for two eval reports over the same items also the
    per-item latency ratio (median and range). BFCL reports compare accuracy and cost."""
    head = [f"a  {label(a)}  (commit {str(a.get('commit'))[:12]}, {a.get('started_at', '?')})",
            f"b  {label(b)}  (commit {str(b.get('commit'))[:12]}, {b.get('started_at', '?')})"]  # fmt: skip
    if a.get("kind") == "bfcl" or b.get("kind") == "bfcl":
        rows_spec: Sequence[tuple[str, str, str]] = (
            ("accuracy", "accuracy", "diff"), ("latency_median_s", "latency median", "ratio"),
            ("latency_p90_s", "latency p90", "ratio"), ("prompt_tokens", "prompt tokens", "ratio"),
        )  # fmt: skip
    else:
        rows_spec = _EVAL_ROWS
    rows = []
    for key, name, kind in rows_spec:
        va, vb = _value(a, key), _value(b, key)
        if va is None and vb is None:
            continue
        rows.append((name, _show(key, va), _show(key, vb), _relation(kind, va, vb), "b - a" if kind == "diff" else "b / a"))
    lines = [*head, "", *_table(("metric", "a", "b", "b vs a", ""), rows)]
    pairs = paired_latencies(a, b)
    if pairs and a.get("kind") != "bfcl":
        ratios = [lb / la for _, la, lb in pairs if la > 0]
        if ratios:
            median = percentile(ratios, 50)
            lines += ["", f"per item ({len(ratios)} in both): b / a latency median {median:.2f}x, range {min(ratios):.2f}x to {max(ratios):.2f}x"]
    return "\n".join(lines)
