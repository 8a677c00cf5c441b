"""The answerer with prompt-lookup drafting against without: SmolLM2-135M on CPU.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_draft.py`` (a few minutes on 2 cores).

The default model (base + shipped adapter, default dtype) answers three demo-style
questions through the reasoning loop once, recording the answerer's prompt (question and
tool results). Each prompt is then decoded greedily through ``TransformersModel.stream``
with drafting off (one forward pass per token, the baseline) and on, alternating, REPEATS
times each (medians). The texts must be identical; printed: tokens, forward passes,
seconds and the ratio.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)

import anyio  # noqa: E402
from _machine import header, load  # noqa: E402

from reasoner import Engine  # noqa: E402
from reasoner.models import (  # noqa: E402
    GenerateOptions,
    Message,
    TransformersModel,
    load_smollm2,
)
from reasoner.models._embedded import SHIPPED_ADAPTER  # noqa: E402
from reasoner.tools.demo import demo_tools  # noqa: E402

REPEATS = 3
QUESTIONS = [
    "Which three cloud providers are largest, what are their latest stock prices, and chart them",
    "What are the latest closing prices of Netflix and Adobe?",
    "Who founded Intel, and when?",
]


def _answerer_prompts(model: TransformersModel, chart_dir: str) -> list[list[Message]]:
    """The answerer's messages for each question, as the loop builds them."""
    prompts: list[list[Message]] = []
    stream = model.stream

    def recording(messages: Sequence[Message], *, schema: Any = None, **kw: Any) -> AsyncIterator[Any]:
        if schema is None:  # the planner and joiner decode under a grammar; the answerer does not
            prompts.append(list(messages))
        return stream(messages, schema=schema, **kw)

    model.stream = recording  # type: ignore[method-assign]

    async def go() -> None:
        async with Engine(tools=demo_tools(chart_dir=chart_dir), planner=model, joiner=model, answerer=model) as engine:
            for question in QUESTIONS:
                await engine.reason(question)

    try:
        anyio.run(go)
    finally:
        del model.stream
    return prompts


def _decode_once(model: TransformersModel, messages: list[Message], draft: int) -> tuple[str, int, int, float]:
    """The text, tokens, forward passes and seconds of one greedy answer."""
    model.draft_tokens = draft
    runner = model._runner
    passes = [0]
    forward, forward_all = runner.forward, runner.forward_all  # type: ignore[attr-defined]

    def one(ids: Sequence[int], cache: Any) -> Any:
        passes[0] += 1
        return forward(ids, cache)

    def many(ids: Sequence[int], cache: Any) -> Any:
        passes[0] += 1
        return forward_all(ids, cache)

    runner.forward, runner.forward_all = one, many  # type: ignore[attr-defined, method-assign]

    async def go() -> tuple[str, int]:
        text, tokens = "", 0
        async for delta in model.stream(messages, options=GenerateOptions(max_tokens=256)):
            text += delta.text
            tokens += len(delta.token_ids)
        return text, tokens

    try:
        started = time.perf_counter()
        text, tokens = anyio.run(go)
        return text, tokens, passes[0], time.perf_counter() - started
    finally:
        del runner.forward, runner.forward_all  # type: ignore[attr-defined]


def main() -> None:
    print(header("bench_draft: the answerer with prompt-lookup drafting vs without, SmolLM2-135M-Instruct on CPU"))
    model = load_smollm2(adapter=SHIPPED_ADAPTER)
    default = model.draft_tokens
    print(f"model: smollm2-135m + shipped adapter, {model.dtype}, batch 1, greedy, up to {default} drafted tokens per pass; {load()}\n")
    with tempfile.TemporaryDirectory() as charts:
        prompts = _answerer_prompts(model, charts)
    print(f"  {'prompt':>6} {'tokens':>6} {'passes off/on':>14} {'ms off':>8} {'ms on':>8} {'off/on':>7}  same text")
    ratios = []
    for messages in prompts:
        _decode_once(model, messages, default)  # warm-up: the prefix cache holds the prompt for both
        off: list[float] = []
        on: list[float] = []
        for _ in range(REPEATS):
            plain, tokens, plain_passes, seconds = _decode_once(model, messages, 0)
            off.append(seconds)
            drafted, _, draft_passes, seconds = _decode_once(model, messages, default)
            on.append(seconds)
        ratio = statistics.median(off) / statistics.median(on)
        ratios.append(ratio)
        prompt = len(model._prompt_ids(messages))
        print(
            f"  {prompt:>6} {tokens:>6} {plain_passes:>6}/{draft_passes:<7} {statistics.median(off) * 1000:>8.0f} "
            f"{statistics.median(on) * 1000:>8.0f} {ratio:>6.2f}x  {plain == drafted}"
        )
    model.draft_tokens = default
    print(f"\n  answerer time without / with drafting: {statistics.median(ratios):.2f}x (median over prompts); {load()} after")


if __name__ == "__main__":
    main()
