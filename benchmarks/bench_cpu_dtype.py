"""bf16 against fp32 on this CPU: the embedded SmolLM2-135M, batch 1, greedy.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_cpu_dtype.py`` (about 2 minutes on 2 cores).

The same weights are loaded twice, once per dtype (``load_smollm2(dtype=...)``), with the
prefix cache off so every call prefills its whole prompt. Measured, alternating the two
models REPEATS times (median, best in brackets):

* prefill: one forward pass over the planner's prompt for the demo question (the engine's
  real prompt, the five demo tools), tokens per second;
* decode: free text through ``TransformersModel.stream`` (our loop), milliseconds per
  generated token after the first (the first comes out of the prefill).

Every forward runs in a worker thread, as in the engine. "auto" (the default dtype) picks
bf16 only where the CPU has AMX or AVX512-BF16 (printed on the hardware line).
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
from reasoner.models._dtype import resolve_dtype  # noqa: E402
from reasoner.planner._prompts import plan_messages  # noqa: E402
from reasoner.tools import ToolRegistry  # noqa: E402
from reasoner.tools.demo import demo_tools  # noqa: E402

REPEATS = 3
NEW_TOKENS = 48
QUESTION = "Which three cloud providers are largest, what are their latest stock prices, and chart them"
STORY = [Message("user", "Write a short story about a robot who learns to paint. Make it at least three paragraphs.")]


class TimedRunner:
    """Wraps a runner; notes when the first forward (the prefill) of a generation ends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.prefill_end = 0.0
        self._passes = 0

    def new_cache(self, prefix: Any = None) -> Any:
        self._passes = 0
        return self.inner.new_cache(prefix)

    def export(self, cache: Any) -> Any:
        return self.inner.export(cache)

    def forward(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor:
        logits: torch.Tensor = self.inner.forward(token_ids, cache)
        self._passes += 1
        if self._passes == 1:
            self.prefill_end = time.perf_counter()
        return logits


def _prefill(model: TransformersModel, ids: list[int]) -> float:
    def run() -> float:
        with torch.inference_mode():
            cache = model._runner.new_cache()
            started = time.perf_counter()
            model._runner.forward(ids, cache)
            return time.perf_counter() - started

    return anyio.run(lambda: anyio.to_thread.run_sync(run))


def _decode(model: TransformersModel, runner: TimedRunner) -> tuple[float, str, int]:
    async def go() -> tuple[float, str, int]:
        parts: list[str] = []
        tokens = 0
        async for delta in model.stream(STORY, options=GenerateOptions(max_tokens=NEW_TOKENS)):
            parts.append(delta.text)
            if delta.usage is not None:
                tokens = delta.usage.completion_tokens
        ended = time.perf_counter()
        return (ended - runner.prefill_end) * 1000 / max(tokens - 1, 1), "".join(parts), tokens

    return anyio.run(go)


def main() -> None:
    print("bench_cpu_dtype: bf16 vs fp32, SmolLM2-135M-Instruct on CPU, batch 1, greedy")
    print(f"hardware: {cpu()}")
    print(f"versions: torch {torch.__version__}, transformers {version('transformers')}; commit {commit()}")
    print(f"auto picks: {resolve_dtype('auto', 'cpu')}; {load()}\n")
    registry = ToolRegistry.of(demo_tools())
    models: dict[str, tuple[TransformersModel, TimedRunner]] = {}
    for name in ("float32", "bfloat16"):
        model = load_smollm2(dtype=name)
        model.prefix_cache.max_bytes = 0
        runner = TimedRunner(model._runner)
        model._runner = runner
        models[name] = (model, runner)
    ids = models["float32"][0]._prompt_ids(plan_messages(QUESTION, registry))
    for model, runner in models.values():  # warm-up: oneDNN builds its kernels on first use
        _prefill(model, ids)
        _decode(model, runner)
    prefill: dict[str, list[float]] = {n: [] for n in models}
    decode: dict[str, list[float]] = {n: [] for n in models}
    texts: dict[str, str] = {}
    for _ in range(REPEATS):
        for name, (model, runner) in models.items():
            prefill[name].append(len(ids) / _prefill(model, ids))
            ms, texts[name], tokens = _decode(model, runner)
            decode[name].append(ms)
    print(f"prompt: the planner's prompt for the demo question, {len(ids)} tokens; decode: {NEW_TOKENS} new tokens of free text")
    print(f"  {'dtype':<9} {'prefill tok/s [best]':>22} {'decode ms/token [best]':>24}")
    for name in models:
        print(
            f"  {name:<9} {statistics.median(prefill[name]):>14.0f} [{max(prefill[name]):5.0f}]"
            f" {statistics.median(decode[name]):>16.1f} [{min(decode[name]):5.1f}]"
        )
    p = statistics.median(prefill["bfloat16"]) / statistics.median(prefill["float32"])
    d = statistics.median(decode["float32"]) / statistics.median(decode["bfloat16"])
    print(f"  bf16 / fp32: prefill {p:.2f}x the tokens per second, decode {d:.2f}x faster per token (medians)")
    same = texts["float32"] == texts["bfloat16"]
    print(f"  same greedy text in both dtypes: {same}; {load()} after")


if __name__ == "__main__":
    main()
