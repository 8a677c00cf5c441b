"""Engine.execute: parallel scheduling, failures, retries, timeouts, limits, threads, cache."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from reasoner import Engine
from reasoner.errors import ToolRetry, UsageError
from reasoner.models import Backoff
from reasoner.planner import Node, Plan, Ref
from reasoner.tools import tool


def plan(*nodes: tuple[str, dict[str, Any]]) -> Plan:
    return Plan(tuple(Node(i, name, args) for i, (name, args) in enumerate(nodes, 1)))


class Gauge:
    """Counts calls running at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def hold(self, seconds: float) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await anyio.sleep(seconds)
        finally:
            self.now -= 1


async def test_independent_nodes_run_in_parallel_and_a_dependent_waits_for_its_refs() -> None:
    @tool
    async def slow(x: int) -> int:
        await anyio.sleep(0.3)
        return x * 10

    @tool
    async def add(a: int, b: int) -> int:
        await anyio.sleep(0.3)
        return a + b

    engine = Engine(tools=[slow, add])
    p = plan(
        ("slow", {"x": 1}),
        ("slow", {"x": 2}),
        ("slow", {"x": 3}),
        ("add", {"a": Ref(1), "b": Ref(2)}),
    )
    start = time.perf_counter()
    result = await engine.execute(p)
    elapsed = time.perf_counter() - start

    assert result.ok
    assert result.outputs == {1: 10, 2: 20, 3: 30, 4: 30}
    assert 0.55 < elapsed < 0.9  # two levels of 300 ms, not four calls in a row (1.2 s)


async def test_several_nodes_start_before_the_first_completes() -> None:
    @tool
    async def wait(x: int) -> int:
        await anyio.sleep(0.05)
        return x

    engine = Engine(tools=[wait])
    result = await engine.execute(plan(*[("wait", {"x": i}) for i in range(4)]))

    types = [e.type for e in result.trace]
    first_completed = types.index("node.completed")
    assert types[:first_completed].count("node.started") == 4
    started = [e for e in result.trace if e.type == "node.started"]
    assert [e.data for e in started] == [{"tool": "wait", "args": {"x": i}} for i in range(4)]
    assert [e.seq for e in result.trace] == list(range(len(result.trace)))


async def test_a_failure_skips_its_dependents_and_leaves_other_branches_running() -> None:
    ran: list[int] = []

    @tool
    async def boom(x: int) -> int:
        raise ValueError("no data for x")

    @tool
    async def ok(x: int) -> int:
        await anyio.sleep(0.05)  # still running when the failure happens
        ran.append(x)
        return x

    engine = Engine(tools=[boom, ok])
    p = plan(
        ("boom", {"x": 1}),  # 1 fails
        ("ok", {"x": 2}),  # 2 independent
        ("ok", {"x": Ref(1)}),  # 3 skipped
        ("ok", {"x": Ref(3)}),  # 4 skipped (transitively)
        ("ok", {"x": Ref(2)}),  # 5 runs after 2
    )
    result = await engine.execute(p)

    assert not result.ok
    assert result.errors == {1: "ValueError: no data for x"}
    assert result.skipped == {3: "node 1 failed", 4: "node 3 was skipped"}
    assert result.outputs == {2: 2, 5: 2}
    assert ran == [2, 2]
    failed = [e for e in result.trace if e.type == "node.failed"]
    assert [(e.node_id, e.data) for e in failed] == [
        (1, {"error": {"type": "ValueError", "message": "no data for x"}, "attempts": 1})
    ]
    skipped = {e.node_id: e.data for e in result.trace if e.type == "node.skipped"}
    assert skipped == {3: {"reason": "node 1 failed", "cause": 1}, 4: {"reason": "node 3 was skipped", "cause": 1}}


