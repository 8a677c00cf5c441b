"""/healthz latency while hostile requests are in flight: a baseline revision vs this checkout.

Run: ``.venv/bin/python -P benchmarks/bench_server_hostile.py [--baseline-rev REV]``
(default REV: ``main``; about a minute on 2 cores).

Each arm starts ``create_app`` on uvicorn (127.0.0.1) in its own process: the baseline
from ``git archive REV`` laid out as the installed package (put first on ``PYTHONPATH``),
ours from the installed package. The engine's model is a ScriptedModel (plan, finish,
answer), so no model time is measured. For each hostile request this process sends it
and, while it is in flight, ``GET /healthz`` back to back; it reports the hostile
request's status and time, and the /healthz latency (median and worst) during it:

- ``refs``: an output schema whose ``$defs`` each refer twice to the next (depth 18, 1.3 KB),
- ``wide``: an output schema with 60,000 properties (under the 1 MB body limit),
- ``redos``: an output schema ``{"pattern": "^(a+)+$"}`` and an answer of 25 ``a`` and a ``!``.

Before any hostile request, /healthz is sampled on the idle server as the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _baseline import ROOT, baseline_tree  # noqa: E402
from _machine import header  # noqa: E402

SERVER = """
import json, sys, uvicorn
from reasoner import Engine, tool
from reasoner.server import create_app
from reasoner.models import ScriptedModel

@tool
def price(ticker: str) -> float:
    '''Sample close.

    Args:
        ticker: exchange symbol.
    '''
    return 420.5

PLAN = json.dumps({"nodes": [{"id": 1, "tool": "price", "args": {"ticker": "MSFT"}}]})
ANSWER = json.dumps("a" * 25 + "!")

def make():
    return Engine(tools=[price], planner=ScriptedModel([PLAN, '{"action":"finish"}', ANSWER, ANSWER, ANSWER]))

uvicorn.run(create_app(make), host="127.0.0.1", port=int(sys.argv[1]), log_level="critical")
"""


def hostile_bodies() -> dict[str, dict[str, Any]]:
    depth = 18
    defs: dict[str, Any] = {f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "string"}
    return {
        "refs": {"query": "q", "output_schema": {"$ref": "#/$defs/d0", "$defs": defs}},
        "wide": {"query": "q", "output_schema": {"type": "object", "properties": {f"p{i}": {} for i in range(60_000)}}},
        "redos": {"query": "q", "output_schema": {"type": "string", "pattern": "^(a+)+$"}},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(port: int) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for _ in range(300):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await anyio.sleep(0.1)
        idle = []
        for _ in range(50):
            t = time.perf_counter()
            await client.get("/healthz")
            idle.append(time.perf_counter() - t)
        out["idle"] = {"p50_ms": statistics.median(idle) * 1e3, "max_ms": max(idle) * 1e3}
        for name, body in hostile_bodies().items():
            samples: list[float] = []
            result: dict[str, Any] = {}

            async def send(body: dict[str, Any] = body, result: dict[str, Any] = result) -> None:
                t = time.perf_counter()
                r = await client.post("/v1/reason", json=body)
                result.update(status=r.status_code, seconds=time.perf_counter() - t)

            async with anyio.create_task_group() as tg:
                tg.start_soon(send)
                await anyio.sleep(0)  # the request is on its way
                while not samples or "status" not in result:
                    t = time.perf_counter()
                    await client.get("/healthz")
                    samples.append(time.perf_counter() - t)
            out[name] = {
                **result,
                "healthz_p50_ms": statistics.median(samples) * 1e3,
                "healthz_max_ms": max(samples) * 1e3,
                "healthz_n": len(samples),
            }
    return out


def run_arm(pythonpath: str | None) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-P", "-c", SERVER, str(port)], env=env, cwd=tempfile.gettempdir())
    try:
        return anyio.run(measure, port)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-rev", default="main", help="git revision of the baseline arm (default: main)")
    args = parser.parse_args()
    base_commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline_rev], capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = run_arm(str(baseline_tree(args.baseline_rev, Path(tmp))))
    ours = run_arm(None)
    print(header("bench_server_hostile"))
    print(f"# /healthz while a hostile request is in flight; baseline {args.baseline_rev} ({base_commit}) vs ours (the commit above)")
    print(f"{'request':<8} {'arm':<9} {'status':>6} {'request s':>10} {'healthz p50 ms':>15} {'healthz max ms':>15} {'samples':>8}")
    print(f"{'idle':<8} {'baseline':<9} {'':>6} {'':>10} {baseline['idle']['p50_ms']:>15.1f} {baseline['idle']['max_ms']:>15.1f}")
    print(f"{'idle':<8} {'ours':<9} {'':>6} {'':>10} {ours['idle']['p50_ms']:>15.1f} {ours['idle']['max_ms']:>15.1f}")
    for name in hostile_bodies():
        for arm, res in (("baseline", baseline[name]), ("ours", ours[name])):
            print(
                f"{name:<8} {arm:<9} {res['status']:>6} {res['seconds']:>10.2f} "
                f"{res['healthz_p50_ms']:>15.1f} {res['healthz_max_ms']:>15.1f} {res['healthz_n']:>8}"
            )
        ratio = baseline[name]["healthz_max_ms"] / max(ours[name]["healthz_max_ms"], 1e-9)
        print(f"{name:<8} worst /healthz: baseline / ours = {ratio:.0f}x")
    print(json.dumps({"baseline": baseline, "ours": ours}))


if __name__ == "__main__":
    main()
