"""``reasoner run`` on the demo question, wall time of the whole process (start, imports, model
load, plan, tools, join, answer): an earlier commit against this checkout, in the same run.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_cli_run.py [BASELINE_REV]``
(default baseline ``bd08997``, the commit before the prefix cache, bf16 and the merged
adapter cache; a few minutes on 2 cores).

Both run ``python -P -m reasoner run --plain QUESTION`` with the embedded default model
and the demo tools; the baseline's tree (``git archive``) goes first on ``PYTHONPATH``.
One warm-up run each (the first run of this checkout writes the merged-adapter cache),
then REPEATS alternating runs; medians with bests in brackets. The time splits printed
are from each run's own summary (model seconds per role).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)

from _baseline import baseline_tree  # noqa: E402
from _machine import commit, cpu, load  # noqa: E402

REPEATS = 2
QUESTION = "Which three cloud providers are largest, what are their latest stock prices, and chart them"


def _run(env: dict[str, str], charts: str) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-P", "-m", "reasoner", "run", "--plain", "--chart-dir", charts, QUESTION],
        env=env, capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    return time.perf_counter() - started, out.stdout


def _roles(stdout: str) -> str:
    rows = re.findall(r"^\s+(planner|joiner|answerer)\s+\S+\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)$", stdout, re.M)
    return ", ".join(f"{role} {seconds} s ({prompt} prompt tokens)" for role, prompt, _, _, seconds in rows)


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else "bd08997"
    print(f"bench_cli_run: reasoner run on the demo question, whole process wall time, {rev} vs this checkout")
    print(f"hardware: {cpu()}")
    print(f"commit {commit()}; {load()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        src = baseline_tree(rev, Path(tmp))
        base_env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
        ours_env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        ours_env.pop("PYTHONPATH", None)
        runs = {f"baseline {rev}": base_env, "ours": ours_env}
        charts = str(Path(tmp) / "charts")
        for env in runs.values():
            _run(env, charts)  # warm-up
        times: dict[str, list[float]] = {name: [] for name in runs}
        last: dict[str, str] = {}
        for _ in range(REPEATS):
            for name, env in runs.items():
                seconds, stdout = _run(env, charts)
                times[name].append(seconds)
                last[name] = stdout
    for name, values in times.items():
        print(f"  {name:<20} {statistics.median(values):6.2f} s [{min(values):6.2f}]   last run: {_roles(last[name])}")
    base, ours = (statistics.median(v) for v in times.values())
    print(f"  baseline / ours: {base / ours:.2f}x (medians); {load()} after")
    for name, stdout in last.items():
        answer = stdout.split("answer:", 1)[-1].split("summary", 1)[0].strip()
        print(f"  {name} answer: {answer[:160]}")


if __name__ == "__main__":
    main()
