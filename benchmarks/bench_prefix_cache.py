"""Time to the first plan token with a warm prefix cache against a cold one: SmolLM2-135M on CPU.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_prefix_cache.py`` (about a minute on 2 cores).

The planner's call for the demo question, as the reasoning loop makes it (its prompt with
the five demo tools, its plan grammar, llguidance, greedy), through
``TransformersModel.stream``. Timed: from the call to the first delta that holds a token
the model chose (the tokens the grammar forces at the start come out before any forward
pass and do not count). Three cases, alternating, REPEATS times each (median, best in
brackets):

* cold: the prefix cache is empty (what every call cost before the cache existed);
* warm, another question: the cache holds the KV of an earlier planner call for another
  question, so the system text and tool list are shared and only the question is prefilled;
* warm, same question: the same call again (everything but the last prompt token cached).

The model runs in the default dtype (printed; see bench_cpu_dtype.py for bf16 vs fp32).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)

import anyio  # noqa: E402
import torch  # noqa: E402
from _machine import commit, cpu, load  # noqa: E402

from reasoner.models import GenerateOptions, Message, TransformersModel, load_smollm2  # noqa: E402
from reasoner.planner import plan_schema  # noqa: E402
from reasoner.planner._prompts import plan_messages  # noqa: E402
from reasoner.tools import ToolRegistry  # noqa: E402
from reasoner.tools.demo import demo_tools  # noqa: E402

REPEATS = 5
QUESTION = "Which three cloud providers are largest, what are their latest stock prices, and chart them"
OTHER = "Convert 10 miles to kilometres."
# the reasoning loop's first plan grammar (reasoner._loop.LoopConfig.schema)
SCHEMA_OPTIONS: dict[str, Any] = {"max_nodes": 16, "max_string": 96, "max_array": 16, "strict": True, "unknown_tool_paths": "union"}


class CountingRunner:
    """Wraps a runner and counts forward passes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.passes = 0

    def new_cache(self, prefix: Any = None) -> Any:
        return self.inner.new_cache(prefix)

    def export(self, cache: Any) -> Any:
        return self.inner.export(cache)

    def forward(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor:
        self.passes += 1
        logits: torch.Tensor = self.inner.forward(token_ids, cache)
        return logits


def _first_token(model: TransformersModel, runner: CountingRunner, messages: list[Message], schema: dict[str, Any]) -> tuple[float, int]:
    """Seconds to the first delta after the first forward pass, and the prompt tokens reused."""

    async def go() -> tuple[float, int]:
        runner.passes = 0
        reused = model.prefix_cache.reused_tokens
        started = time.perf_counter()
        stream = model.stream(messages, schema=schema, options=GenerateOptions(max_tokens=256))
        try:
            async for delta in stream:
                if runner.passes >= 1 and delta.token_ids:
                    return time.perf_counter() - started, model.prefix_cache.reused_tokens - reused
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        raise RuntimeError("the planner wrote no token after its prefill")

    return anyio.run(go)


def main() -> None:
    print("bench_prefix_cache: time to the first plan token, warm vs cold prefix cache, SmolLM2-135M-Instruct on CPU")
    print(f"hardware: {cpu()}")
    print(f"versions: torch {torch.__version__}, transformers {version('transformers')}; commit {commit()}")
    registry = ToolRegistry.of(demo_tools())
    schema = plan_schema(registry, **SCHEMA_OPTIONS)
    model = load_smollm2()
    runner = CountingRunner(model._runner)
    model._runner = runner
    print(f"model: smollm2-135m, {model.dtype}, batch 1, greedy; plan grammar over 5 demo tools, llguidance; {load()}\n")
    messages = plan_messages(QUESTION, registry)
    other = plan_messages(OTHER, registry)
    cache = model.prefix_cache
    _first_token(model, runner, messages, schema)  # warm-up: grammar compiled, kernels built
    _first_token(model, runner, other, schema)
    times: dict[str, list[float]] = {"cold": [], "warm, another question": [], "warm, same question": []}
    reused: dict[str, int] = {}
    for _ in range(REPEATS):
        cache.clear()
        times["cold"].append(_first_token(model, runner, messages, schema)[0])
        cache.clear()
        _first_token(model, runner, other, schema)
        t, reused["warm, another question"] = _first_token(model, runner, messages, schema)
        times["warm, another question"].append(t)
        t, reused["warm, same question"] = _first_token(model, runner, messages, schema)
        times["warm, same question"].append(t)
    reused["cold"] = 0
    prompt = len(model._prompt_ids(messages))
    print(f"prompt: the planner's prompt for the demo question, {prompt} tokens")
    print(f"  {'prefix cache':<24} {'reused':>7} {'first plan token ms [best]':>28}   (reused: prompt + forced start tokens)")
    for name, values in times.items():
        print(f"  {name:<24} {reused[name]:>7} {statistics.median(values) * 1000:>18.0f} [{min(values) * 1000:6.0f}]")
    cold = statistics.median(times["cold"])
    for name in ("warm, another question", "warm, same question"):
        print(f"  cold / {name}: {cold / statistics.median(times[name]):.2f}x (medians)")
    print(f"  {load()} after; cache {cache!r}")


if __name__ == "__main__":
    main()
