"""Approvals in the library: approve, deny with a reason, edit the arguments; per-run approvers; given plans."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from reasoner import Approve, Deny, Edit, Engine
from reasoner.errors import PlanError, UsageError
from reasoner.events import Event, load_trace, save_trace
from reasoner.models import ScriptedModel
from reasoner.planner import Node, Plan, Ref
from reasoner.tools import tool

PAID: list[int] = []


@tool(requires_approval=True)
async def pay(cents: int, to: str) -> str:
    """Pay someone.

    Args:
        cents: amount in cents.
        to: who gets it.
    """
    PAID.append(cents)
    return f"paid {cents} to {to}"


@tool
async def balance() -> int:
    """The account balance in cents."""
    return 900


@tool
async def note(text: str) -> str:
    """Write a note."""
    return f"noted {text}"


def plan(*nodes: tuple[str, dict[str, Any]]) -> Plan:
    return Plan(tuple(Node(i, name, args) for i, (name, args) in enumerate(nodes, 1)))


def approvals(trace: list[Event]) -> list[tuple[str, int | None, dict[str, Any]]]:
    return [(e.type, e.node_id, e.data) for e in trace if e.type.startswith("approval.")]


async def test_an_edited_call_runs_with_the_edited_arguments_and_the_edit_is_in_the_trace(tmp_path: Any) -> None:
    PAID.clear()

    def approve(node: Node, spec: Any) -> Edit:
        return Edit({**node.args, "cents": 500})

    engine = Engine(tools=[pay, balance, note], approve=approve)
    result = await engine.execute(plan(("balance", {}), ("pay", {"cents": Ref(1), "to": "bob"}), ("note", {"text": Ref(2)})))

    assert PAID == [500]
    assert result.outputs[2] == "paid 500 to bob"
    assert result.outputs[3] == "noted paid 500 to bob"  # dependents see the edited call's output
    started = next(e for e in result.trace if e.type == "node.started" and e.node_id == 2)
    assert started.data["args"] == {"cents": 500, "to": "bob"}
    (_, _, asked), (_, _, resolved) = approvals(result.trace)
    assert asked == {"approval_id": "2", "tool": "pay", "args": {"cents": 900, "to": "bob"}}
    assert resolved == {"approval_id": "2", "approved": True, "decision": "edit", "args": {"cents": 500, "to": "bob"}, "original_args": {"cents": 900, "to": "bob"}}
    save_trace(result.trace, tmp_path / "t.jsonl")  # the edit survives a save and a load
    assert [e.data for e in load_trace(tmp_path / "t.jsonl") if e.type == "approval.resolved"] == [resolved]


async def test_an_edit_that_does_not_fit_the_schema_fails_the_call_before_it_runs() -> None:
    PAID.clear()
    engine = Engine(tools=[pay], approve=lambda node, spec: Edit({"cents": "lots", "to": "bob"}))
    result = await engine.execute(plan(("pay", {"cents": 5, "to": "bob"})))
    assert PAID == []
    assert result.errors[1].startswith("ToolError: the edited arguments of tool 'pay' do not fit its schema")
    assert "cents" in result.errors[1]
    resolved = approvals(result.trace)[-1][2]
    assert resolved["decision"] == "error" and resolved["approved"] is False


async def test_a_denial_with_a_reason_fails_only_that_call_and_carries_the_reason() -> None:
    PAID.clear()

    async def approve(node: Node, spec: Any) -> Approve | Deny:
        return Deny("over the limit") if node.args["cents"] > 100 else Approve()

    engine = Engine(tools=[pay, note], approve=approve)
    result = await engine.execute(plan(("pay", {"cents": 50, "to": "a"}), ("pay", {"cents": 5000, "to": "b"}), ("note", {"text": "x"})))
    assert PAID == [50]
    assert result.errors == {2: "ToolError: the approver denied the call to tool 'pay': over the limit"}
    assert result.outputs == {1: "paid 50 to a", 3: "noted x"}
    decisions = {nid: (d["decision"], d.get("reason")) for kind, nid, d in approvals(result.trace) if kind == "approval.resolved"}
    assert decisions == {1: ("approve", None), 2: ("deny", "over the limit")}


async def test_an_approver_answer_that_is_not_a_decision_is_a_clear_error() -> None:
    engine = Engine(tools=[pay], approve=lambda node, spec: "yes")
    result = await engine.execute(plan(("pay", {"cents": 5, "to": "bob"})))
    assert "it must return True, False, Approve(), Deny(reason) or Edit(args)" in result.errors[1]


async def test_a_per_run_approver_replaces_the_engines() -> None:
    PAID.clear()
    engine = Engine(tools=[pay], approve=lambda node, spec: False)
    denied = await engine.execute(plan(("pay", {"cents": 5, "to": "bob"})))
    approved = await engine.execute(plan(("pay", {"cents": 7, "to": "bob"})), approve=lambda node, spec: True)
    assert 1 in denied.errors and approved.outputs == {1: "paid 7 to bob"}
    assert PAID == [7]


async def test_a_waiting_approval_lets_independent_branches_finish() -> None:
    release = anyio.Event()
    done: list[int] = []

    async def approve(node: Node, spec: Any) -> bool:
        await release.wait()
        return True

    @tool
    async def slow(x: int) -> int:
        await anyio.sleep(0.01)
        done.append(x)
        return x

    engine = Engine(tools=[pay, slow], approve=approve)

    async def release_when_others_done() -> None:
        with anyio.fail_after(5):
            while len(done) < 2:
                await anyio.sleep(0.01)
        release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(release_when_others_done)
        result = await engine.execute(plan(("pay", {"cents": 1, "to": "a"}), ("slow", {"x": 1}), ("slow", {"x": 2})))
    order = [e.node_id for e in result.trace if e.type == "node.completed"]
    assert order == [2, 3, 1]


# -- the loop: the planner sees the denial; a given plan skips the planner --------------------


async def test_a_denied_call_reason_reaches_the_planner_which_replans() -> None:
    PAID.clear()
    first = json.dumps({"nodes": [{"id": 1, "tool": "pay", "args": {"cents": 5000, "to": "bob"}}]})
    second = json.dumps({"nodes": [{"id": 2, "tool": "pay", "args": {"cents": 100, "to": "bob"}}]})
    planner = ScriptedModel([first, second], name="p")
    joiner = ScriptedModel(['{"action":"replan","reason":"the payment was denied"}', '{"action":"finish"}'], name="j")
    answerer = ScriptedModel(["Paid 100 cents to bob."], name="a")

    def approve(node: Node, spec: Any) -> bool | Deny:
        return Deny("at most 1000 cents") if node.args["cents"] > 1000 else True

    engine = Engine(tools=[pay], planner=planner, joiner=joiner, answerer=answerer, approve=approve)
    result = await engine.reason("Pay bob")
    assert PAID == [100]
    assert result.answer == "Paid 100 cents to bob."
    replan_prompt = "\n".join(m.content for m in planner.calls[1].messages)
    assert "at most 1000 cents" in replan_prompt


async def test_reason_with_a_given_plan_runs_it_without_the_planner() -> None:
    planner = ScriptedModel([], name="p")  # would fail if asked
    joiner = ScriptedModel(['{"action":"finish"}'], name="j")
    answerer = ScriptedModel(["noted."], name="a")
    engine = Engine(tools=[note], planner=planner, joiner=joiner, answerer=answerer)
    given = {"nodes": [{"id": 1, "tool": "note", "args": {"text": "edited by a person"}}]}
    result = await engine.reason("Write a note", plan=given)
    assert planner.calls == []
    assert result.outputs == {1: "noted edited by a person"}
    completed = next(e for e in result.trace if e.type == "plan.completed")
    assert completed.data["model"] == "given" and completed.data["plan"] == given
    with pytest.raises(PlanError):
        await engine.reason("Write a note", plan={"nodes": [{"id": 1, "tool": "nope", "args": {}}]})
    with pytest.raises(UsageError, match="approve=... must be a callable"):
        await engine.reason("Write a note", plan=given, approve="yes")  # type: ignore[arg-type]
