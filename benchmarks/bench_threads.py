"""Local decoding beside a busy neighbour: torch's default thread count vs the engine's choice.

Run: ``python -P benchmarks/bench_threads.py`` (a few minutes on 2 cores; do not nice it:
the neighbour it starts is the load).

SmolLM2-135M + shipped adapter in the default dtype writes 48 free tokens (greedy, no
drafting) for a 300-token prompt through ``TransformersModel.stream``, three ways,
alternating, REPEATS times each (medians):

* quiet: no neighbour, threads = every core (torch's default);
* neighbour, fixed: NEIGHBOURS busy processes (pure Python loops) beside it, threads =
  every core, which is what the library did before it chose;
* neighbour, chosen: the same neighbours, ``ThreadPolicy`` (the default) choosing the count
  from the CPU time the rest of the machine used.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)

import anyio  # noqa: E402
import torch  # noqa: E402
from _machine import header, load  # noqa: E402

from reasoner.models import GenerateOptions, Message, TransformersModel, load_smollm2  # noqa: E402
from reasoner.models._embedded import SHIPPED_ADAPTER  # noqa: E402
from reasoner.models._threads import ThreadPolicy  # noqa: E402

REPEATS = 3
TOKENS = 48
NEIGHBOURS = max(1, (os.cpu_count() or 2) - 1)
PROMPT = [Message("user", "Tell me about the history of the metric system. " * 30)]


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


def _ms_per_token(model: TransformersModel) -> float:
    async def go() -> tuple[int, float]:
        tokens, started = 0, 0.0
        async for delta in model.stream(PROMPT, options=GenerateOptions(max_tokens=TOKENS)):
            if not started:
                started = time.perf_counter()  # after the prefill: decode steps only
            tokens += len(delta.token_ids)
        return tokens, time.perf_counter() - started

    tokens, seconds = anyio.run(go)
    return seconds / max(1, tokens - 1) * 1000


def main() -> None:
    print(header("bench_threads: SmolLM2 decode beside a busy neighbour, default threads vs chosen"))
    model = load_smollm2(adapter=SHIPPED_ADAPTER)
    model.draft_tokens = 0  # one forward pass per token: the thread count is what differs
    cores = torch.get_num_threads()
    fixed, chosen = ThreadPolicy(cores), ThreadPolicy()
    print(
        f"model: smollm2-135m + adapter, {model.dtype}; {TOKENS} tokens, greedy; {cores} torch threads by default; {NEIGHBOURS} neighbour(s)\n"
    )
    _ms_per_token(model)  # warm-up: the prefix cache holds the prompt for every case
    times: dict[str, list[float]] = {"quiet, all cores": [], "neighbour, all cores": [], "neighbour, chosen": []}
    used: list[int] = []
    for _ in range(REPEATS):
        model.scheduler.threads = fixed
        times["quiet, all cores"].append(_ms_per_token(model))
        stop = multiprocessing.Event()
        spinners = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(NEIGHBOURS)]
        for p in spinners:
            p.start()
        try:
            time.sleep(1.5)  # the neighbours are busy before we look
            times["neighbour, all cores"].append(_ms_per_token(model))
            model.scheduler.threads = chosen
            time.sleep(1.1)
            times["neighbour, chosen"].append(_ms_per_token(model))
            used.append(chosen.chosen or 0)
        finally:
            stop.set()
            for p in spinners:
                p.join(5)
    for name, values in times.items():
        print(f"  {name:<22} {statistics.median(values):8.1f} ms/token  (best {min(values):.1f})")
    ratio = statistics.median(times["neighbour, all cores"]) / statistics.median(times["neighbour, chosen"])
    print(f"\n  beside the neighbour, all cores / chosen: {ratio:.2f}x; threads chosen (decode thread): {used}; {load()} after")


if __name__ == "__main__":
    main()
