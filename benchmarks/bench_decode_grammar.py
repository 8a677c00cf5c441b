"""Constrained vs unconstrained decoding per token: the embedded SmolLM2-135M on this CPU.

Run: ``.venv/bin/python benchmarks/bench_decode_grammar.py`` (about 2 minutes on 2 quiet cores).

Target (issue 3): constrained decoding at most 5% slower per token than unconstrained.

Both runs go through the same public path (``TransformersModel.stream``, our decode loop,
the engine's default dtype, batch 1, greedy) with the same prompt: the engine's planner
prompt for the demo question with the five demo tools. The model is the embedded default,
the base with the shipped adapter merged (the untuned base answers the question with an
empty plan, which would leave nothing to compare).

* constrained: the reasoning loop's plan grammar (``plan_schema(registry, strict=True,
  unknown_tool_paths="union")`` with the loop's bounds), llguidance. Tokens the grammar
  forces are appended without a sampling step and fed to the next forward pass together
  with the sampled token.
* unconstrained: free text, ``max_tokens`` = the constrained run's token count.

The prefill (the first forward pass, over the whole prompt) is timed apart; the decode
phase is everything after it. Reported: ms per generated token (forced tokens included),
ms per forward pass (a pass after forced tokens feeds several tokens), and the grammar's
own CPU time per pass (mask, advance, forced-token look-ahead; timed by wrapping the
compiled grammar's matchers). Forward passes are counted by wrapping the model's runner.
The two runs alternate, REPEATS times each; medians are reported, bests in brackets.

The whole measurement runs twice, in subprocesses: with OpenMP's defaults, and with
``OMP_WAIT_POLICY=PASSIVE``. On a CPU shared with other work, libgomp's spinning threads
starve the grammar work done between forward passes (constrained passes then cost many
times a free one); passive waiting removes that. Compare the two tables only on the
machine and load they were measured on (the load average is printed).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import anyio  # noqa: E402
import torch  # noqa: E402

from reasoner.grammars import compile_json_schema  # noqa: E402
from reasoner.models import GenerateOptions, Message, TransformersModel, load_smollm2  # noqa: E402
from reasoner.models._embedded import SHIPPED_ADAPTER  # noqa: E402
from reasoner.planner import Plan, plan_schema, validate  # noqa: E402
from reasoner.planner._prompts import plan_messages  # noqa: E402
from reasoner.tools import ToolRegistry  # noqa: E402
from reasoner.tools.demo import demo_tools  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import (
    commit,  # noqa: E402
    cpu_name,  # noqa: E402
)

REPEATS = 3
QUESTION = "Which three cloud providers are largest, what are their latest stock prices, and chart them"
# the reasoning loop's plan grammar (reasoner._loop.LoopConfig.schema, first plan)
SCHEMA_OPTIONS: dict[str, Any] = {"max_nodes": 16, "max_string": 96, "max_array": 16, "strict": True, "unknown_tool_paths": "union"}
MAX_TOKENS = 768
TARGET = 1.05
CONFIGS = {"OpenMP defaults": {}, "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}}



class CountingRunner:
    """Wraps the model's runner: counts forward passes and notes when the first (prefill) ended."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.passes = 0
        self.fed = 0
        self.prefill_end = 0.0

    def new_cache(self, prefix: Any = None) -> Any:
        return self.inner.new_cache(prefix)

    def export(self, cache: Any) -> Any:
        return self.inner.export(cache)

    def forward(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor:
        logits: torch.Tensor = self.inner.forward(token_ids, cache)
        self.passes += 1
        if self.passes > 1:
            self.fed += len(token_ids)
        if self.passes == 1:
            self.prefill_end = time.perf_counter()
        return logits


class TimedMatcher:
    """Wraps a grammar matcher; adds the time of every call to ``clock[0]``."""

    def __init__(self, inner: Any, clock: list[float]) -> None:
        self._inner = inner
        self._clock = clock

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._inner, name)

        def timed(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args)
            finally:
                self._clock[0] += time.perf_counter() - started

        return timed


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    tokens: int  # completion tokens, forced included
    forced: int
    passes: int  # forward passes after the prefill
    fed: int  # tokens those passes fed
    prefill_s: float
    decode_s: float
    grammar_s: float

    @property
    def ms_per_token(self) -> float:
        # the prefill pass samples the first token; the decode phase makes the rest
        return self.decode_s * 1000 / max(self.tokens - 1, 1)

    @property
    def ms_per_pass(self) -> float:
        return self.decode_s * 1000 / max(self.passes, 1)

    @property
    def grammar_ms_per_pass(self) -> float:
        return self.grammar_s * 1000 / max(self.passes, 1)


