"""Load time of the default model ``smollm2-135m`` (base + shipped LoRA adapter): merged at
every load against loaded from the merged-weights cache, with the plain base beside them.

Run: ``nice -n 19 .venv/bin/python -P benchmarks/bench_model_load.py`` (about a minute on 2 cores).

Each load is the full blocking call a first use makes (verification of the cache against
its manifest, tokenizer, weights, cast to the run dtype), in a fresh home that links the
built base cache, so the user's own home is untouched:

* base: ``load_smollm2(home)``, no adapter (the floor);
* merge at load (before): the base loaded in float32, the adapter merged, cast to the run
  dtype (``TransformersModel.from_folder(base, adapter=...)``, what every load did);
* merged cache (ours): ``load_smollm2(home, adapter=...)`` once the merged weights are
  cached (the first such call builds the cache; timed separately).

The three alternate REPEATS times; medians with bests in brackets.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)

import torch  # noqa: E402
from _machine import commit, cpu, load  # noqa: E402

from reasoner.models import SMOLLM2_NAME, TransformersModel, ensure_smollm2, load_smollm2  # noqa: E402
from reasoner.models._dtype import resolve_dtype  # noqa: E402
from reasoner.models._embedded import SHIPPED_ADAPTER  # noqa: E402

REPEATS = 3


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    print("bench_model_load: smollm2-135m (base + shipped adapter), merge at every load vs the merged-weights cache")
    print(f"hardware: {cpu()}")
    print(f"versions: torch {torch.__version__}, transformers {version('transformers')}; commit {commit()}")
    dtype = resolve_dtype(None, "cpu")
    print(f"dtype: {dtype} (the default here); adapter: {SHIPPED_ADAPTER.name}; {load()}\n")
    base = ensure_smollm2()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "models").mkdir()
        (home / "models" / SMOLLM2_NAME).symlink_to(base, target_is_directory=True)
        load_smollm2(home)  # warm-up: imports, page cache
        build = _timed(lambda: load_smollm2(home, adapter=SHIPPED_ADAPTER))
        cases: dict[str, Callable[[], Any]] = {
            "base, no adapter": lambda: load_smollm2(home),
            "merge at load (before)": lambda: TransformersModel.from_folder(base, adapter=SHIPPED_ADAPTER),
            "merged cache (ours)": lambda: load_smollm2(home, adapter=SHIPPED_ADAPTER),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(REPEATS):
            for name, fn in cases.items():
                times[name].append(_timed(fn))
    print(f"  first load with the adapter (merges, writes the cache): {build:.2f} s")
    print(f"  {'load':<24} {'seconds [best]':>16}")
    for name, values in times.items():
        print(f"  {name:<24} {statistics.median(values):>8.2f} [{min(values):5.2f}]")
    before, ours = statistics.median(times["merge at load (before)"]), statistics.median(times["merged cache (ours)"])
    print(f"  merge at load / merged cache: {before / ours:.2f}x (medians); {load()} after")


if __name__ == "__main__":
    main()
