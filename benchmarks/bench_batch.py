"""Continuous batching: 8 concurrent constrained generations against the same 8 one after another.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_batch.py [--repeats N]`` (a few minutes on 2
quiet cores; far longer on a busy machine: ``--repeats 1`` halves it).

Target (issue 13): aggregate tokens per second of 8 concurrent grammar-constrained
generations on SmolLM2-135M at least 3x that of the same generations one after another.

Eight requests, each a different task, under one JSON Schema (a list of 3-6 steps, each a
string of at most 60 characters: most tokens are sampled, not forced), llguidance, greedy,
``max_tokens`` MAX_TOKENS, through ``TransformersModel.stream``:

* one after another: each call runs alone (its steps are batch 1, the single-generation
  path, as every call was before the decode scheduler batched them);
* concurrent: the eight calls at once; the model's decode scheduler prefills each alone,
  then steps them together, one forward pass for all rows, each with its own grammar mask.

(The planner's prompt is not used: with the five demo tools the embedded model answers
many questions with a short or empty plan, which ends in its prefill and leaves nothing
to batch.) Tokens are completion tokens (forced tokens included). The two alternate
REPEATS times (median, best in brackets). The outputs of the two should be the same texts:
the number that differ is printed (bf16 batched matrix products may round differently
from batch-1 ones, so a near tie can go the other way).
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
from _machine import commit, cpu, load  # noqa: E402

from reasoner.models import GenerateOptions, Message, TransformersModel, load_smollm2  # noqa: E402

REPEATS = 2
MAX_TOKENS = 48
TARGET = 3.0
TASKS = [
    "bake a loaf of bread",
    "change a flat bicycle tyre",
    "plant a tomato seedling",
    "make a cup of tea",
    "back up a laptop",
    "paint a wooden fence",
    "learn a new language",
    "plan a birthday party",
]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"steps": {"type": "array", "items": {"type": "string", "maxLength": 60}, "minItems": 3, "maxItems": 6}},
    "required": ["steps"],
    "additionalProperties": False,
}
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
    print("bench_batch: 8 concurrent constrained generations vs one after another, SmolLM2-135M-Instruct on CPU")
    print(f"hardware: {cpu()}")
    print(
        f"versions: torch {torch.__version__}, transformers {version('transformers')}, llguidance {version('llguidance')}; commit {commit()}"
    )
    schema = SCHEMA
    model = load_smollm2()
    prompts = [[Message("system", "Answer with JSON only."), Message("user", f"List the steps to {task}.")] for task in TASKS]
    print(f"model: smollm2-135m, {model.dtype}, greedy; schema: 3-6 steps of <= 60 characters, llguidance; max_tokens {MAX_TOKENS}")
    print(
        f"{len(prompts)} questions, prompts {min(model.count_tokens(p) for p in prompts)}-{max(model.count_tokens(p) for p in prompts)} tokens; {load()}\n"
    )
    _sequential(model, prompts[:1], schema)  # warm-up: grammar compiled, the shared prefix cached
    rates: dict[str, list[float]] = {"one after another": [], "8 concurrent": []}
    seconds: dict[str, list[float]] = {"one after another": [], "8 concurrent": []}
    differ = 0
    tokens = 0
    first = ""
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
        first = together[0]
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
    print(f"  first output, concurrent: {first!r}")
    print(f"  {load()} after")


if __name__ == "__main__":
    main()
