"""Executor benchmark: scheduling overhead, and wall time against the critical path.

Run: ``.venv/bin/python benchmarks/bench_executor.py`` (about a minute on 2 cores);
``--plot DIR`` also draws (2)+(3) as ``DIR/executor_dags.png`` (wall time per DAG: critical
path, ours, level by level, sequential); ``--no-overhead`` skips (1).

(1) Overhead per node of ``Engine.execute`` on DAGs of 10,000 no-op async tools (a chain,
    a wide fan-out, independent nodes), best of several runs. Shown with its parts:
    ``validate`` (the planner's plan check, which ``execute`` runs first) and the rest
    (scheduling, ref resolution, the tool call with its argument validation, events).
    Target: at most 50 us per node on this 2-core machine.
(2) Random DAGs of sleeping tools with unequal latencies: our wall time over the critical
    path (the longest latency-weighted chain, the best any scheduler can do).
    Target: within 5% + 10 ms.
(3) The same DAGs under two baselines written here, as ratios against ours:
    level-by-level (all nodes of depth d in one anyio task group, then depth d + 1: how
    superstep runtimes work) and sequential (a plain loop in plan order).
Both baselines resolve refs and call the tools the same way the executor does
(``resolve_args`` + ``ToolSpec.invoke``), with no limits, no events and no validation.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio

from reasoner._engine import Engine
from reasoner.planner import Node, Plan, Ref, resolve_args, validate
from reasoner.tools import ToolRegistry, tool

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import header  # noqa: E402

N_OVERHEAD = 10_000
REPEATS = 5
DAG_SHAPES = [(60, 1), (120, 2), (200, 3)]  # (nodes, max refs per node)
DAGS_PER_SHAPE = 3
LATENCY_MS = (2.0, 40.0)


@tool
async def noop(x: int) -> int:
    return x


@tool
async def work(ms: float, inputs: list[float]) -> float:
    """Sleep ``ms`` milliseconds (a stand-in for an API call)."""
    await anyio.sleep(ms / 1000)
    return ms


# -- baselines -----------------------------------------------------------------------------


async def run_sequential(plan: Plan, registry: ToolRegistry) -> dict[int, Any]:
    outputs: dict[int, Any] = {}
    for node in plan.nodes:
        args = resolve_args(node.args, outputs, node.id)
        outputs[node.id] = await registry[node.tool].invoke(args)
    return outputs


async def run_levels(plan: Plan, registry: ToolRegistry) -> dict[int, Any]:
    outputs: dict[int, Any] = {}
    for level in levels(plan):

        async def call(node: Node) -> None:
            args = resolve_args(node.args, outputs, node.id)
            outputs[node.id] = await registry[node.tool].invoke(args)

        async with anyio.create_task_group() as tg:
            for node in level:
                tg.start_soon(call, node)
    return outputs


def levels(plan: Plan) -> list[list[Node]]:
    depth: dict[int, int] = {}
    out: list[list[Node]] = []
    for node in plan.nodes:
        d = 1 + max((depth[r] for r in node.refs()), default=-1)
        depth[node.id] = d
        if d == len(out):
            out.append([])
        out[d].append(node)
    return out


# -- plans ---------------------------------------------------------------------------------


def overhead_plans(n: int) -> dict[str, Plan]:
    return {
        "chain": Plan(tuple(Node(i, "noop", {"x": Ref(i - 1) if i > 1 else 0}) for i in range(1, n + 1))),
        "fan-out": Plan((Node(1, "noop", {"x": 0}), *(Node(i, "noop", {"x": Ref(1)}) for i in range(2, n + 1)))),
        "independent": Plan(tuple(Node(i, "noop", {"x": i}) for i in range(1, n + 1))),
    }


def random_dag(rng: random.Random, n: int, max_refs: int) -> tuple[Plan, float, list[Node]]:
    """A random DAG of ``work`` nodes, its critical path in seconds, and that path's nodes."""
    nodes: list[Node] = []
    finish: dict[int, float] = {}
    via: dict[int, int | None] = {}
    for i in range(1, n + 1):
        ms = round(rng.uniform(*LATENCY_MS), 1)
        # refs favour recent nodes, so the DAG has depth as well as width
        k = rng.randint(0, min(max_refs, i - 1))
        refs = sorted(set(rng.choices(range(max(1, i - 12), i), k=k))) if k else []
        nodes.append(Node(i, "work", {"ms": ms, "inputs": [Ref(r) for r in refs]}))
        via[i] = max(refs, key=lambda r: finish[r]) if refs else None
        finish[i] = ms + (finish[via[i]] if refs else 0.0)  # type: ignore[index]
    end: int | None = max(finish, key=lambda i: finish[i])
    cp = finish[end] / 1000  # type: ignore[index]
    path = []
    while end is not None:
        path.append(nodes[end - 1])
        end = via[end]
    return Plan(tuple(nodes)), cp, path[::-1]


async def best_of(repeats: int, fn: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - start)
    return best


# -- report --------------------------------------------------------------------------------


def print_header() -> None:
    print(header("bench_executor"))
    print(f"  anyio {version('anyio')} (asyncio backend), pydantic {version('pydantic')}")