async def test_retries_with_exponential_backoff_then_success() -> None:
    calls: list[float] = []

    @tool(retries=3)
    async def flaky(x: int) -> int:
        calls.append(time.perf_counter())
        if len(calls) == 1:
            raise ConnectionError("reset by peer")
        if len(calls) == 2:
            raise ToolRetry("rate limited, try later")
        return x + 1

    engine = Engine(tools=[flaky], retry_backoff=Backoff(0.05, 2.0, 1.0, jitter=0))  # exact waits
    result = await engine.execute(plan(("flaky", {"x": 1})))

    assert result.outputs == {1: 2}
    retrying = [e.data for e in result.trace if e.type == "node.retrying"]
    assert retrying == [
        {"attempt": 1, "delay_s": 0.05, "error": {"type": "ConnectionError", "message": "reset by peer"}},
        {"attempt": 2, "delay_s": 0.1, "error": {"type": "ToolRetry", "message": "rate limited, try later"}},
    ]
    assert calls[1] - calls[0] >= 0.045 and calls[2] - calls[1] >= 0.095


async def test_retries_run_out_and_the_node_fails_with_the_last_error() -> None:
    attempts = 0

    @tool
    async def never(x: int) -> int:
        nonlocal attempts
        attempts += 1
        raise ToolRetry(f"attempt {attempts}: ticker not found, try the exchange symbol")

    engine = Engine(tools=[never], default_retries=2, retry_backoff=(0.0, 1.0, 0.0))
    result = await engine.execute(plan(("never", {"x": 1})))

    assert attempts == 3
    assert result.errors == {1: "ToolRetry: attempt 3: ticker not found, try the exchange symbol"}
    (failed,) = [e for e in result.trace if e.type == "node.failed"]
    assert failed.data["attempts"] == 3


async def test_a_call_over_its_timeout_fails_with_timeout_error_and_is_retried() -> None:
    calls = 0

    @tool(timeout=0.05, retries=1)
    async def hang(x: int) -> int:
        nonlocal calls
        calls += 1
        await anyio.sleep(10)
        return x

    engine = Engine(tools=[hang], retry_backoff=(0.0, 1.0, 0.0))
    with anyio.fail_after(5):
        result = await engine.execute(plan(("hang", {"x": 1})))

    assert calls == 2
    assert result.errors[1].startswith("ToolTimeout: tool 'hang' timed out after 0.05 s")
    assert [e.type for e in result.trace] == ["node.started", "node.retrying", "node.failed"]


async def test_a_sync_tool_over_its_timeout_is_abandoned_rather_than_waited_for() -> None:
    release = threading.Event()

    @tool(timeout=0.05)
    def blocking(x: int) -> int:
        release.wait(10)
        return x

    engine = Engine(tools=[blocking])
    start = time.perf_counter()
    try:
        result = await engine.execute(plan(("blocking", {"x": 1})))
        assert time.perf_counter() - start < 1.0
    finally:
        release.set()
    assert "timed out after 0.05 s" in result.errors[1]


async def test_engine_default_timeout_applies_to_tools_without_one() -> None:
    @tool
    async def hang(x: int) -> int:
        await anyio.sleep(10)
        return x

    engine = Engine(tools=[hang], default_timeout=0.05)
    with anyio.fail_after(5):
        result = await engine.execute(plan(("hang", {"x": 1})))
    assert "timed out after 0.05 s" in result.errors[1]


async def test_per_tool_max_concurrency_serialises_that_tool_only() -> None:
    single, free = Gauge(), Gauge()

    @tool(max_concurrency=1)
    async def one_at_a_time(x: int) -> int:
        await single.hold(0.03)
        return x

    @tool
    async def unlimited(x: int) -> int:
        await free.hold(0.03)
        return x

    engine = Engine(tools=[one_at_a_time, unlimited])
    p = plan(*[("one_at_a_time", {"x": i}) for i in range(4)], *[("unlimited", {"x": i}) for i in range(4)])
    result = await engine.execute(p)

    assert result.ok and len(result.outputs) == 8
    assert single.peak == 1
    assert free.peak == 4  # the queue for the limited tool does not hold up the others


