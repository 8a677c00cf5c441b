"""Print eval reports side by side: python -P scripts/eval_table.py LABEL=report.json ...

Each report is the JSON `reasoner eval --out FILE` writes; the table has one column per
report (tool-selection F1, argument accuracy, answer accuracy, plan validity, median
latency), as Markdown.
"""

from __future__ import annotations

import json
import statistics
import sys


def _row(report: dict) -> dict[str, str]:
    items = report["items"]
    args = [i["argument_accuracy"] for i in items if i["argument_accuracy"] is not None]
    latency = statistics.median(i["latency_s"] for i in items)
    return {
        "items": str(len(items)),
        "tool-selection F1": f"{statistics.fmean(i['tool_selection'] for i in items):.3f}",
        "argument accuracy": f"{statistics.fmean(args):.3f}" if args else "-",
        "answer accuracy": f"{statistics.fmean(i['answer_accuracy'] for i in items):.3f}",
        "plan validity": f"{100 * statistics.fmean(i['plan_valid'] for i in items):.1f}%",
        "median latency": f"{latency:.2f} s",
        "errors": str(sum(i["error"] is not None for i in items)),
    }


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    columns = []
    for arg in argv:
        label, _, path = arg.partition("=")
        with open(path or label, encoding="utf-8") as f:
            columns.append((label if path else path, _row(json.load(f))))
    print("| metric | " + " | ".join(label for label, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for key in columns[0][1]:
        print(f"| {key} | " + " | ".join(row[key] for _, row in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
