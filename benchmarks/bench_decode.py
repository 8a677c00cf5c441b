"""Decode-loop benchmark on the embedded SmolLM2-135M-Instruct (CPU, float32, batch 1).

Run: ``.venv/bin/python benchmarks/bench_decode.py`` (about 1-2 minutes on 2 cores).

(1) The embedded cache: converting the GGUF into a fresh safetensors cache, and loading
    the model from it (verification included; median of 3).
(2) Free text, greedy: transformers ``generate`` (dynamic cache) against our loop, the
    same prompt and token budget; both must produce the same tokens. Both run their
    forward passes in a worker thread (torch's OpenMP pool behaves very differently in the
    main thread of a loaded machine, which would distort the ratio).
(3) A tool-call schema, greedy: ``generate`` with xgrammar's HF logits processor against
    our loop (llguidance mask applied to the logits, forced tokens appended without a
    sampling step). Grammar compilation is done before timing for both.
Baseline and ours run alternately, REPEATS times each, and each reports its best run
(other load on a shared machine only ever adds time); ratios are baseline / ours
(> 1: ours faster).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import anyio  # noqa: E402
import torch  # noqa: E402

from reasoner.models import GenerateOptions, Message, TransformersModel, complete, ensure_smollm2, load_smollm2  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import commit, cpu  # noqa: E402

REPEATS = 3
FREE_TOKENS = 64
PROMPT = [Message("user", "Write a short story about a robot who learns to paint. Make it at least three paragraphs.")]
PLAN_PROMPT = [
    Message(
        "user",
        "Tools: search(query), stock_price(ticker), chart(title). Plan tool calls to compare the stock prices "
        "of the three largest cloud providers, as JSON.",
    )
]
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "nodes": {
            "type": "array",
            "minItems": 1,
            "maxItems": 4,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "minimum": 1, "maximum": 9},
                    "tool": {"enum": ["search", "stock_price", "chart"]},
                    "args": {
                        "type": "object",
                        "properties": {"input": {"type": "string", "maxLength": 32}},
                        "required": ["input"],
                        "additionalProperties": False,
                    },
                },
                "required": ["id", "tool", "args"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["nodes"],
    "additionalProperties": False,
}




def _best_times(*fns: Callable[[], Any]) -> list[tuple[float, Any]]:
    """Run the functions alternately REPEATS times; each one's best time and last result."""
    best = [float("inf")] * len(fns)
    results: list[Any] = [None] * len(fns)
    for _ in range(REPEATS):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            results[i] = fn()
            best[i] = min(best[i], time.perf_counter() - started)
    return list(zip(best, results, strict=True))


def _prompt_ids(model: TransformersModel, messages: list[Message]) -> torch.Tensor:
    ids = model._prompt_ids(messages)
    return torch.tensor([ids], dtype=torch.long)


def _hf_generate(
    model: TransformersModel, messages: list[Message], max_new: int, processors: list[Any] | None = None
) -> list[int]:
    # In a worker thread, like our loop's steps: on an oversubscribed machine torch's
    # OpenMP pool in the main thread can be many times slower, which is not the loop's doing.
    return anyio.run(lambda: anyio.to_thread.run_sync(lambda: _generate(model, messages, max_new, processors)))


def _generate(model: TransformersModel, messages: list[Message], max_new: int, processors: list[Any] | None) -> list[int]:
    input_ids = _prompt_ids(model, messages)
    with torch.inference_mode():
        out = model.model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new,
            do_sample=False,
            logits_processor=processors,
            eos_token_id=sorted(model.eos_ids),
            pad_token_id=sorted(model.eos_ids)[0],
        )
    tokens: list[int] = out[0, input_ids.shape[1] :].tolist()
    return [t for t in tokens if t not in model.eos_ids]


def _ours(model: TransformersModel, messages: list[Message], max_new: int, schema: dict[str, Any] | None = None) -> Any:
    return anyio.run(lambda: complete(model, messages, schema=schema, options=GenerateOptions(max_tokens=max_new)))


