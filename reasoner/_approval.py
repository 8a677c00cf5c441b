"""What a person (or a policy) answers when a call needs approval: approve, deny with a
reason, or run it with edited arguments.

An approver is ``approve(node, spec)``, sync or async, called before each call of a tool
with ``requires_approval=True`` (``node.args`` are the resolved arguments). It returns:

- ``True`` or :class:`Approve()`: run the call as planned;
- ``False`` or :class:`Deny("reason")`: the call fails with a ``ToolError`` whose message
  carries the reason, which the joiner and the planner see among the observations (so a
  replan can take it into account); its dependents are skipped, its siblings run on;
- :class:`Edit({...})`: run the call with these arguments instead; they are validated
  against the tool's input schema first (a mismatch fails the call, naming the problem).

The outcome is in the trace: ``approval.requested`` (``approval_id``, ``tool``, ``args``)
and ``approval.resolved`` (``approval_id``, ``approved``, ``decision`` = ``approve`` /
``deny`` / ``edit`` / ``error``, plus ``reason``, or ``args`` and ``original_args``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from reasoner.errors import ToolError

if TYPE_CHECKING:
    from reasoner.planner import Node
    from reasoner.tools import ToolSpec

__all__ = ["Approve", "Approver", "Decision", "Deny", "Edit", "as_decision", "denial_message"]


@dataclass(frozen=True, slots=True)
class Approve:
    """Run the call as planned."""

    type: Literal["approve"] = "approve"


@dataclass(frozen=True, slots=True)
class Deny:
    """Do not run the call; ``reason`` goes to the planner with the failure."""

    reason: str = ""
    type: Literal["deny"] = "deny"


@dataclass(frozen=True, slots=True)
class Edit:
    """Run the call with ``args`` (resolved values, no refs) instead of the planned ones."""

    args: dict[str, Any] = field(default_factory=dict)
    type: Literal["edit"] = "edit"


Decision = Approve | Deny | Edit
# approve(node, spec) -> bool | Approve | Deny | Edit, sync or async
Approver = Callable[["Node", "ToolSpec"], "bool | Decision | Awaitable[bool | Decision]"]


def as_decision(answer: object, node: Node, spec: ToolSpec) -> Decision:
    """The approver's answer as a :data:`Decision` (``ToolError`` for anything else)."""
    if answer is True:
        return Approve()
    if answer is False:
        return Deny()
    if isinstance(answer, Approve | Deny):
        return answer
    if isinstance(answer, Edit):
        if not isinstance(answer.args, dict):
            raise ToolError(f"the approver's Edit for tool {spec.name!r} must hold a dict of arguments, got {type(answer.args).__name__}", tool=spec.name, node_id=node.id)
        return answer
    raise ToolError(
        f"the approver returned {answer!r} for tool {spec.name!r}; it must return True, False, Approve(), Deny(reason) or Edit(args)",
        tool=spec.name,
        node_id=node.id,
    )


def denial_message(tool: str, reason: str) -> str:
    """The error text of a denied call (what the planner reads)."""
    text = f"the approver denied the call to tool {tool!r}"
    return f"{text}: {reason}" if reason else text
