"""Plan mode against the one-call-per-turn loop (react), with a planner that gets the plan right.

Run: ``.venv/bin/python -P benchmarks/bench_plan_vs_react.py [--plot DIR]`` (a few minutes). Prefill is a fixed
``--first-ms`` per call: react's growing prompts cost it nothing more here..

What planning the whole graph at once buys when the planner writes the right calls, apart
from how good a model is: on every question of ``evals/datasets/parallel.jsonl`` and the
demo set, a scripted planner writes the item's reference plan, whole (plan mode) or one
node per turn and then no call (react mode, ``Engine(mode="react")``). The models stream at
``--ms-per-token`` (4 characters a token) after ``--first-ms`` per call (prefill, or a
server's time to first token), and every tool call takes ``--tool-ms`` more than the demo
tool itself, like a network API. Both modes use the same engine, executor,
prompts and answerer; the ratio is react's time over plan mode's, per question.

The real embedded model is compared by ``reasoner eval --mode both`` (README, "Plan mode
against one call per turn"); this script is the ceiling a better planner reaches.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from reasoner import Engine
from reasoner.evals import EvalItem, load_dataset
from reasoner.evals._report import percentile
from reasoner.models import Delta, Message, ScriptedModel
from reasoner.tools import ToolSpec
from reasoner.tools.demo import demo_tools

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import commit  # noqa: E402

CHARS_PER_TOKEN = 4


def slow(spec: ToolSpec, seconds: float) -> ToolSpec:
    """The tool, taking ``seconds`` longer per call (as a remote API would)."""
    inner = spec

    async def call(**kwargs: Any) -> Any:
        await anyio.sleep(seconds)
        if inner.is_async:
            return await inner.fn(**kwargs)
        return inner.fn(**kwargs)

    return dataclasses.replace(spec, fn=call, is_async=True)


class Remote(ScriptedModel):
    """A scripted model whose every call first waits ``first_s`` (prefill, or a server's time to first token)."""

    first_s = 0.0

    async def stream(self, messages: Any, **kwargs: Any) -> AsyncIterator[Delta]:
        await anyio.sleep(self.first_s)
        async for delta in super().stream(messages, **kwargs):
            yield delta


def models(items: Sequence[EvalItem], delay: float, first_s: float) -> dict[str, ScriptedModel]:
    by_question = {item.question: item for item in items}
    Remote.first_s = first_s
    planner = Remote([], name="reference-planner", chunk_size=CHARS_PER_TOKEN, token_delay=delay)

    def plan(messages: Sequence[Message]) -> str:
        user = [m.content for m in messages if m.role == "user"][-1]
        nodes = (by_question[user.split("\n", 1)[0].removeprefix("Question: ")].reference_plan or {})["nodes"]
        schema = planner.calls[-1].schema or {}
        if schema["properties"]["nodes"].get("maxItems") != 1:
            return json.dumps({"nodes": nodes}, separators=(",", ":"))
        found = re.search(r"its first id is (\d+)", user)
        turn = int(found.group(1)) if found else 1
        return json.dumps({"nodes": nodes[turn - 1 : turn]}, separators=(",", ":"))

    planner.responses = [plan] * 10_000
    answer = "The results above answer the question."  # a fixed answer: the same cost in both modes
    return {
        "planner": planner,
        "joiner": Remote(['{"action":"finish"}'] * 10_000, name="joiner", chunk_size=CHARS_PER_TOKEN, token_delay=delay),
        "answerer": Remote([answer] * 10_000, name="answerer", chunk_size=CHARS_PER_TOKEN, token_delay=delay),
    }


async def timed(items: Sequence[EvalItem], delay: float, first_s: float, tool_s: float, chart_dir: str) -> dict[str, dict[str, tuple[float, int]]]:
    """Mode -> item id -> (wall seconds, model calls); each item in plan mode then in react
    mode, so that both see the same machine load."""
    engines = {}
    for mode in ("plan", "react"):
        m = models(items, delay, first_s)
        tools = [slow(ToolSpec.from_function(fn), tool_s) for fn in demo_tools(chart_dir=chart_dir)]
        engines[mode] = (Engine(tools=tools, planner=m["planner"], joiner=m["joiner"], answerer=m["answerer"], mode=mode), m)
    out: dict[str, dict[str, tuple[float, int]]] = {"plan": {}, "react": {}}
    for item in items:
        for mode, (engine, m) in engines.items():
            calls = sum(len(model.calls) for model in m.values())
            start = time.perf_counter()
            await engine.reason(item.question)
            out[mode][item.id] = (time.perf_counter() - start, sum(len(model.calls) for model in m.values()) - calls)
    return out



def plot(rows: list[tuple[str, str, float, float]], folder: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.2), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    for dataset in dict.fromkeys(r[0] for r in rows):
        xs = [r[2] for r in rows if r[0] == dataset]
        ys = [r[3] for r in rows if r[0] == dataset]
        ax.scatter(xs, ys, s=18, label=dataset)
    top = max(max(r[2], r[3]) for r in rows) * 1.05
    ax.plot([0, top], [0, top], color="grey", linewidth=1, label="same time")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("plan mode (s)")
    ax.set_ylabel("react mode (s)")
    ax.set_title("Reference planner: time per question, react vs plan")
    ax.legend(fontsize=8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan_vs_react_reference.png"
    fig.savefig(path)
    return path


async def main(args: argparse.Namespace) -> None:
    delay, tool_s = args.ms_per_token / 1000, args.tool_ms / 1000
    print("plan mode vs react mode, reference planner (the plan is right in both modes)")
    print(f"  {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, commit {commit()}")
    print(
        f"  each model call waits {args.first_ms:g} ms for its first token, then streams {args.ms_per_token:g} ms per "
        f"{CHARS_PER_TOKEN}-character token; each tool call takes {args.tool_ms:g} ms more than the demo tool"
    )
    print(f"  {'dataset':<9} {'items':>5} | {'plan median':>11} {'react median':>12} {'ratio':>6} | {'per-item ratio p10-p90':>22} | {'model calls plan/react':>22}")
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as charts:
        for name in args.datasets:
            items = list(load_dataset(name))
            both = await timed(items, delay, args.first_ms / 1000, tool_s, charts)
            plan, react = both["plan"], both["react"]
            ratios = [react[i.id][0] / plan[i.id][0] for i in items]
            rows += [(name, i.id, plan[i.id][0], react[i.id][0]) for i in items]
            pm, rm = percentile([v[0] for v in plan.values()], 50) or 0.0, percentile([v[0] for v in react.values()], 50) or 0.0
            calls = f"{sum(v[1] for v in plan.values())}/{sum(v[1] for v in react.values())}"
            spread = f"{percentile(ratios, 10):.2f}x-{percentile(ratios, 90):.2f}x"
            print(f"  {name:<9} {len(items):>5} | {pm:>10.2f}s {rm:>11.2f}s {rm / pm:>5.2f}x | {spread:>22} | {calls:>22}")
    if args.plot:
        print(f"  wrote {plot(rows, Path(args.plot))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ms-per-token", type=float, default=10.0, help="model streaming speed (default: 10 ms per token)")
    parser.add_argument("--tool-ms", type=float, default=500.0, help="latency added to each tool call (default: 500 ms, a web API)")
    parser.add_argument("--first-ms", type=float, default=300.0, help="time to first token of every model call (default: 300 ms)")
    parser.add_argument("--plot", metavar="DIR", help="write plan_vs_react_reference.png to DIR")
    parser.add_argument("--datasets", nargs="+", default=["parallel", "demo"], help="eval datasets whose reference plans to run (default: parallel demo)")
    run: Callable[[argparse.Namespace], Any] = main
    anyio.run(run, parser.parse_args())