def _run(model: TransformersModel, runner: CountingRunner, clock: list[float], messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Run:
    async def go() -> Run:
        options = GenerateOptions(max_tokens=max_tokens)  # greedy
        parts: list[str] = []
        runner.passes = runner.fed = 0
        clock[0] = 0.0
        started = time.perf_counter()
        usage = None
        async for delta in model.stream(messages, schema=schema, options=options):
            parts.append(delta.text)
            usage = delta.usage
        ended = time.perf_counter()
        assert usage is not None
        return Run("".join(parts), usage.completion_tokens, usage.forced_tokens, runner.passes - 1, runner.fed, runner.prefill_end - started, ended - runner.prefill_end, clock[0])

    return anyio.run(go)


def _row(name: str, runs: list[Run]) -> tuple[float, float, float]:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    per_token = [r.ms_per_token for r in runs]
    per_pass = [r.ms_per_pass for r in runs]
    grammar = med([r.grammar_ms_per_pass for r in runs])
    last = runs[-1]
    print(
        f"  {name:<14} {last.tokens:>6} {last.forced:>6} {last.passes:>6} {last.fed / max(last.passes, 1):>5.2f}"
        f" {med([r.prefill_s for r in runs]) * 1000:>8.0f}"
        f" {med(per_token):>7.1f} [{min(per_token):5.1f}] {med(per_pass):>7.1f} [{min(per_pass):5.1f}] {grammar:>9.2f}"
    )
    return med(per_token), med(per_pass), grammar


def measure() -> None:
    """One configuration (this process's environment): warm up, then alternate the runs."""
    registry = ToolRegistry.of(demo_tools())
    schema = plan_schema(registry, **SCHEMA_OPTIONS)
    messages = plan_messages(QUESTION, registry)  # the loop's default prompt: no worked examples
    model = load_smollm2(adapter=SHIPPED_ADAPTER)  # the default model, in the default dtype
    model.prefix_cache.max_bytes = 0  # every run prefills its whole prompt (bench_prefix_cache.py measures the cache)
    runner = CountingRunner(model._runner)
    model._runner = runner  # the loop reads the runner at each generation
    # the loop compiles through the same cache, so it gets this grammar: time its matchers
    grammar = compile_json_schema(schema, model.tokenizer)
    clock = [0.0]
    new_matcher = grammar._new_matcher
    grammar._new_matcher = lambda: TimedMatcher(new_matcher(), clock)  # type: ignore[assignment,return-value]

    first = _run(model, runner, clock, messages, schema, MAX_TOKENS)  # warm-up
    validate(Plan.from_json(first.text), registry)
    _run(model, runner, clock, messages, None, 4)
    constrained: list[Run] = []
    free: list[Run] = []
    for _ in range(REPEATS):
        constrained.append(_run(model, runner, clock, messages, schema, MAX_TOKENS))
        free.append(_run(model, runner, clock, messages, None, first.tokens))

    print(f"  torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} (before: {os.environ.get('BENCH_LOAD', '?')})")
    print(f"  prompt {len(model._prompt_ids(messages))} tokens; constrained output, a valid plan: {first.text}")
    print(
        f"  {'run':<14} {'tokens':>6} {'forced':>6} {'passes':>6} {'tok/p':>5} {'prefill':>8}"
        f" {'ms/token [best]':>15} {'ms/pass [best]':>15} {'grammar ms/pass':>9}"
    )
    c_token, c_pass, c_grammar = _row("constrained", constrained)
    f_token, f_pass, _ = _row("unconstrained", free)
    if free[-1].tokens != first.tokens:
        print(f"  (the unconstrained run stopped at EOS after {free[-1].tokens} of {first.tokens} tokens)")
    ratio = c_token / f_token
    print(f"  per generated token, constrained / unconstrained: {ratio:.3f}x (target <= {TARGET:.2f}x: {'met' if ratio <= TARGET else 'MISSED'})")
    print(f"  per forward pass, constrained / unconstrained: {c_pass / f_pass:.3f}x (constrained passes feed forced tokens too: tok/p)")
    share = c_grammar / f_pass
    print(f"  grammar work per pass / an unconstrained pass: {share:.1%} (mask, advance, forced look-ahead; {'within' if share <= TARGET - 1 else 'over'} 5%)")


def main() -> None:
    if "--measure" in sys.argv:
        measure()
        return
    print("bench_decode_grammar: SmolLM2-135M-Instruct, constrained (plan grammar) vs unconstrained decoding, per token")
    print(f"hardware: {cpu_name()}, {os.cpu_count()} cores")
    print(
        f"versions: python {platform.python_version()}, torch {torch.__version__}, transformers {version('transformers')},"
        f" llguidance {version('llguidance')}; commit {commit()}"
    )
    print("model: smollm2-135m (shipped adapter merged), default dtype on CPU, batch 1, greedy; our loop through TransformersModel.stream")
    print(f"plan grammar: 5 demo tools, {SCHEMA_OPTIONS}, llguidance; ms columns: prefill total, decode per token/pass")
    for name, env in CONFIGS.items():
        print(f"\n## {name}", flush=True)
        child_env = {**os.environ, **env, "BENCH_LOAD": f"{os.getloadavg()[0]:.1f}"}
        subprocess.run([sys.executable, __file__, "--measure"], env=child_env, check=True)


if __name__ == "__main__":
    main()
