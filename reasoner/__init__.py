"""reasoner: a compound AI reasoning engine.

Public names are imported lazily (PEP 562), so ``import reasoner`` is cheap and any
subpackage can import ``reasoner.errors`` or ``reasoner.events`` without cycles.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Budget": "reasoner._roles",
    "BudgetExceeded": "reasoner.errors",
    "Engine": "reasoner._engine",
    "ExecutionResult": "reasoner._executor",
    "Explanation": "reasoner._explain",
    "ConfigError": "reasoner.errors",
    "Event": "reasoner.events",
    "GrammarError": "reasoner.errors",
    "ModelError": "reasoner.errors",
    "Node": "reasoner.planner",
    "PhysicalNode": "reasoner._explain",
    "Plan": "reasoner.planner",
    "PlanError": "reasoner.errors",
    "ReasonerError": "reasoner.errors",
    "Ref": "reasoner.planner",
    "RunResult": "reasoner._loop",
    "ToolError": "reasoner.errors",
    "ToolRegistry": "reasoner.tools",
    "ToolRetry": "reasoner.errors",
    "ToolSpec": "reasoner.tools",
    "UsageError": "reasoner.errors",
    "load_trace": "reasoner.events",
    "reason": "reasoner._api",
    "save_trace": "reasoner.events",
    "tool": "reasoner.tools",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reasoner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from reasoner._api import reason
    from reasoner._engine import Engine
    from reasoner._executor import ExecutionResult
    from reasoner._explain import Explanation, PhysicalNode
    from reasoner._loop import RunResult
    from reasoner._roles import Budget
    from reasoner.errors import (
        BudgetExceeded,
        ConfigError,
        GrammarError,
        ModelError,
        PlanError,
        ReasonerError,
        ToolError,
        ToolRetry,
        UsageError,
    )
    from reasoner.events import Event, load_trace, save_trace
    from reasoner.planner import Node, Plan, Ref
    from reasoner.tools import ToolRegistry, ToolSpec, tool
