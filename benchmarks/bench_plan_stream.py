"""Streaming plan parser: cost of turning a plan streamed in small chunks into nodes.

Baseline: the stateless way, re-parsing the whole text received so far after every chunk
(what a parser that keeps no scanner state has to do): quadratic in the text length.
Ours: ``PlanStreamParser.feed``, which looks at each character once. Reference: one
``json.loads`` of the finished text (not streaming; the floor). Run:

    .venv/bin/python benchmarks/bench_plan_stream.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

from reasoner.planner import PlanStreamParser

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import commit, cpu_name  # noqa: E402


def plan_text(nodes: int) -> str:
    body = [
        {"id": i, "tool": "search", "args": {"query": f"cloud provider {i} {{q}} \"x\"", "k": 3,
                                              "after": {"$ref": i - 1, "path": "0.title"} if i > 1 else None}}
        for i in range(1, nodes + 1)
    ]
    return json.dumps({"nodes": body}, separators=(",", ":"))


def chunked(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def ours(chunks: list[str]) -> int:
    parser = PlanStreamParser()
    count = sum(len(parser.feed(chunk)) for chunk in chunks)
    parser.finish()
    return count


def baseline(chunks: list[str]) -> int:
    buffer, emitted = "", 0
    for chunk in chunks:
        buffer += chunk
        parser = PlanStreamParser()  # no state kept between chunks: scan everything again
        emitted = max(emitted, len(parser.feed(buffer)))
    return emitted


def best_of(fn: object, arg: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(arg)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)



def main() -> None:
    print(f"# bench_plan_stream  commit {commit()}")
    print(f"# cpu: {cpu_name()} ({os.cpu_count()} cores)  python {sys.version.split()[0]}  reasoner {version('reasoner')}")
    print("# baseline: re-parse everything received after each chunk; ours: PlanStreamParser.feed; json.loads: whole text once")
    print("# 4 chars/chunk ~ one LLM token; ours and json.loads best of 3, baseline one run")
    print(f"{'nodes':>6} {'chars':>9} {'chunk':>5} {'json.loads':>11} {'baseline s':>11} {'ours s':>9} {'ours MB/s':>9} {'speed-up':>9}")
    # the baseline is quadratic: it runs only where it finishes in seconds
    rows = [(50, 1, True), (100, 4, True), (300, 16, True), (1_000, 4, False), (10_000, 1, False), (10_000, 4, False)]
    for nodes, size, with_baseline in rows:
        text = plan_text(nodes)
        chunks = chunked(text, size)
        floor = best_of(json.loads, text, 3)
        t_ours = best_of(ours, chunks, 3)
        assert ours(chunks) == nodes
        if with_baseline:
            t_base = best_of(baseline, chunks, 1)
            base, ratio = f"{t_base:11.3f}", f"{t_base / t_ours:8.0f}x"
        else:
            base, ratio = f"{'(skipped)':>11}", f"{'-':>9}"
        print(f"{nodes:>6} {len(text):>9} {size:>5} {floor:11.4f} {base} {t_ours:9.3f} {len(text) / t_ours / 1e6:9.2f} {ratio}")


if __name__ == "__main__":
    main()
