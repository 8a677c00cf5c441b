"""The public surface of `reasoner`: exactly these names, all importable, lazily."""

from __future__ import annotations

import subprocess
import sys

import reasoner

PUBLIC = [
    "Approve", "Budget", "BudgetExceeded", "ConfigError", "Deny", "Edit", "Engine", "Event", "ExecutionPolicy", "ExecutionResult", "Explanation",
    "GrammarError", "ModelError", "ModelSettings", "Node", "PhysicalNode", "Plan", "PlanError", "ReasonerError", "Ref", "Roles",
    "RunResult", "ToolError", "ToolRegistry", "ToolRetry", "ToolSpec", "UsageError", "__version__",
    "load_trace", "reason", "save_trace", "tool",
]  # fmt: skip


def test_all_lists_exactly_the_public_names_sorted() -> None:
    assert reasoner.__all__ == sorted(PUBLIC)
    for name in reasoner.__all__:
        assert getattr(reasoner, name) is not None


def test_import_is_lazy() -> None:
    code = "import sys, reasoner; print('torch' in sys.modules, 'reasoner._engine' in sys.modules)"
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        reasoner.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
