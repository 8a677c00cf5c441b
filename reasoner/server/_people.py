"""The person in the loop over HTTP: approvals, plan review and feedback.

- A streamed run (``/v1/reason`` or ``/v1/plans/run`` with ``stream: true``) asks the
  client: a call that needs approval emits ``approval.requested`` (``approval_id``,
  ``tool``, ``args``) and waits, alone (its siblings run on, keep-alives flow), until
  ``POST /v1/runs/{run_id}/approvals/{approval_id}`` answers ``approve``, ``deny`` (with a
  ``reason`` the planner reads) or ``edit`` (with ``args``, checked against the tool's
  schema: 422 and the approval stays open when they do not fit), or until
  ``approval_timeout_s`` passes, which counts as a denial.
- A run that cannot ask (chat completions, a non-streamed run) follows the server's
  ``approvals`` policy: ``refuse`` (default: such calls fail with a message saying how to
  get them approved), ``approve`` (every call approved) or ``engine`` (the engine's own
  approver decides).
- ``POST /v1/plans`` plans a question without running anything; ``POST /v1/plans/run``
  answers the question running a given (reviewed, maybe edited) plan first.
- ``POST /v1/runs/{run_id}/feedback`` appends a ``feedback`` event to a finished run's
  trace (kept in memory for replay, and in ``runs_dir`` when one is configured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from reasoner._approval import Approve, Approver, Decision, Deny, Edit
from reasoner.errors import ToolError
from reasoner.server._errors import HTTPProblem

if TYPE_CHECKING:
    from reasoner.planner import Node
    from reasoner.tools import ToolSpec

__all__ = ["ApprovalDesk", "ApprovalPolicy", "RunApprovals", "unattended_approver"]

ApprovalPolicy = Literal["refuse", "approve", "engine"]


@dataclass(slots=True)
class _Pending:
    spec: ToolSpec
    done: anyio.Event = field(default_factory=anyio.Event)
    decision: Decision | None = None


class RunApprovals:
    """The open approvals of one run; :meth:`ask` is the run's approver."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[str, _Pending] = {}
        self._answered: set[str] = set()

    async def ask(self, node: Node, spec: ToolSpec) -> Decision:
        approval_id = str(node.id)  # the executor's approval id (see reasoner._executor)
        pending = self._pending[approval_id] = _Pending(spec)
        try:
            with anyio.move_on_after(self.timeout_s):
                await pending.done.wait()
        finally:
            del self._pending[approval_id]
            self._answered.add(approval_id)
        if pending.decision is None:
            return Deny(f"no one answered the approval within {self.timeout_s:g} s")
        return pending.decision

    def answer(self, approval_id: str, decision: Decision) -> None:
        """Resolve an open approval (``HTTPProblem`` 404/409/422 when it cannot be)."""
        pending = self._pending.get(approval_id)
        if pending is None:
            if approval_id in self._answered:
                raise HTTPProblem(409, f"approval {approval_id} was already answered (or expired)", param="approval_id", code="approval_closed")
            raise HTTPProblem(404, f"this run has no open approval {approval_id!r}", param="approval_id", code="approval_not_found")
        if isinstance(decision, Edit):
            try:
                pending.spec.validate_args(decision.args)
            except ToolError as exc:
                raise HTTPProblem(422, f"the edited arguments do not fit tool {pending.spec.name!r}: {exc}; the approval is still open", param="args") from None
        pending.decision = decision
        pending.done.set()


class ApprovalDesk:
    """The runs in flight that may ask for approvals, by run id (used from the event loop only)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._runs: dict[str, RunApprovals] = {}

    def new_run(self) -> RunApprovals:
        return RunApprovals(self.timeout_s)

    def open(self, run_id: str, approvals: RunApprovals) -> None:
        self._runs[run_id] = approvals

    def close(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def is_running(self, run_id: str) -> bool:
        return run_id in self._runs

    def answer(self, run_id: str, approval_id: str, body: Any) -> Decision:
        """Apply an ``ApprovalAnswer`` body to run ``run_id``; the decision made."""
        approvals = self._runs.get(run_id)
        if approvals is None:
            raise HTTPProblem(
                404, f"no run {run_id!r} in flight here asks for approvals (only streamed runs can ask)", param="run_id", code="run_not_found"
            )
        decision: Decision
        if body.decision == "edit":
            if body.args is None:
                raise HTTPProblem(422, 'decision "edit" needs "args": the arguments to call the tool with', param="args")
            decision = Edit(dict(body.args))
        elif body.args is not None:
            raise HTTPProblem(422, f'"args" goes with decision "edit", not {body.decision!r}', param="args")
        elif body.decision == "deny":
            decision = Deny(body.reason or "")
        else:
            decision = Approve()
        approvals.answer(approval_id, decision)
        return decision


def unattended_approver(policy: ApprovalPolicy, route: str) -> Approver | None:
    """The approver of a run that cannot ask the client (``None``: the engine's own)."""
    if policy == "engine":
        return None
    if policy == "approve":
        return _approve_all

    def refuse(node: Node, spec: ToolSpec) -> bool:
        raise ToolError(
            f"tool {spec.name!r} requires approval, which {route} cannot ask for: use POST /v1/reason with "
            '"stream": true and answer the approval.requested event, or start the server with --approvals approve '
            "(or engine) to allow such calls here",
            tool=spec.name,
            node_id=node.id,
        )

    return refuse


def _approve_all(node: Node, spec: ToolSpec) -> bool:
    return True

