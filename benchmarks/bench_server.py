"""HTTP server load benchmark: 100 concurrent streaming runs, over loopback, against the engine called directly.

Run: ``.venv/bin/python benchmarks/bench_server.py`` (about 1 minute on 2 cores).

The engine is the same in both arms: one shared Engine whose planner, joiner and answerer
are ScriptedModels (a piece every 2 ms) and whose plans call two sleeping tools (50 ms)
in parallel. Each arm runs in its own fresh process:

- baseline (``--direct``): CONCURRENCY concurrent ``engine.stream(query)`` consumed in
  process; latency = start to ``run.completed``.
- ours (``--serve``): the same engine behind ``create_app`` on uvicorn (127.0.0.1); this
  process sends CONCURRENCY concurrent ``POST /v1/reason`` with ``stream: true``, each on
  its own connection through a minimal HTTP/1.1 client (anyio sockets: httpx's pool
  itself added seconds at this concurrency, which is not the server's cost), and checks
  every stream (ids ``<run_id>:0..n`` in order, ``run.completed`` with the
  scripted answer, then ``event: done``); latency = request sent to ``done`` received.

Each arm does a warm-up batch, then ROUNDS batches; percentiles pool every run. "Added by
the server" is ours minus baseline at the same percentile. Peak memory is the largest
RSS sampled (every 20 ms) of the process that runs the engine: the server in one arm, the
direct runner in the other. The client shares the 2 cores with the server, so the added
latency is an upper bound for a server with its own machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import anyio
import psutil

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import commit, cpu_name, load  # noqa: E402

CONCURRENCY = 100
ROUNDS = 3
WARMUP = 20
TOOL_SECONDS = 0.05
TOKEN_DELAY = 0.002
ANSWER = "MSFT closed at 420.5 and AMZN at 186.2 (sample data)."
QUERY = "Compare the MSFT and AMZN closes"
ROOT = Path(__file__).resolve().parent.parent


def make_engine() -> Any:
    from reasoner import Engine, tool
    from reasoner.models import ScriptedModel

    @tool
    async def lookup(ticker: str) -> dict[str, Any]:
        """The latest sample close of a ticker.

        Args:
            ticker: exchange symbol.
        """
        await anyio.sleep(TOOL_SECONDS)
        return {"ticker": ticker, "close": {"MSFT": 420.5, "AMZN": 186.2}[ticker]}

    plan = json.dumps(
        {
            "nodes": [
                {"id": 1, "tool": "lookup", "args": {"ticker": "MSFT"}},
                {"id": 2, "tool": "lookup", "args": {"ticker": "AMZN"}},
            ]
        }
    )
    runs = WARMUP + ROUNDS * CONCURRENCY + 10
    return Engine(
        tools=[lookup],
        planner=ScriptedModel([plan] * runs, name="planner", token_delay=TOKEN_DELAY),
        joiner=ScriptedModel(['{"action":"finish"}'] * runs, name="joiner", token_delay=TOKEN_DELAY),
        answerer=ScriptedModel([ANSWER] * runs, name="answerer", token_delay=TOKEN_DELAY),
        max_concurrency=4 * CONCURRENCY,
    )


class PeakRss:
    """Samples a process's RSS in a thread; ``peak`` in MiB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak / 2**20


# -- the two arms' processes ------------------------------------------------------------


async def _direct() -> None:
    from contextlib import aclosing

    engine = make_engine()

    async def one(latencies: list[float]) -> None:
        start = time.perf_counter()
        async with aclosing(engine.stream(QUERY)) as events:
            async for event in events:
                last = event
        assert last.type == "run.completed" and last.data["answer"] == ANSWER
        latencies.append(time.perf_counter() - start)

    async def batch(n: int) -> list[float]:
        latencies: list[float] = []
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one, latencies)
        return latencies

    await batch(WARMUP)
    pooled: list[float] = []
    for _ in range(ROUNDS):
        pooled += await batch(CONCURRENCY)
    print(json.dumps({"latencies": pooled}), flush=True)


def _serve() -> None:
    import uvicorn

    from reasoner.server import create_app

    app = create_app(make_engine(), max_concurrent_runs=2 * CONCURRENCY, keepalive_s=5.0)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off", ws="none", access_log=False)
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started:
            time.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)
        sys.stdin.read()  # the parent closes stdin to stop us
        server.should_exit = True

    threading.Thread(target=announce, daemon=True).start()
    server.run()


