"""Registering a spec tool with a large output schema: a baseline revision vs this checkout.

Run: ``.venv/bin/python -P benchmarks/bench_tool_registration.py [--baseline-rev REV]``
(default REV: ``main``; about 30 s on 2 cores).

The schema is shaped like a public hotel-booking API's output (about 2,900 JSON values:
480 room-like objects, a third of them ``$ref``s to a shared definition with a nested
``$ref``, patterns and enums). Each arm runs in its own process (the baseline from
``git archive REV`` laid out as the installed package, first on ``PYTHONPATH``) and
times ``ToolSpec.from_schema`` plus ``ToolRegistry`` registration ROUNDS times: the first
registration (the schema is new) and the median and best of the rest (the schema is known:
it is converted and checked once per distinct schema), with the ratio of medians. Target:
<= 20 ms.
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

ROUNDS = 30
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

def values(x):
    children = x.values() if isinstance(x, dict) else x if isinstance(x, list) else []
    return 1 + sum(values(v) for v in children)

output = json.loads(json.dumps(schema(480)))
spec = {"type": "function", "function": {"name": "book", "description": "Book a room.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}},
        "output_schema": output}

def fn(q: str) -> dict:
    return {}

times = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    ToolRegistry([ToolSpec.from_schema(spec, fn)])
    times.append(time.perf_counter() - start)
print(json.dumps({"values": values(output), "first_ms": times[0] * 1e3, "median_ms": statistics.median(times[1:]) * 1e3, "best_ms": min(times[1:]) * 1e3}))
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
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = run_arm(str(baseline_tree(args.baseline_rev, Path(tmp))), max(3, ROUNDS // 10))
    ours = run_arm(None, ROUNDS)
    print(f"# ToolSpec.from_schema + registration, {int(ours['values'])}-value output schema; "
          f"{platform.machine()}, {os.cpu_count()} CPUs; baseline {args.baseline_rev} vs HEAD {commit}")  # fmt: skip
    for arm, r in (("baseline", baseline), ("ours", ours)):
        print(f"{arm + ':':<9} first {r.get('first_ms', float('nan')):.1f} ms; again (same schema): median {r['median_ms']:.1f} ms, best {r['best_ms']:.1f} ms")
    print(f"ratio (medians): {baseline['median_ms'] / ours['median_ms']:.0f}x; target <= 20 ms")


if __name__ == "__main__":
    main()
