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
    "Approve": "reasoner._approval",
    "Budget": "reasoner._roles",
    "BudgetExceeded": "reasoner.errors",
    "Engine": "reasoner._engine",
    "ExecutionResult": "reasoner._executor",
    "Explanation": "reasoner._explain",
    "ConfigError": "reasoner.errors",
    "Deny": "reasoner._approval",
    "Edit": "reasoner._approval",
    "Event": "reasoner.events",
    "ExecutionPolicy": "reasoner._settings",
    "GrammarError": "reasoner.errors",
    "ModelError": "reasoner.errors",
    "ModelSettings": "reasoner._settings",
    "Node": "reasoner.planner",
    "PhysicalNode": "reasoner._explain",
    "Plan": "reasoner.planner",
    "PlanError": "reasoner.errors",
    "ReasonerError": "reasoner.errors",
    "Ref": "reasoner.planner",
    "Roles": "reasoner._settings",
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


if TYPE_CHECKING:  # what type checkers see: the same names, re-exported explicitly
    from reasoner._api import reason as reason
    from reasoner._approval import Approve as Approve
    from reasoner._approval import Deny as Deny
    from reasoner._approval import Edit as Edit
    from reasoner._engine import Engine as Engine
    from reasoner._executor import ExecutionResult as ExecutionResult
    from reasoner._explain import Explanation as Explanation
    from reasoner._explain import PhysicalNode as PhysicalNode
    from reasoner._loop import RunResult as RunResult
    from reasoner._roles import Budget as Budget
    from reasoner._settings import ExecutionPolicy as ExecutionPolicy
    from reasoner._settings import ModelSettings as ModelSettings
    from reasoner._settings import Roles as Roles
    from reasoner.errors import BudgetExceeded as BudgetExceeded
    from reasoner.errors import ConfigError as ConfigError
    from reasoner.errors import GrammarError as GrammarError
    from reasoner.errors import ModelError as ModelError
    from reasoner.errors import PlanError as PlanError
    from reasoner.errors import ReasonerError as ReasonerError
    from reasoner.errors import ToolError as ToolError
    from reasoner.errors import ToolRetry as ToolRetry
    from reasoner.errors import UsageError as UsageError
    from reasoner.events import Event as Event
    from reasoner.events import load_trace as load_trace
    from reasoner.events import save_trace as save_trace
    from reasoner.planner import Node as Node
    from reasoner.planner import Plan as Plan
    from reasoner.planner import Ref as Ref
    from reasoner.tools import ToolRegistry as ToolRegistry
    from reasoner.tools import ToolSpec as ToolSpec
    from reasoner.tools import tool as tool