async def overhead() -> None:
    print(f"\n(1) overhead per node, {N_OVERHEAD:,} no-op async nodes, best of {REPEATS} (target <= 50 us/node)")
    print(f"  {'DAG':<12} {'execute':>9} {'validate':>9} {'rest':>8} | {'levels':>8} {'sequential':>10}   (us per node) | {'lv/ours':>7}")
    engine = Engine(tools=[noop])
    registry = engine.tools
    for name, plan in overhead_plans(N_OVERHEAD).items():
        ours = await best_of(REPEATS, lambda: engine.execute(plan))

        async def check() -> None:
            validate(plan, registry)

        checking = await best_of(REPEATS, check)
        level = await best_of(REPEATS, lambda: run_levels(plan, registry))
        seq = await best_of(REPEATS, lambda: run_sequential(plan, registry))
        per = 1e6 / N_OVERHEAD
        print(
            f"  {name:<12} {ours * per:>9.1f} {checking * per:>9.1f} {(ours - checking) * per:>8.1f} | "
            f"{level * per:>8.1f} {seq * per:>10.1f}                 | {level / ours:>7.2f}"
        )
    print("  execute = validate + rest; levels/sequential: the baselines (no validation, no events, no limits)")


async def critical_path() -> list[tuple[str, float, float, float, float]]:
    print(f"\n(2)+(3) random DAGs of sleeping tools, latencies uniform in {LATENCY_MS[0]:g}-{LATENCY_MS[1]:g} ms")
    print("  critical: the latency-weighted longest chain; floor: that chain's calls run back to back here;")
    print("  ours includes validating the plan first (the 'check' column) before any call starts;")
    print("  sched = ours - floor - check: what the scheduler itself adds")
    print(
        f"  {'nodes':>5} {'refs<=':>6} {'depth':>5} {'critical':>9} {'floor':>7} {'check':>6} {'ours':>7} {'sched':>6} {'ours/cp':>8} {'ok?':>4}"
        f" | {'levels':>7} {'lv/ours':>7} | {'sequential':>10} {'seq/ours':>8}"
    )
    engine = Engine(tools=[work], max_concurrency=10_000)
    registry = engine.tools
    rng = random.Random(2024)
    worst_over = 0.0
    rows: list[tuple[str, float, float, float, float]] = []  # (DAG, critical, ours, levels, sequential) in s
    for n, max_refs in DAG_SHAPES:
        for _ in range(DAGS_PER_SHAPE):
            plan, cp, path = random_dag(rng, n, max_refs)
            chain = Plan(tuple(Node(j, "work", {"ms": node.args["ms"], "inputs": []}) for j, node in enumerate(path, 1)))
            floor = await best_of(2, lambda: run_sequential(chain, registry))
            result = await engine.execute(plan)
            assert result.ok, result.errors

            async def check() -> None:
                validate(plan, registry)

            checking = await best_of(2, check)
            ours = await best_of(2, lambda: engine.execute(plan))
            level = await best_of(1, lambda: run_levels(plan, registry))
            seq = await best_of(1, lambda: run_sequential(plan, registry))
            ok = ours <= cp * 1.05 + 0.010
            rows.append((f"{n} nodes\nrefs<={max_refs}", cp, ours, level, seq))
            worst_over = max(worst_over, ours / cp)
            print(
                f"  {n:>5} {max_refs:>6} {len(levels(plan)):>5} {cp * 1000:>7.0f}ms {floor * 1000:>5.0f}ms {checking * 1000:>4.0f}ms {ours * 1000:>5.0f}ms "
                f"{(ours - floor - checking) * 1000:>4.0f}ms "
                f"{ours / cp:>8.3f} {'yes' if ok else 'NO':>4} | {level * 1000:>5.0f}ms {level / ours:>7.2f} | "
                f"{seq * 1000:>8.0f}ms {seq / ours:>8.2f}"
            )
    print(f"  worst ours/critical path: {worst_over:.3f} (target: within 5% + 10 ms)")
    return rows


def plot(rows: list[tuple[str, float, float, float, float]], folder: Path) -> Path:
    """Grouped bars per DAG: the critical path and the three schedulers' wall times (ms)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    names = ("critical path", "ours", "level by level", "sequential")
    for k, name in enumerate(names):
        xs = [i + (k - 1.5) * 0.2 for i in range(len(rows))]
        ax.bar(xs, [row[1 + k] * 1000 for row in rows], 0.2, label=name)
    ax.set_xticks(range(len(rows)), [row[0] for row in rows], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("wall time (ms, log scale)")
    ax.set_title(f"Random DAGs of sleeping tools: wall time against the critical path ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    ax.legend(fontsize=8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "executor_dags.png"
    fig.savefig(path)
    return path


async def main(args: argparse.Namespace) -> None:
    print_header()
    if not args.no_overhead:
        await overhead()
    rows = await critical_path()
    if args.plot:
        print(f"  wrote {plot(rows, Path(args.plot))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--plot", metavar="DIR", help="write executor_dags.png to DIR")
    parser.add_argument("--no-overhead", action="store_true", help="skip part (1), the 10,000-node overhead runs")
    anyio.run(main, parser.parse_args())