async def test_engine_wide_limit_caps_running_calls() -> None:
    gauge = Gauge()

    @tool
    async def work(x: int) -> int:
        await gauge.hold(0.02)
        return x

    engine = Engine(tools=[work], max_concurrency=2)
    result = await engine.execute(plan(*[("work", {"x": i}) for i in range(7)]))

    assert result.outputs == {i + 1: i for i in range(7)}
    assert gauge.peak == 2


async def test_engine_wide_limit_is_shared_by_concurrent_runs() -> None:
    gauge = Gauge()

    @tool
    async def work(x: int) -> int:
        await gauge.hold(0.02)
        return x

    engine = Engine(tools=[work], max_concurrency=3)
    results = []

    async def run(offset: int) -> None:
        results.append(await engine.execute(plan(*[("work", {"x": offset + i}) for i in range(6)])))

    async with anyio.create_task_group() as tg:
        for offset in (0, 100, 200):
            tg.start_soon(run, offset)

    assert all(r.ok and len(r.outputs) == 6 for r in results)
    assert gauge.peak == 3


async def test_sync_tools_run_in_worker_threads() -> None:
    threads: list[int] = []

    @tool
    def blocking(x: int) -> int:
        threads.append(threading.get_ident())
        time.sleep(0.01)
        return x * 2

    engine = Engine(tools=[blocking])
    result = await engine.execute(plan(("blocking", {"x": 1}), ("blocking", {"x": Ref(1)})))

    assert result.outputs == {1: 2, 2: 4}
    assert threads and threading.get_ident() not in threads


async def test_cached_tool_with_identical_arguments_runs_once_per_engine() -> None:
    calls: list[str] = []

    @tool(cache=True)
    async def lookup(q: str) -> str:
        calls.append(q)
        await anyio.sleep(0.02)  # identical calls overlap while this one is in flight
        return q.upper()

    engine = Engine(tools=[lookup])
    p = plan(("lookup", {"q": "a"}), ("lookup", {"q": "a"}), ("lookup", {"q": "b"}), ("lookup", {"q": "a"}))
    first = await engine.execute(p)
    second = await engine.execute(plan(("lookup", {"q": "a"})))

    assert first.outputs == {1: "A", 2: "A", 3: "B", 4: "A"}
    assert second.outputs == {1: "A"}
    assert sorted(calls) == ["a", "b"]
    # within one plan a repeated call aliases the first; across runs the cache serves it
    aliased = [(e.node_id, e.data.get("aliased_to")) for e in first.trace if e.type == "node.completed" and "aliased_to" in e.data]
    assert aliased == [(2, 1), (4, 1)]
    assert [e.data.get("cached") for e in second.trace if e.type == "node.completed"] == [True]

    # another engine has its own cache
    other = await Engine(tools=[lookup]).execute(plan(("lookup", {"q": "a"})))
    assert other.outputs == {1: "A"} and sorted(calls) == ["a", "a", "b"]
    engine.clear_cache()
    await engine.execute(plan(("lookup", {"q": "b"})))
    assert sorted(calls) == ["a", "a", "b", "b"]


