"""Prompt-lookup drafting in the decode loop: the greedy output is unchanged, fewer forward
passes are run, and the cache holds exactly the kept tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch

from reasoner.errors import UsageError
from reasoner.models import GenerateOptions, Message, TransformersModel, _decode, complete, random_llama
from reasoner.models._decode import DynamicCacheRunner, Generation, lookup_draft

# a prompt that repeats itself, so the completion of a random model finds its tail in it
ECHO = [Message("user", "red green blue red green blue red green blue red green blue red green")]


def test_lookup_draft_copies_what_followed_the_latest_earlier_tail() -> None:
    assert lookup_draft([1, 2, 3, 4, 5, 9, 2, 3], 3) == [4, 5, 9]
    assert lookup_draft([1, 2, 3, 4, 5, 9, 2, 3], 1) == [4]
    assert lookup_draft([7, 2, 3, 8, 1, 2, 3, 4, 2, 3], 5) == [4, 2, 3]  # the latest occurrence wins
    assert lookup_draft([5, 6, 7, 1, 9, 6, 7], 4) == [1, 9, 6, 7]  # a 3-token tail is missing: 2 tokens
    assert lookup_draft([1, 2, 3, 4], 4) == []  # the tail occurs nowhere before
    assert lookup_draft([1, 2, 1, 2], 0) == []
    assert lookup_draft([3], 4) == []


class Counting:
    """Counts the runner's forward passes of either kind, passing them through."""

    def __init__(self, model: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
        self.single = 0
        self.drafts: list[int] = []
        runner = model._runner
        forward, forward_all = runner.forward, runner.forward_all

        def one(token_ids: Sequence[int], cache: Any) -> torch.Tensor:
            self.single += 1
            return forward(token_ids, cache)

        def many(token_ids: Sequence[int], cache: Any) -> torch.Tensor:
            self.drafts.append(len(token_ids))
            return forward_all(token_ids, cache)

        monkeypatch.setattr(runner, "forward", one)
        monkeypatch.setattr(runner, "forward_all", many)


@pytest.fixture(scope="module")
def fp32_model(smol_tokenizer: Any) -> TransformersModel:
    """fp32, so one forward over many tokens rounds like many forwards over one."""
    return random_llama(smol_tokenizer, seed=3, dtype=torch.float32)


def _noisy(ids: Sequence[int], limit: int) -> list[int]:
    # the real draft with every other token wrong: verification must reject from there on
    draft = lookup_draft(ids, limit) or [ids[-1]] * limit
    return [t if i % 2 == 0 else (t + 1) % 1000 for i, t in enumerate(draft)]


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("max_tokens", [5, 40, 96])
async def test_drafting_keeps_the_greedy_output_and_saves_forward_passes(
    fp32_model: TransformersModel, monkeypatch: pytest.MonkeyPatch, max_tokens: int, noisy: bool
) -> None:
    monkeypatch.setattr(fp32_model, "draft_tokens", 0)
    plain = await complete(fp32_model, ECHO, max_tokens=max_tokens)
    monkeypatch.undo()
    if noisy:
        monkeypatch.setattr(_decode, "lookup_draft", _noisy)
    counts = Counting(fp32_model, monkeypatch)
    drafted = await complete(fp32_model, ECHO, max_tokens=max_tokens)
    assert drafted.text == plain.text
    assert drafted.usage.completion_tokens == plain.usage.completion_tokens <= max_tokens
    assert drafted.finish_reason == plain.finish_reason
    if max_tokens == 96 and not noisy:
        assert counts.drafts, "the repetitive prompt offered no draft"
        assert counts.single + len(counts.drafts) < plain.usage.completion_tokens


async def test_sampling_and_grammars_never_draft(tiny_model: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = Counting(tiny_model, monkeypatch)
    await complete(tiny_model, ECHO, max_tokens=48, temperature=0.7, seed=1)
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 12}}, "required": ["a"], "additionalProperties": False}
    await complete(tiny_model, ECHO, max_tokens=48, schema=schema)
    assert counts.drafts == []


@pytest.mark.parametrize("noisy", [False, True])
def test_the_cache_holds_exactly_the_kept_tokens(fp32_model: TransformersModel, monkeypatch: pytest.MonkeyPatch, noisy: bool) -> None:
    if noisy:
        monkeypatch.setattr(_decode, "lookup_draft", _noisy)
    runner = fp32_model._runner
    assert isinstance(runner, DynamicCacheRunner)
    prompt = fp32_model._prompt_ids(ECHO)
    gen = Generation(runner, prompt, GenerateOptions(max_tokens=64), eos_ids=frozenset(), draft_tokens=8)
    gen.start()
    while not gen.done:
        gen.step()
        fed = len(prompt) + len(gen.completion_ids) - len(gen.pending)
        assert gen._cache.get_seq_length() == fed
    # the kept KV is the KV of the kept tokens: the same as one forward over them
    cache = runner.new_cache()
    with torch.no_grad():
        runner.forward([*prompt, *gen.completion_ids[:-1]], cache)
    for kept, fresh in zip(gen._cache.layers, cache.layers, strict=True):
        assert torch.allclose(kept.keys, fresh.keys, atol=1e-4) and torch.allclose(kept.values, fresh.values, atol=1e-4)


def test_draft_tokens_must_not_be_negative(smol_tokenizer: Any) -> None:
    with pytest.raises(UsageError, match="draft_tokens must be 0"):
        TransformersModel(random_llama(smol_tokenizer).model, smol_tokenizer, name="m", draft_tokens=-1)
