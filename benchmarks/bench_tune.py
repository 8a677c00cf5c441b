"""LoRA training throughput on the embedded SmolLM2-135M (CPU): fp32 against bf16, and
whole samples against batches that share their system prompt.

Run: ``.venv/bin/python -P benchmarks/bench_tune.py`` (a few minutes on 2 busy cores).

The samples are the shipped recipe's planner samples (demo registry prompt, ~370 tokens
each). Each configuration runs STEPS optimizer steps of BATCH samples after one warm-up
step; tokens/s counts every sample token (prompt and reply), so the shared-prefix batches
show what they save. Baseline and ours alternate, REPEATS times; each reports its best
run (other load on a shared machine only ever adds time).
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from typing import Any

import anyio
import torch

from reasoner._tune import training_samples
from reasoner._tune_data import complete, demo_pools, expand_seeds, resolve_registry
from reasoner._tune_recipe import SEEDS
from reasoner.models import load_smollm2
from reasoner.models._tune import (
    _collate,
    _quiet_peft,
    batch_loss,
    cpu_supports_bf16,
    encode_sample,
)

STEPS = 1
BATCH = 4
REPEATS = 1


def _samples() -> list[tuple[list[int], list[int]]]:
    registry = resolve_registry("demo")
    raws = expand_seeds(SEEDS[:8], registry, per_seed=2, pools=demo_pools())

    async def run() -> list[Any]:
        return [e for e in [await complete(r, registry) for r in raws] if e is not None]

    samples = training_samples(anyio.run(run), {"demo": registry}, weights={"joiner": 0, "answerer": 0})
    tokenizer = load_smollm2().tokenizer
    encoded = [encode_sample(tokenizer, s.messages, s.output, max_length=2048) for s in samples]
    return [e for e in encoded if e is not None][:BATCH]


def _model(dtype: torch.dtype) -> Any:
    import peft

    model = load_smollm2().model.to(dtype)
    config = peft.LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], task_type="CAUSAL_LM")
    with _quiet_peft():
        wrapped = peft.get_peft_model(model, config)
    wrapped.train()
    return wrapped


def _rate(model: Any, batch: list[tuple[list[int], list[int]]], dtype: torch.dtype, shared: bool) -> float:
    device = torch.device("cpu")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    tokens = sum(len(ids) for ids, _ in batch)
    best = float("inf")
    for step in range(STEPS + 1):
        start = time.perf_counter()
        with autocast:
            loss = batch_loss(model, batch, 0, device) if shared else model(**_collate(batch, 0, device)).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        if step:  # the first step warms up
            best = min(best, time.perf_counter() - start)
    return tokens / best


def main() -> None:
    batch = _samples()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"hardware: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, bf16 native: {cpu_supports_bf16()}, torch {torch.__version__}")
    print(f"commit {commit}; batch {len(batch)} planner samples, {sum(len(i) for i, _ in batch)} tokens; LoRA r16 on all projections")
    results: dict[str, float] = {}
    for _ in range(REPEATS):
        for name, dtype, shared in (("fp32 whole", torch.float32, False), ("bf16 whole", torch.bfloat16, False), ("bf16 shared prefix", torch.bfloat16, True)):
            rate = _rate(_model(dtype), batch, dtype, shared)
            results[name] = max(results.get(name, 0.0), rate)
    for name, rate in results.items():
        print(f"{name:<20} {rate:8.1f} tokens/s")
    print(f"bf16 / fp32: {results['bf16 whole'] / results['fp32 whole']:.2f}x;  shared prefix / whole (bf16): {results['bf16 shared prefix'] / results['bf16 whole']:.2f}x")


if __name__ == "__main__":
    main()
