"""Engine.execute: cancellation, approvals, bad plans, streamed plans."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from reasoner import Engine
from reasoner.errors import ModelError, PlanError, UsageError
from reasoner.planner import Node, Plan, Ref, iter_plan_nodes
from reasoner.tools import tool


def plan(*nodes: tuple[str, dict[str, Any]]) -> Plan:
    return Plan(tuple(Node(i, name, args) for i, (name, args) in enumerate(nodes, 1)))


# -- cancellation ----------------------------------------------------------------------------


async def test_cancelling_execute_stops_every_call_and_leaves_no_task_running() -> None:
    cancelled: list[int] = []
    release = threading.Event()

    @tool
    async def forever(x: int) -> int:
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            cancelled.append(x)
            raise
        return x

    @tool
    def stuck(x: int) -> int:  # a thread cannot be interrupted: it is abandoned
        release.wait(10)
        return x

    engine = Engine(tools=[forever, stuck])
    p = plan(("forever", {"x": 1}), ("forever", {"x": 2}), ("stuck", {"x": 3}), ("forever", {"x": Ref(1)}))
    tasks_before = asyncio.all_tasks()
    start = time.perf_counter()
    try:
        with anyio.move_on_after(0.2) as scope:
            await engine.execute(p)
        elapsed = time.perf_counter() - start

        assert scope.cancelled_caught
        assert elapsed < 1.0  # promptly, without waiting for the thread
        assert sorted(cancelled) == [1, 2]
        assert asyncio.all_tasks() == tasks_before
    finally:
        release.set()


async def test_cancelling_a_streamed_execute_closes_the_node_stream() -> None:
    closed = False

    @tool
    async def forever(x: int) -> int:
        await anyio.sleep(60)
        return x

    async def nodes() -> AsyncIterator[Node]:
        nonlocal closed
        try:
            yield Node(1, "forever", {"x": 1})
            await anyio.sleep(60)
            yield Node(2, "forever", {"x": 2})
        finally:
            closed = True

    tasks_before = asyncio.all_tasks()
    with anyio.move_on_after(0.1):
        await Engine(tools=[forever]).execute(nodes())
    assert closed
    assert asyncio.all_tasks() == tasks_before


# -- approvals -------------------------------------------------------------------------------


async def test_approver_sees_resolved_arguments_and_a_denial_fails_the_node() -> None:
    seen: list[tuple[int, dict[str, Any]]] = []

    @tool
    async def amount(x: int) -> int:
        return x

    @tool(requires_approval=True)
    async def pay(cents: int) -> str:
        return f"paid {cents}"

    @tool
    async def receipt(text: str) -> str:
        return text

    async def approve(node: Node, spec: Any) -> bool:
        seen.append((node.id, node.args))
        return bool(node.args["cents"] < 1000)

    engine = Engine(tools=[amount, pay, receipt], approve=approve)
    p = plan(("amount", {"x": 500}), ("pay", {"cents": Ref(1)}), ("pay", {"cents": 5000}), ("receipt", {"text": Ref(3)}))
    result = await engine.execute(p)

    assert sorted(seen) == [(2, {"cents": 500}), (3, {"cents": 5000})]
    assert result.outputs == {1: 500, 2: "paid 500"}
    assert result.errors == {3: "ToolError: the approver denied the call to tool 'pay'"}
    assert result.skipped == {4: "node 3 failed"}
    events = [(e.type, e.node_id, e.data.get("approved")) for e in result.trace if e.type.startswith("approval.")]
    assert sorted(events, key=lambda e: (e[1], e[0])) == [
        ("approval.requested", 2, None),
        ("approval.resolved", 2, True),
        ("approval.requested", 3, None),
        ("approval.resolved", 3, False),
    ]


async def test_a_sync_approver_runs_in_a_thread_and_a_waiting_approval_holds_up_no_one() -> None:
    other_done = threading.Event()
    threads: list[int] = []

    @tool(requires_approval=True)
    async def delete(path: str) -> str:
        return f"deleted {path}"

    @tool
    async def read(path: str) -> str:
        other_done.set()
        return path

    def approve(node: Node, spec: Any) -> bool:
        threads.append(threading.get_ident())
        return other_done.wait(5)  # a human taking their time; the other node runs meanwhile

    engine = Engine(tools=[delete, read], approve=approve, max_concurrency=1)
    result = await engine.execute(plan(("delete", {"path": "/tmp/x"}), ("read", {"path": "/etc"})))

    assert result.outputs == {1: "deleted /tmp/x", 2: "/etc"}
    assert threads and threading.get_ident() not in threads


async def test_a_tool_needing_approval_fails_without_an_approver_and_says_how_to_fix_it() -> None:
    @tool(requires_approval=True)
    async def launch(target: str) -> str:
        raise AssertionError("must not run")

    result = await Engine(tools=[launch]).execute(plan(("launch", {"target": "moon"})))

    assert result.errors[1].startswith("ToolError: tool 'launch' requires approval")
    assert "Engine(approve=" in result.errors[1]


# -- bad plans -------------------------------------------------------------------------------


class Price(BaseModel):
    ticker: str
    close: float


calls: list[str] = []


@tool
async def price(ticker: str) -> Price:
    calls.append(ticker)
    return Price(ticker=ticker, close=1.0)


@tool
async def double(x: float) -> float:
    calls.append(str(x))
    return 2 * x


def node(i: int, name: str, args: str) -> str:
    return f'{{"id":{i},"tool":"{name}","args":{args}}}'


def nodes_json(*items: str) -> str:
    return '{"nodes":[' + ",".join(items) + "]}"


GOOD = node(1, "price", '{"ticker":"MSFT"}')
BAD_PLANS = {
    "unknown tool": (nodes_json(GOOD, node(2, "weather", "{}")), 2),
    "wrong argument type": (nodes_json(GOOD, node(2, "price", '{"ticker":5}')), 2),
    "forward ref": (nodes_json(node(1, "double", '{"x":{"$ref":2,"path":"close"}}'), node(2, "price", '{"ticker":"A"}')), 1),
    "missing ref": (nodes_json(GOOD, node(2, "double", '{"x":{"$ref":7,"path":"close"}}')), 2),
    "malformed JSON": ('{"nodes":[' + GOOD + ',{"id":2,"tool":', None),
    "bad path": (nodes_json(GOOD, node(2, "double", '{"x":{"$ref":1,"path":"open"}}')), 2),
}


@pytest.mark.parametrize("kind", sorted(BAD_PLANS))
async def test_a_bad_plan_raises_plan_error_before_any_tool_runs(kind: str) -> None:
    text, node_id = BAD_PLANS[kind]
    calls.clear()
    engine = Engine(tools=[price, double])

    with pytest.raises(PlanError) as info:
        await engine.execute(text)
    assert calls == []
    assert info.value.node_id == node_id


@pytest.mark.parametrize("kind", sorted(BAD_PLANS))
async def test_a_bad_streamed_node_raises_plan_error_before_it_is_dispatched(kind: str) -> None:
    text, node_id = BAD_PLANS[kind]
    calls.clear()
    engine = Engine(tools=[price, double])

    async def chunks() -> AsyncIterator[str]:
        for i in range(0, len(text), 7):
            yield text[i : i + 7]

    with pytest.raises(PlanError) as info:
        await engine.execute(iter_plan_nodes(chunks()))
    if node_id is not None:
        assert info.value.node_id == node_id
    # only nodes before the bad one may have been dispatched
    assert calls in ([], ["MSFT"])
    if node_id == 1:
        assert calls == []


# -- streamed plans --------------------------------------------------------------------------


async def test_streamed_nodes_start_before_the_stream_ends() -> None:
    first_started = anyio.Event()

    @tool
    async def fetch(x: int) -> int:
        first_started.set()
        return x * 2

    @tool
    async def add(a: int, b: int) -> int:
        return a + b

    async def nodes() -> AsyncIterator[Node]:
        yield Node(1, "fetch", {"x": 1})
        with anyio.fail_after(2):  # the stream stays open until node 1 has started
            await first_started.wait()
        yield Node(2, "fetch", {"x": 2})
        yield Node(3, "add", {"a": Ref(1), "b": Ref(2)})

    result = await Engine(tools=[fetch, add]).execute(nodes())

    assert result.outputs == {1: 2, 2: 4, 3: 6}
    assert [n.id for n in result.plan.nodes] == [1, 2, 3]


async def test_a_plan_streamed_as_text_runs_as_it_is_parsed() -> None:
    started = anyio.Event()

    @tool
    async def fetch(x: int) -> int:
        started.set()
        return x

    text = '{"nodes":[{"id":1,"tool":"fetch","args":{"x":3}},{"id":2,"tool":"fetch","args":{"x":{"$ref":1,"path":""}}}]}'
    cut = text.index(',{"id":2')

    async def chunks() -> AsyncIterator[str]:
        yield text[:cut]
        with anyio.fail_after(2):
            await started.wait()  # node 1 runs while the model is still "decoding" node 2
        yield text[cut:]

    engine = Engine(tools=[fetch])
    result = await engine.execute(iter_plan_nodes(chunks(), engine.tools))
    assert result.outputs == {1: 3, 2: 3}


async def test_a_failing_stream_cancels_running_calls_and_reraises() -> None:
    cancelled = False

    @tool
    async def slow(x: int) -> int:
        nonlocal cancelled
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            cancelled = True
            raise
        return x

    async def nodes() -> AsyncIterator[Node]:
        yield Node(1, "slow", {"x": 1})
        await anyio.sleep(0.05)
        raise ModelError("the planner model went away")

    with anyio.fail_after(5), pytest.raises(ModelError, match="went away"):
        await Engine(tools=[slow]).execute(nodes())
    assert cancelled


async def test_a_stream_of_something_other_than_nodes_is_refused() -> None:
    @tool
    async def echo(x: int) -> int:
        return x

    async def dicts() -> AsyncIterator[Any]:
        yield {"id": 1, "tool": "echo", "args": {"x": 1}}

    with pytest.raises(UsageError, match="iter_plan_nodes"):
        await Engine(tools=[echo]).execute(dicts())
