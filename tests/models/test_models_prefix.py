"""The prefix KV cache: the store itself, and greedy decoding through it (token-identical to
decoding without it), with a tiny random Llama and with the real SmolLM2."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

import pytest
import torch

from reasoner.errors import UsageError
from reasoner.models import GenerateOptions, Message, TransformersModel, Usage, random_llama
from reasoner.models._prefix import KV, PrefixCache

SYSTEM = (
    "You are a planner. Tools: search(query) finds web pages; stock_price(ticker) gives the latest close; "
    "chart(values, title) draws a bar chart. Answer with a JSON plan of tool calls, ids 1, 2, 3 in order."
)
PLAN = {
    "type": "object",
    "properties": {
        "nodes": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "tool": {"enum": ["search", "stock_price", "chart"]},
                    "arg": {"type": "string", "maxLength": 16},
                },
                "required": ["tool", "arg"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["nodes"],
    "additionalProperties": False,
}
QUESTIONS = ["What is Microsoft's latest stock price?", "Chart the closing prices of AAPL and MSFT.", "Search for cloud providers."]


class Reply(NamedTuple):
    token_ids: tuple[int, ...]
    usage: Usage


def _kv(length: int, layers: int = 2, fill: float = 0.0) -> KV:
    # [1, H=2, L, D=4] per layer, float32: 2 * layers * 2 * L * 4 * 4 bytes
    return tuple((torch.full((1, 2, length, 4), fill), torch.full((1, 2, length, 4), fill)) for _ in range(layers))


def _bytes(length: int, layers: int = 2) -> int:
    return 2 * layers * 2 * length * 4 * 4


def test_lookup_finds_the_longest_shared_prefix_and_leaves_the_last_token() -> None:
    cache = PrefixCache(min_tokens=2)
    cache.store(list(range(10)), _kv(10, fill=1.0))
    cache.store([0, 1, 2, 7, 7, 7], _kv(6, fill=2.0))
    hit = cache.lookup([0, 1, 2, 3, 4, 5, 99])
    assert hit is not None and hit.length == 6
    assert all(k.shape[-2] == 6 and bool((k == 1.0).all()) for k, _ in hit.kv)  # sliced from the 10-token entry
    same = cache.lookup(list(range(10)))  # the whole prompt is cached: its last token is still computed
    assert same is not None and same.length == 9
    assert cache.lookup([5, 6, 7]) is None  # nothing shared
    assert cache.lookup([0, 9, 9]) is None  # one token shared: under min_tokens
    assert (cache.hits, cache.misses, cache.reused_tokens) == (2, 2, 15)


def test_store_replaces_entries_it_extends_and_skips_what_is_already_held() -> None:
    cache = PrefixCache(min_tokens=2)
    cache.store([1, 2, 3], _kv(3))
    cache.store([1, 2, 3, 4, 5], _kv(5))
    assert len(cache) == 1 and cache.bytes == _bytes(5)
    cache.store([1, 2, 3, 4], _kv(4))  # a prefix of what is held: nothing new
    assert len(cache) == 1 and cache.bytes == _bytes(5)
    cache.store([1, 2, 9], _kv(3))
    assert len(cache) == 2 and cache.bytes == _bytes(5) + _bytes(3)


def test_entries_are_evicted_least_recently_used_first_by_bytes() -> None:
    cache = PrefixCache(max_bytes=2 * _bytes(8), min_tokens=2)
    cache.store([1] * 8, _kv(8))
    cache.store([2] * 8, _kv(8))
    assert cache.lookup([1] * 8 + [5]) is not None  # [1]*8 is now the most recently used
    cache.store([3] * 8, _kv(8))
    assert cache.bytes <= cache.max_bytes and len(cache) == 2
    assert cache.lookup([2] * 8 + [5]) is None
    assert cache.lookup([1] * 8 + [5]) is not None and cache.lookup([3] * 8 + [5]) is not None
    cache.store([4] * 40, _kv(40))  # larger than the whole budget: not kept
    assert cache.lookup([4] * 41) is None and len(cache) == 2


def test_bad_arguments_are_refused_with_the_reason() -> None:
    with pytest.raises(UsageError, match="max_bytes"):
        PrefixCache(max_bytes=-1)
    with pytest.raises(UsageError, match="min_tokens"):
        PrefixCache(min_tokens=0)
    with pytest.raises(UsageError, match="5 positions"):
        PrefixCache().store([1, 2, 3, 4, 5], _kv(4))


def test_concurrent_stores_and_lookups_keep_the_index_consistent() -> None:
    cache = PrefixCache(max_bytes=6 * _bytes(16), min_tokens=2)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(200):
                ids = [seed, i % 7, *range(14)]
                hit = cache.lookup([*ids, 1])
                assert hit is None or hit.length <= 16
                cache.store(ids, _kv(16))
        except BaseException as exc:  # reported below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert cache.bytes == len(cache) * _bytes(16) <= cache.max_bytes


async def _greedy(model: TransformersModel, question: str, schema: dict[str, Any] | None, max_tokens: int) -> Reply:
    # the raw stream: a JSON object cut off at max_tokens is still a reply to compare
    messages = [Message("system", SYSTEM), Message("user", question)]
    deltas = [d async for d in model.stream(messages, schema=schema, options=GenerateOptions(max_tokens=max_tokens))]
    usage = deltas[-1].usage
    assert usage is not None
    return Reply(tuple(t for d in deltas for t in d.token_ids), usage)


async def _same_with_and_without(
    cached: TransformersModel, uncached: TransformersModel, schemas: Sequence[dict[str, Any] | None], max_tokens: int
) -> None:
    cached.prefix_cache.clear()
    reused = 0
    for schema in schemas:
        for question in QUESTIONS:
            ours = await _greedy(cached, question, schema, max_tokens)
            reference = await _greedy(uncached, question, schema, max_tokens)
            assert ours.token_ids == reference.token_ids, (question, schema is not None)
            assert reference.usage.cached_tokens == 0
            reused += ours.usage.cached_tokens
    # every call after the first starts from the system prompt's cached KV
    assert cached.prefix_cache.hits == len(schemas) * len(QUESTIONS) - 1
    assert reused >= (len(schemas) * len(QUESTIONS) - 1) * 40


async def test_random_llama_decodes_the_same_tokens_with_the_prefix_cache(smol_tokenizer: Any) -> None:
    cached = random_llama(smol_tokenizer, seed=3, dtype="float32")
    uncached = random_llama(smol_tokenizer, seed=3, dtype="float32")
    uncached.prefix_cache.max_bytes = 0
    await _same_with_and_without(cached, uncached, [None, PLAN], max_tokens=24)


async def test_smollm2_decodes_the_same_tokens_with_the_prefix_cache(smollm2: TransformersModel) -> None:
    # the same weights behind a second model object without a prefix cache
    # without drafting on either side: in bf16 a drafted step may break a near tie differently
    uncached = TransformersModel(
        smollm2.model, smollm2.tokenizer, name=smollm2.name, dtype=smollm2.dtype, prefix_cache_bytes=0, draft_tokens=0
    )
    cached = TransformersModel(smollm2.model, smollm2.tokenizer, name=smollm2.name, dtype=smollm2.dtype, draft_tokens=0)
    await _same_with_and_without(cached, uncached, [None, PLAN], max_tokens=24)


async def test_a_prefix_cache_of_zero_bytes_is_never_used(smol_tokenizer: Any) -> None:
    model = random_llama(smol_tokenizer, seed=1)
    model.prefix_cache.max_bytes = 0
    for question in QUESTIONS[:2]:
        result = await _greedy(model, question, None, 4)
        assert result.usage.cached_tokens == 0
    assert len(model.prefix_cache) == 0


def test_logits_from_a_cached_prefix_match_a_full_prefill(smol_tokenizer: Any) -> None:
    # finer than tokens: a tiny random model's greedy tokens hardly depend on the context
    model = random_llama(smol_tokenizer, seed=5, dtype="float32")
    runner, cache = model._runner, PrefixCache(min_tokens=2)
    first = model._prompt_ids([Message("system", SYSTEM), Message("user", QUESTIONS[0])])
    second = model._prompt_ids([Message("system", SYSTEM), Message("user", QUESTIONS[1])])
    with torch.inference_mode():
        full = runner.new_cache()
        runner.forward(first, full)
        kv = runner.export(full)
        assert kv is not None
        cache.store(first, kv)
        hit = cache.lookup(second)
        assert hit is not None and 40 < hit.length < len(second)
        reference = runner.forward(second, runner.new_cache())  # [1, V]
        resumed = runner.new_cache(hit.kv)
        ours = runner.forward(second[hit.length :], resumed)
    assert torch.allclose(ours, reference, atol=1e-5, rtol=1e-4)
    assert full.get_seq_length() == len(first) and resumed.get_seq_length() == len(second)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
async def test_cuda_decodes_the_same_tokens_with_the_prefix_cache(smol_tokenizer: Any) -> None:
    cached = random_llama(smol_tokenizer, seed=3, device="cuda", dtype="float32")
    uncached = random_llama(smol_tokenizer, seed=3, device="cuda", dtype="float32")
    uncached.prefix_cache.max_bytes = 0
    await _same_with_and_without(cached, uncached, [None, PLAN], max_tokens=24)


async def test_concurrent_generations_share_the_cache_and_decode_as_alone(smol_tokenizer: Any) -> None:
    import anyio

    cached = random_llama(smol_tokenizer, seed=6, dtype="float32")
    alone = random_llama(smol_tokenizer, seed=6, dtype="float32")
    alone.prefix_cache.max_bytes = 0
    expected = [await _greedy(alone, q, PLAN, 16) for q in QUESTIONS * 2]
    await _greedy(cached, "Something else entirely.", None, 2)  # the system prompt is now cached
    got: dict[int, Reply] = {}

    async def one(i: int, question: str) -> None:
        got[i] = await _greedy(cached, question, PLAN, 16)

    async with anyio.create_task_group() as tg:  # steps interleave under the device limiter
        for i, question in enumerate(QUESTIONS * 2):
            tg.start_soon(one, i, question)
    assert [got[i].token_ids for i in range(len(expected))] == [r.token_ids for r in expected]
    assert all(got[i].usage.cached_tokens > 40 for i in got)
