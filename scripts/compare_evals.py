"""Compare ``reasoner eval --out`` reports on the guards of issue 11.

Usage: ``.venv/bin/python -P scripts/compare_evals.py before.json after.json [...]``

Per report: runs that raised, runs answered partially, rejected plans (planner calls that
produced no plan) and how many of those were a ref path of another tool's output, plans
with a repeated call (two nodes of one run with the same tool and arguments), nodes in
all, median and p90 latency, plan validity and mean answer accuracy.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any

from reasoner.evals._report import percentile


def _repeats(plan: dict[str, Any] | None) -> bool:
    if not plan:
        return False
    calls = [json.dumps([n.get("tool"), n.get("args")], sort_keys=True) for n in plan.get("nodes", [])]
    return len(calls) != len(set(calls))




def summary(report: dict[str, Any]) -> dict[str, str]:
    items = report["items"]
    latency = [float(i["latency_s"]) for i in items]
    errors = [e for i in items for e in i.get("plan_errors", [])]
    return {
        "items": str(len(items)),
        "runs that raised": str(sum(1 for i in items if i.get("error"))),
        "runs answered partially": str(sum(1 for i in items if i.get("partial"))),
        "rejected plans": str(sum(int(i.get("rejected_plans", 0)) for i in items)),
        "  of which wrong-tool ref paths": str(sum(1 for e in errors if "has no" in e and "ref to node" in e)),
        "plans with a repeated call": str(sum(1 for i in items if _repeats(i.get("plan")))),
        "nodes planned": str(sum(len((i.get("plan") or {}).get("nodes", [])) for i in items)),
        "latency median s": f"{percentile(latency, 50) or 0:.2f}",
        "latency p90 s": f"{percentile(latency, 90) or 0:.2f}",
        "plan validity": f"{sum(1 for i in items if i.get('plan_valid')) / len(items):.3f}",
        "answer accuracy": f"{statistics.mean(float(i.get('answer_accuracy', 0)) for i in items):.3f}",
        "tool selection F1": f"{statistics.mean(float(i.get('tool_selection', 0)) for i in items):.3f}",
    }


def main(paths: list[str]) -> None:
    if not paths:
        raise SystemExit(__doc__)
    columns = [summary(json.loads(open(path, encoding="utf-8").read())) for path in paths]
    names = list(columns[0])
    width = max(len(n) for n in names)
    print(" " * width + "  " + "  ".join(p.rsplit("/", 1)[-1].rjust(14) for p in paths))
    for name in names:
        print(name.ljust(width) + "  " + "  ".join(c[name].rjust(14) for c in columns))


if __name__ == "__main__":
    main(sys.argv[1:])