def main() -> None:
    print("bench_decode: our decode loop vs transformers generate, SmolLM2-135M-Instruct")
    print(f"hardware: {cpu()}")
    print(
        f"versions: torch {torch.__version__}, transformers {version('transformers')}, llguidance {version('llguidance')},"
        f" xgrammar {version('xgrammar')}; commit {commit()}"
    )
    print("model: float32 on CPU, batch 1, greedy\n")

    # (1) the embedded cache
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        ensure_smollm2(home)
        convert = time.perf_counter() - started
        [(load, model)] = _best_times(lambda: load_smollm2(home, dtype="float32"))
        model.prefix_cache.max_bytes = 0  # generate recomputes every prompt: so does ours here
        print("(1) embedded cache")
        print(f"    GGUF -> safetensors conversion (once): {convert:6.1f} s")
        print(f"    load from cache (best of {REPEATS}):       {load:6.2f} s\n")

        # (2) free text
        _ours(model, PROMPT, 4)  # warm-up
        _hf_generate(model, PROMPT, 4)
        (t_hf, hf_tokens), (t_ours, ours) = _best_times(
            lambda: _hf_generate(model, PROMPT, FREE_TOKENS), lambda: _ours(model, PROMPT, FREE_TOKENS)
        )
        ours_tokens = ours.usage.completion_tokens
        same = model.tokenizer.decode(hf_tokens) == ours.text
        prompt_len = ours.usage.prompt_tokens
        print(f"(2) free text, prompt {prompt_len} tokens, up to {FREE_TOKENS} new tokens (same output: {same})")
        print(f"    generate (dynamic cache): {t_hf * 1000 / max(len(hf_tokens), 1):6.1f} ms/token  ({len(hf_tokens)} tokens)")
        print(f"    ours:                     {t_ours * 1000 / max(ours_tokens, 1):6.1f} ms/token  ({ours_tokens} tokens)")
        print(f"    ratio generate / ours (per token): {(t_hf / max(len(hf_tokens), 1)) / (t_ours / max(ours_tokens, 1)):.2f}x\n")

        # (3) constrained
        import xgrammar
        from xgrammar.contrib.hf import LogitsProcessor

        info = xgrammar.TokenizerInfo.from_huggingface(model.tokenizer, vocab_size=model.model.config.vocab_size)
        compiled = xgrammar.GrammarCompiler(info).compile_json_schema(
            json.dumps(PLAN_SCHEMA), any_whitespace=False, separators=(",", ":")
        )
        _ours(model, PLAN_PROMPT, 200, PLAN_SCHEMA)  # compiles and caches the llguidance grammar
        (t_hf, hf_tokens), (t_ours, ours) = _best_times(
            lambda: _hf_generate(model, PLAN_PROMPT, 200, [LogitsProcessor(compiled)]),
            lambda: _ours(model, PLAN_PROMPT, 200, PLAN_SCHEMA),
        )
        usage = ours.usage
        hf_text = model.tokenizer.decode(hf_tokens)
        print(f"(3) tool-call schema, prompt {usage.prompt_tokens} tokens (same output: {hf_text == ours.text})")
        print(
            f"    generate + xgrammar processor: {t_hf * 1000:7.0f} ms  "
            f"({len(hf_tokens)} tokens, {len(hf_tokens)} forward passes)"
        )
        print(
            f"    ours (llguidance):             {t_ours * 1000:7.0f} ms  ({usage.completion_tokens} tokens, "
            f"{usage.forced_tokens} forced, {usage.completion_tokens - usage.forced_tokens} forward passes)"
        )
        per_hf = t_hf / max(len(hf_tokens), 1)
        per_ours = t_ours / max(usage.completion_tokens, 1)
        print(f"    ratio generate / ours: whole object {t_hf / t_ours:.2f}x, per output token {per_hf / per_ours:.2f}x")
        print("    (outputs may differ: llguidance forces the canonical tokenization of forced text, while under")
        print("     xgrammar the model picks its own tokens for it, so the two greedy runs can diverge)")
        print(f"    ours: {ours.text}")
        if hf_text != ours.text:
            print(f"    generate: {hf_text}")


if __name__ == "__main__":
    main()