async def test_a_failed_cached_call_is_not_stored() -> None:
    calls = 0

    @tool(cache=True)
    async def once_broken(q: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("cold start")
        return q

    engine = Engine(tools=[once_broken])
    assert (await engine.execute(plan(("once_broken", {"q": "a"})))).errors == {1: "RuntimeError: cold start"}
    assert (await engine.execute(plan(("once_broken", {"q": "a"})))).outputs == {1: "a"}


async def test_refs_pass_parts_of_earlier_outputs() -> None:
    @tool
    async def quote(ticker: str) -> dict[str, Any]:
        return {"ticker": ticker, "close": len(ticker) * 100.0}

    @tool
    async def total(values: list[float]) -> float:
        return sum(values)

    engine = Engine(tools=[quote, total])
    p = Plan.from_json(
        '{"nodes":[{"id":1,"tool":"quote","args":{"ticker":"MSFT"}},'
        '{"id":2,"tool":"quote","args":{"ticker":"AMZN"}},'
        '{"id":3,"tool":"total","args":{"values":[{"$ref":1,"path":"close"},{"$ref":2,"path":"close"}]}}]}'
    )
    result = await engine.execute(p)
    assert result.outputs[3] == 800.0
    (started,) = [e for e in result.trace if e.type == "node.started" and e.node_id == 3]
    assert started.data["args"] == {"values": [400.0, 400.0]}  # resolved arguments


async def test_a_ref_path_missing_from_the_actual_output_fails_that_node() -> None:
    @tool
    async def free_form(x: int) -> dict[str, Any]:
        return {"a": x}

    @tool
    async def use(v: int) -> int:
        return v

    engine = Engine(tools=[free_form, use])
    result = await engine.execute(plan(("free_form", {"x": 1}), ("use", {"v": Ref(1, "b")}), ("use", {"v": Ref(2)})))

    assert result.outputs == {1: {"a": 1}}
    assert result.errors[2].startswith("PlanError: node 2:")
    assert result.skipped == {3: "node 2 failed"}


async def test_plan_json_text_and_dict_are_accepted() -> None:
    @tool
    async def echo(x: int) -> int:
        return x

    engine = Engine(tools=[echo])
    data = {"nodes": [{"id": 1, "tool": "echo", "args": {"x": 5}}, {"id": 2, "tool": "echo", "args": {"x": {"$ref": 1}}}]}
    assert (await engine.execute(data)).outputs == {1: 5, 2: 5}
    assert (await engine.execute(Plan.from_json(data).to_json())).outputs == {1: 5, 2: 5}


async def test_large_chains_and_fan_outs_complete() -> None:
    @tool
    async def inc(x: int) -> int:
        return x + 1

    engine = Engine(tools=[inc], max_concurrency=8)
    n = 3000
    chain = Plan(tuple(Node(i, "inc", {"x": Ref(i - 1) if i > 1 else 0}) for i in range(1, n + 1)))
    fan = Plan((Node(1, "inc", {"x": 0}), *(Node(i, "inc", {"x": Ref(1)}) for i in range(2, n + 1))))

    chained = await engine.execute(chain)
    fanned = await engine.execute(fan)

    assert chained.outputs[n] == n
    assert fanned.ok and set(fanned.outputs.values()) == {1, 2}


def test_engine_options_are_checked() -> None:
    with pytest.raises(UsageError, match="max_concurrency"):
        Engine(tools=[], max_concurrency=0)
    with pytest.raises(UsageError, match="default_timeout"):
        Engine(tools=[], default_timeout=0)
    with pytest.raises(UsageError, match="default_retries"):
        Engine(tools=[], default_retries=-1)
    with pytest.raises(UsageError, match="retry_backoff"):
        Engine(tools=[], retry_backoff=(1.0, 0.5, 2.0))
    with pytest.raises(UsageError, match="approve"):
        Engine(tools=[], approve="yes")  # type: ignore[arg-type]


async def test_execute_refuses_what_is_not_a_plan() -> None:
    with pytest.raises(UsageError, match="execute\\(\\) takes a Plan"):
        await Engine(tools=[]).execute(42)  # type: ignore[arg-type]


def test_timeouts_are_reasoner_errors_and_still_timeout_errors(tmp_path: Any) -> None:
    from reasoner.errors import ModelError, ModelTimeout, ToolError, ToolTimeout, TraceError, UsageError
    from reasoner.events import load_trace

    assert issubclass(ToolTimeout, ToolError) and issubclass(ToolTimeout, TimeoutError)
    assert issubclass(ModelTimeout, ModelError) and issubclass(ModelTimeout, TimeoutError)
    bad = tmp_path / "trace.jsonl"
    bad.write_text('{"type": "run.started"}\nnot json\n')
    with pytest.raises(TraceError, match=r"trace.jsonl:1: not an event") as info:
        load_trace(bad)
    assert isinstance(info.value, UsageError) and isinstance(info.value, ValueError)