# -- the client ---------------------------------------------------------------------------


def _check(text: str) -> None:
    frames = [block for block in text.split("\n\n") if block and not block.startswith(":")]
    *events, done = frames
    run_id = events[0].split("\nid: ")[1].split(":")[0]
    for seq, block in enumerate(events):
        assert f"\nid: {run_id}:{seq}\n" in block, block
    final = json.loads(events[-1].split("\ndata: ")[1])
    assert final["type"] == "run.completed" and final["data"]["answer"] == ANSWER, final
    assert done.startswith("event: done\n") and '"status":"completed"' in done, done


def _dechunk(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    out = bytearray()
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)


async def _post_stream(port: int) -> tuple[float, str]:
    """One ``POST /v1/reason`` (stream) on a fresh connection, read to the end: (seconds, body)."""
    start = time.perf_counter()
    stream = await anyio.connect_tcp("127.0.0.1", port)
    body = json.dumps({"query": QUERY, "stream": True}).encode()
    head = f"POST /v1/reason HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    async with stream:
        await stream.send(head.encode() + b"connection: close\r\n\r\n" + body)
        raw = bytearray()
        try:
            while True:
                raw += await stream.receive()
        except anyio.EndOfStream:
            pass
    return time.perf_counter() - start, _dechunk(bytes(raw)).decode()


async def _load(port: int) -> list[float]:
    async def batch(n: int) -> list[float]:
        latencies: list[float] = []

        async def one() -> None:
            seconds, text = await _post_stream(port)
            latencies.append(seconds)
            _check(text)

        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
        return latencies

    await batch(WARMUP)
    pooled: list[float] = []
    for _ in range(ROUNDS):
        pooled += await batch(CONCURRENCY)
    return pooled


def _child(mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]



def main() -> None:
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); Python {platform.python_version()}; commit {commit()}; {load()}")
    print("versions: " + ", ".join(f"{p} {version(p)}" for p in ("starlette", "uvicorn", "httpx", "anyio", "pydantic")))
    print(
        f"shape: {CONCURRENCY} concurrent runs x {ROUNDS} rounds (+{WARMUP} warm-up); each run: scripted planner, joiner, "
        f"answerer ({TOKEN_DELAY * 1000:g} ms/piece), 2 parallel tools sleeping {TOOL_SECONDS * 1000:g} ms"
    )

    direct = _child("--direct")
    with PeakRss(direct.pid) as direct_rss:
        out, _ = direct.communicate(timeout=150)
    if direct.returncode:
        raise SystemExit(f"the direct arm failed (exit {direct.returncode})")
    base = json.loads(out.strip().splitlines()[-1])["latencies"]

    server = _child("--serve")
    assert server.stdout is not None and server.stdin is not None
    port = int(server.stdout.readline())
    try:
        with PeakRss(server.pid) as server_rss:
            idle_mib = server_rss.process.memory_info().rss / 2**20
            ours = anyio.run(_load, port)
    finally:
        server.stdin.close()
        server.wait(timeout=30)

    print(f"all {len(ours)} streamed runs checked: ids in order, run.completed with the answer, then done")
    print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    rows = {"baseline: engine.stream": base, "ours: HTTP SSE via uvicorn": ours}
    for name, values in rows.items():
        print(f"{name:28}{_pct(values, 0.5) * 1e3:10.1f}{_pct(values, 0.99) * 1e3:10.1f}{max(values) * 1e3:10.1f}")
    added50 = (_pct(ours, 0.5) - _pct(base, 0.5)) * 1e3
    added99 = (_pct(ours, 0.99) - _pct(base, 0.99)) * 1e3
    print(f"{'added by the server':28}{added50:10.1f}{added99:10.1f}")
    print(f"ratio ours / baseline: p50 {_pct(ours, 0.5) / _pct(base, 0.5):.2f}x, p99 {_pct(ours, 0.99) / _pct(base, 0.99):.2f}x")
    print(f"mean ms: baseline {statistics.fmean(base) * 1e3:.1f}, ours {statistics.fmean(ours) * 1e3:.1f}")
    print(
        f"peak RSS: direct process {direct_rss.mib:.0f} MiB; server process {server_rss.mib:.0f} MiB "
        f"({idle_mib:.0f} MiB idle before the load, so {server_rss.mib - idle_mib:.0f} MiB for {CONCURRENCY} runs in flight)"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--direct"]:
        anyio.run(_direct)
    elif sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        main()
