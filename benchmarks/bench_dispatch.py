"""Streaming dispatch: tools start while the plan is decoding, vs waiting for the whole plan.

A scripted planner emits a 6-node plan (the demo's shape: search, three prices, a chart,
a conversion) at a fixed per-token delay; tools sleep for realistic latencies. Both
sides run the same plan on the same engine:

- ours: ``Engine.stream`` -- each node is dispatched the moment its JSON object closes;
- baseline: collect the planner's whole text, then ``Engine.execute(plan)`` (what a
  planner that returns a finished plan, LLMCompiler-style without streaming, does).

Prints time to the first tool call and time until every tool has finished, per
per-token delay, and the ratios baseline / ours. Usage: python benchmarks/bench_dispatch.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import anyio

from reasoner import Engine, tool
from reasoner.models import ScriptedModel, complete

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import header  # noqa: E402

LATENCY = {"search": 0.30, "stock_price": 0.15, "chart": 0.20, "convert_units": 0.05}
CHARS_PER_TOKEN = 4
REPEATS = 3


@tool
async def search(query: str) -> dict[str, list[str]]:
    """Search. Args: query: words."""
    await anyio.sleep(LATENCY["search"])
    return {"tickers": ["AMZN", "MSFT", "GOOGL"]}


@tool
async def stock_price(ticker: str) -> dict[str, float]:
    """Price. Args: ticker: symbol."""
    await anyio.sleep(LATENCY["stock_price"])
    return {"close": 100.0}


@tool
async def chart(values: list[float]) -> str:
    """Chart. Args: values: numbers."""
    await anyio.sleep(LATENCY["chart"])
    return "chart.png"


@tool
async def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert. Args: value: number. from_unit: unit. to_unit: unit."""
    await anyio.sleep(LATENCY["convert_units"])
    return value


PLAN = json.dumps(
    {
        "nodes": [
            {"id": 1, "tool": "search", "args": {"query": "largest cloud providers"}},
            {"id": 2, "tool": "stock_price", "args": {"ticker": "AMZN"}},
            {"id": 3, "tool": "stock_price", "args": {"ticker": "MSFT"}},
            {"id": 4, "tool": "stock_price", "args": {"ticker": "GOOGL"}},
            {"id": 5, "tool": "chart", "args": {"values": [{"$ref": 2, "path": "close"}, {"$ref": 3, "path": "close"}, {"$ref": 4, "path": "close"}]}},
            {"id": 6, "tool": "convert_units", "args": {"value": 10, "from_unit": "mile", "to_unit": "km"}},
        ]
    },
    separators=(",", ":"),
)
TOOLS = [search, stock_price, chart, convert_units]


def _planner(delay: float) -> ScriptedModel:
    return ScriptedModel([PLAN, '{"action":"finish"}', "done"], chunk_size=CHARS_PER_TOKEN, token_delay=delay)


async def ours(delay: float) -> tuple[float, float]:
    engine = Engine(TOOLS, planner=_planner(delay))
    start = time.perf_counter()
    first = end = 0.0
    async for event in engine.stream("q"):
        if event.type == "node.started" and not first:
            first = time.perf_counter() - start
        if event.type in ("node.completed", "node.failed"):
            end = time.perf_counter() - start
    return first, end


async def baseline(delay: float) -> tuple[float, float]:
    engine = Engine(TOOLS)
    start = time.time()  # event timestamps are wall-clock
    text = (await complete(_planner(delay), "q")).text
    result = await engine.execute(text)
    first = min(e.ts for e in result.trace if e.type == "node.started")
    end = max(e.ts for e in result.trace if e.type == "node.completed")
    return first - start, end - start




async def main() -> None:
    tokens = len(PLAN) // CHARS_PER_TOKEN
    print(header("bench_dispatch"))
    print(f"plan: 6 nodes, {len(PLAN)} chars (~{tokens} tokens at {CHARS_PER_TOKEN} chars/token); tool latencies {LATENCY}; median of {REPEATS}")
    print(f"{'ms/token':>8} | {'first call: wait':>16} {'stream':>8} {'ratio':>6} | {'all tools done: wait':>20} {'stream':>8} {'ratio':>6}")
    for delay in (0.005, 0.02, 0.05):
        b = [await baseline(delay) for _ in range(REPEATS)]
        o = [await ours(delay) for _ in range(REPEATS)]
        bf, bt = statistics.median(x[0] for x in b), statistics.median(x[1] for x in b)
        of, ot = statistics.median(x[0] for x in o), statistics.median(x[1] for x in o)
        print(f"{delay * 1e3:>8.0f} | {bf:>15.3f}s {of:>7.3f}s {bf / of:>5.1f}x | {bt:>19.3f}s {ot:>7.3f}s {bt / ot:>5.2f}x")


if __name__ == "__main__":
    anyio.run(main)
