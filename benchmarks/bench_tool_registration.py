"""Registering a spec tool with a large output schema: a baseline revision vs this checkout.

Run: ``.venv/bin/python -P benchmarks/bench_tool_registration.py [--baseline-rev REV]
[--rounds N] [--repeats K]`` (default REV: ``main``; about 1 min on 2 busy cores).

The schema is shaped like a public hotel-booking API's output (about 2,900 JSON values:
480 room-like objects, a third of them ``$ref``s to a shared definition with a nested
``$ref``, patterns and enums). Each arm runs in its own process (the baseline from
``git archive REV`` laid out as the installed package, first on ``PYTHONPATH``) and
times ``ToolSpec.from_schema`` plus ``ToolRegistry`` registration: the first registration
in the process, then ROUNDS registrations of schemas never seen before (each with its own
``title``: the cold path, conversion and checks included) interleaved with ROUNDS of a
schema seen before (the warm path: converted and checked once per distinct schema). Wall
time and the thread's CPU time are both shown (on a busy machine wall time is mostly
waiting for a core). Target: <= 20 ms, cold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _baseline import ROOT, baseline_tree  # noqa: E402

ROUNDS = 20
ARM = """
import json, statistics, sys, time
from reasoner.tools import ToolRegistry, ToolSpec

def schema(n):
    bed = {"type": "object", "properties": {"kind": {"type": "string"}, "n": {"type": "integer"}}}
    room = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "rate": {"type": "number", "minimum": 0},
        "beds": {"type": "array", "items": {"$ref": "#/$defs/Bed"}},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}}}}
    other = {"type": "object", "properties": {"x": {"type": "string", "pattern": "^[a-z]+$"}, "y": {"type": "integer"}}}
    props = {f"p{i}": {"$ref": "#/$defs/Room"} if i % 3 == 0 else other for i in range(n)}
    return {"type": "object", "properties": props, "$defs": {"Room": room, "Bed": bed}}

def tool_spec(title):
    output = json.loads(json.dumps({**schema(480), "title": title}))
    return {"type": "function", "function": {"name": "book", "description": "Book a room.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}},
            "output_schema": output}

def values(x):
    children = x.values() if isinstance(x, dict) else x if isinstance(x, list) else []
    return 1 + sum(values(v) for v in children)

def fn(q: str) -> dict:
    return {}

def register(spec):
    wall, cpu = time.perf_counter(), time.thread_time()
    ToolRegistry([ToolSpec.from_schema(spec, fn)])
    return (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3

known = tool_spec("known")
first = register(known)
cold, warm = [], []
for i in range(int(sys.argv[1])):
    cold.append(register(tool_spec(f"new {i}")))
    warm.append(register(known))
out = {"values": values(known["output_schema"]), "first_ms": first[0], "first_cpu_ms": first[1]}
for name, runs in (("cold", cold), ("warm", warm)):
    out[name + "_ms"] = statistics.median(r[0] for r in runs)
    out[name + "_best_ms"] = min(r[0] for r in runs)
    out[name + "_cpu_ms"] = statistics.median(r[1] for r in runs)
print(json.dumps(out))
"""


def run_arm(pythonpath: str | None, rounds: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-P", "-c", ARM, str(rounds)], env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-rev", default="main", help="git revision of the baseline arm (default: main)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="new and known schemas registered per process")
    parser.add_argument("--repeats", type=int, default=3, help="processes per arm, alternated")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tree = str(baseline_tree(args.baseline_rev, Path(tmp)))
        arms: dict[str, list[dict[str, float]]] = {"baseline": [], "ours": []}
        for _ in range(args.repeats):  # alternated, so that both see the same load
            arms["baseline"].append(run_arm(tree, args.rounds))
            arms["ours"].append(run_arm(None, args.rounds))
    print(f"# ToolSpec.from_schema + registration, {int(arms['ours'][0]['values'])}-value output schema; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f} -> {os.getloadavg()[0]:.1f}; "
          f"baseline {args.baseline_rev} vs HEAD {commit}; {args.repeats} processes x {args.rounds} rounds per arm")  # fmt: skip
    best: dict[str, dict[str, float]] = {}
    for arm, runs in arms.items():
        best[arm] = {k: min(r[k] for r in runs) for k in runs[0]}  # the least disturbed process
        r = best[arm]
        print(f"{arm + ':':<9} first in process {r['first_ms']:.1f} ms (cpu {r['first_cpu_ms']:.1f}); "
              f"new schema: median {r['cold_ms']:.1f} ms (cpu {r['cold_cpu_ms']:.1f}), best {r['cold_best_ms']:.1f}; "
              f"known schema: median {r['warm_ms']:.1f} ms (cpu {r['warm_cpu_ms']:.1f})")
    for key in ("first_ms", "cold_ms", "cold_cpu_ms", "warm_ms"):
        print(f"ratio {key}: {best['baseline'][key] / best['ours'][key]:.2f}x")
    print("target: <= 20 ms for a new schema")


if __name__ == "__main__":
    main()
