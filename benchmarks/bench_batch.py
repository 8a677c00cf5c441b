"""Continuous batching: 8 concurrent constrained generations against the same 8 one after another.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_batch.py [--repeats N]`` (a few minutes on 2
quiet cores; far longer on a busy machine: ``--repeats 1`` halves it).

Target (issue 13): aggregate tokens per second of 8 concurrent grammar-constrained
generations on SmolLM2-135M at least 3x that of the same generations one after another.

Eight planner calls (the engine's planner prompt with the five demo tools, its plan
grammar, llguidance, greedy, ``max_tokens`` MAX_TOKENS), each a different question,
through ``TransformersModel.stream``:

* one after another: each call runs alone (its steps are batch 1, the single-generation
  path, as every call was before the decode scheduler batched them);
* concurrent: the eight calls at once; the model's decode scheduler prefills each alone,
  then steps them together, one forward pass for all rows, each with its own grammar mask.

Both see the same warm prefix cache (the system text and tool list are cached by a warm-up
call), so both prefill only their question. Tokens are completion tokens (forced tokens
included). The two alternate REPEATS times (median, best in brackets). The outputs of the
two must be the same texts: the number that differ is printed (bf16 batched matrix
products may round differently from batch-1 ones, so a near tie can go the other way).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)

import anyio  # noqa: E402
import torch  # noqa: E402
from _cpu import commit, cpu, load  # noqa: E402

from reasoner.models import GenerateOptions, Message, TransformersModel, load_smollm2  # noqa: E402
from reasoner.planner import plan_schema  # noqa: E402
from reasoner.planner._prompts import plan_messages  # noqa: E402
from reasoner.tools import ToolRegistry  # noqa: E402
from reasoner.tools.demo import demo_tools  # noqa: E402

REPEATS = 2
MAX_TOKENS = 160
TARGET = 3.0
QUESTIONS = [
    "What is the weather in Paris, converted to Fahrenheit?",
    "Convert 10 miles to kilometres.",
    "Search for the tallest building in Europe.",
    "What is 17 times 23, plus 4?",
    "Find the population of Japan and of Germany and add them.",
    "What time is it in Tokyo?",
    "Look up the boiling point of water in Kelvin.",
    "Which is longer, the Nile or the Amazon?",
]
# the reasoning loop's first plan grammar (reasoner._loop.LoopConfig.schema)
SCHEMA_OPTIONS: dict[str, Any] = {"max_nodes": 16, "max_string": 96, "max_array": 16, "strict": True, "unknown_tool_paths": "union"}


async def _one(model: TransformersModel, messages: list[Message], schema: dict[str, Any]) -> tuple[str, int]:
    parts: list[str] = []
    tokens = 0
    async for delta in model.stream(messages, schema=schema, options=GenerateOptions(max_tokens=MAX_TOKENS)):
        parts.append(delta.text)
        if delta.usage is not None:
            tokens = delta.usage.completion_tokens
    return "".join(parts), tokens


def _sequential(model: TransformersModel, prompts: list[list[Message]], schema: dict[str, Any]) -> tuple[float, int, list[str]]:
    async def go() -> tuple[float, int, list[str]]:
        started = time.perf_counter()
        results = [await _one(model, p, schema) for p in prompts]
        return time.perf_counter() - started, sum(n for _, n in results), [t for t, _ in results]

    return anyio.run(go)


def _concurrent(model: TransformersModel, prompts: list[list[Message]], schema: dict[str, Any]) -> tuple[float, int, list[str]]:
    async def go() -> tuple[float, int, list[str]]:
        results: list[tuple[str, int]] = [("", 0)] * len(prompts)

        async def run(i: int) -> None:
            results[i] = await _one(model, prompts[i], schema)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(len(prompts)):
                tg.start_soon(run, i)
        return time.perf_counter() - started, sum(n for _, n in results), [t for t, _ in results]

    return anyio.run(go)


def main() -> None:
    print("bench_batch: 8 concurrent constrained planner calls vs one after another, SmolLM2-135M-Instruct on CPU")
    print(f"hardware: {cpu()}")
    print(
        f"versions: torch {torch.__version__}, transformers {version('transformers')}, llguidance {version('llguidance')}; commit {commit()}"
    )
    registry = ToolRegistry.of(demo_tools())
    schema = plan_schema(registry, **SCHEMA_OPTIONS)
    model = load_smollm2()
    prompts = [plan_messages(q, registry) for q in QUESTIONS]
    print(f"model: smollm2-135m, {model.dtype}, greedy; plan grammar over 5 demo tools, llguidance; max_tokens {MAX_TOKENS}")
    print(
        f"{len(prompts)} questions, prompts {min(model.count_tokens(p) for p in prompts)}-{max(model.count_tokens(p) for p in prompts)} tokens; {load()}\n"
    )
    _sequential(model, prompts[:1], schema)  # warm-up: grammar compiled, the shared prefix cached
    rates: dict[str, list[float]] = {"one after another": [], "8 concurrent": []}
    seconds: dict[str, list[float]] = {"one after another": [], "8 concurrent": []}
    differ = 0
    tokens = 0
    steps_before = model.scheduler.batched_steps
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else REPEATS
    for _ in range(repeats):
        s, n, alone = _sequential(model, prompts, schema)
        rates["one after another"].append(n / s)
        seconds["one after another"].append(s)
        c, m, together = _concurrent(model, prompts, schema)
        rates["8 concurrent"].append(m / c)
        seconds["8 concurrent"].append(c)
        differ = sum(a != b for a, b in zip(alone, together, strict=True))
        tokens = n
    print(f"  {'run':<18} {'tokens':>6} {'seconds [best]':>16} {'tokens/s [best]':>17}")
    for name in rates:
        print(
            f"  {name:<18} {tokens:>6} {statistics.median(seconds[name]):>8.1f} [{min(seconds[name]):5.1f}]"
            f" {statistics.median(rates[name]):>9.1f} [{max(rates[name]):5.1f}]"
        )
    ratio = statistics.median(rates["8 concurrent"]) / statistics.median(rates["one after another"])
    print(
        f"  aggregate tokens/s, concurrent / one after another: {ratio:.2f}x (target >= {TARGET:.0f}x: {'met' if ratio >= TARGET else 'MISSED'})"
    )
    print(
        f"  batched forward passes: {model.scheduler.batched_steps - steps_before}; outputs that differ from alone: {differ} of {len(prompts)}"
    )
    print(f"  {load()} after")


if __name__ == "__main__":
    main()
