"""Continuous batching: concurrent generations on one local model share forward passes and
decode exactly what each decodes alone (tiny random Llama, float32, real SmolLM2 tokenizer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest
import torch

from reasoner.errors import ModelError, UsageError
from reasoner.models import GenerateOptions, Message, TransformersModel, complete, random_llama
from reasoner.models._batch import BatchKV
from reasoner.models._scheduler import DecodeScheduler

NOTE = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 40}}, "required": ["note"], "additionalProperties": False}
PROMPTS = [[Message("user", "Describe a person. " * (n + 1))] for n in range(6)]  # prompts of different lengths


@pytest.fixture
def model(smol_tokenizer: Any) -> TransformersModel:
    # a fresh model per test: its scheduler's counters start at zero
    return random_llama(smol_tokenizer, vocab_size=len(smol_tokenizer) + 64, seed=0, dtype="float32")


class RowCounter:
    """Records how many rows each batched forward pass fed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fed: list[int] = []
        inner = BatchKV.forward

        def forward(batch: BatchKV, inputs: Sequence[Sequence[int]]) -> torch.Tensor:
            self.fed.append(sum(1 for ids in inputs if ids))
            return inner(batch, inputs)

        monkeypatch.setattr(BatchKV, "forward", forward)


async def _concurrently(model: TransformersModel, jobs: list[tuple[list[Message], dict[str, Any] | None, GenerateOptions]]) -> list[str]:
    out = [""] * len(jobs)

    async def one(i: int) -> None:
        out[i] = await _text(model, *jobs[i])

    async with anyio.create_task_group() as tg:
        for i in range(len(jobs)):
            tg.start_soon(one, i)
    return out


async def _one_at_a_time(model: TransformersModel, jobs: list[tuple[list[Message], dict[str, Any] | None, GenerateOptions]]) -> list[str]:
    return [await _text(model, m, s, o) for m, s, o in jobs]


async def _text(model: TransformersModel, messages: list[Message], schema: dict[str, Any] | None, options: GenerateOptions) -> str:
    # the text and why it ended (a token budget may cut a JSON instance short: still a fair comparison)
    deltas = [d async for d in model.stream(messages, schema=schema, options=options)]
    return "".join(d.text for d in deltas) + f"|{deltas[-1].finish_reason}"


async def test_concurrent_constrained_greedy_generations_share_steps_and_match_one_at_a_time(
    model: TransformersModel, person: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # constrained and free, different prompt lengths and token budgets: rows join and leave
    schemas: list[dict[str, Any] | None] = [person, NOTE, person, None, NOTE, person]
    jobs = [(PROMPTS[i], schemas[i], GenerateOptions(max_tokens=8 + 5 * i)) for i in range(6)]
    expected = await _one_at_a_time(model, jobs)
    assert model.scheduler.batched_steps == 0
    rows = RowCounter(monkeypatch)
    got = await _concurrently(model, jobs)
    assert got == expected
    assert model.scheduler.batched_steps > 5 and max(rows.fed) >= 4  # steps really were shared
    assert len(set(got)) >= 4  # not one answer six times


async def test_seeded_sampling_in_a_batch_matches_sampling_alone(model: TransformersModel, person: dict[str, Any]) -> None:
    jobs = [(PROMPTS[i], person if i % 2 else None, GenerateOptions(max_tokens=30, temperature=1.0, seed=i)) for i in range(4)]
    expected = await _one_at_a_time(model, jobs)
    assert await _concurrently(model, jobs) == expected
    assert model.scheduler.batched_steps > 0


async def test_a_cancelled_generation_leaves_the_batch_and_the_others_decode_as_alone(
    model: TransformersModel, person: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [(PROMPTS[i], person, GenerateOptions(max_tokens=30)) for i in range(3)]
    expected = await _one_at_a_time(model, jobs)
    rows = RowCounter(monkeypatch)
    got: dict[int, str] = {}
    seen = 0

    async def survivor(i: int) -> None:
        got[i] = await _text(model, *jobs[i])

    async def quitter() -> None:
        nonlocal seen
        with anyio.CancelScope() as scope:
            async for _ in model.stream(PROMPTS[5], options=GenerateOptions(max_tokens=100_000)):
                seen += 1
                if seen == 4:
                    scope.cancel()

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(quitter)
            for i in range(3):
                tg.start_soon(survivor, i)
    assert [got[i] for i in range(3)] == expected
    assert seen == 4 and max(rows.fed) == 4  # the quitter was in the batch with the three
    await anyio.sleep(0.3)
    assert model.scheduler.active == 0 and not model.scheduler.running  # nothing left behind


async def test_no_more_than_max_batch_rows_step_together(smol_tokenizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_llama(smol_tokenizer, vocab_size=len(smol_tokenizer) + 64, seed=0, dtype="float32")
    model.scheduler.max_batch = 2
    jobs = [(PROMPTS[i], NOTE, GenerateOptions(max_tokens=20)) for i in range(5)]
    expected = await _one_at_a_time(model, jobs)
    rows = RowCounter(monkeypatch)
    assert await _concurrently(model, jobs) == expected
    assert max(rows.fed) == 2


async def test_a_slow_consumer_holds_its_generation_at_most_two_steps_ahead(
    model: TransformersModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[int] = []
    from reasoner.models._decode import Generation

    inner = Generation.choose

    def choose(gen: Generation, logits: torch.Tensor) -> Any:
        steps.append(1)
        return inner(gen, logits)

    monkeypatch.setattr(Generation, "choose", choose)
    taken = 0
    stream = model.stream(PROMPTS[0], options=GenerateOptions(max_tokens=1000))
    async for _ in stream:
        taken += 1
        await anyio.sleep(0.2)  # the scheduler had time for many steps; it takes at most two more
        assert len(steps) <= taken + 2
        if taken == 4:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await anyio.sleep(0.3)
    assert len(steps) <= 6 and not model.scheduler.running


async def test_refined_generations_step_in_lock_step_inside_a_batch(model: TransformersModel) -> None:
    narrow = {
        "type": "object",
        "properties": {"note": {"type": "string", "maxLength": 3}},
        "required": ["note"],
        "additionalProperties": False,
    }

    def refine() -> dict[str, Any]:
        return narrow

    async def refined(i: int) -> str:
        options = GenerateOptions(max_tokens=40, temperature=1.0, seed=i)
        return "".join([d.text async for d in model.stream(PROMPTS[i], schema=NOTE, options=options, refine=refine)])

    alone = [await refined(i) for i in range(3)]
    together: dict[int, str] = {}

    async def one(i: int) -> None:
        together[i] = await refined(i)

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(one, i)
    assert [together[i] for i in range(3)] == alone
    assert all(len(s) <= len('{"note":"abc"}') + 6 for s in alone)  # the narrow grammar was in force


def test_batched_logits_match_each_sequence_alone(model: TransformersModel) -> None:
    runner = model._runner
    prompts = [model._prompt_ids(p) for p in PROMPTS[:3]]
    # per step, what each row feeds: one token, several (forced), or nothing (paused)
    feeds: list[list[list[int]]] = [[[5], [6, 7, 8], []], [[9], [], [10]], [[11, 12], [13], [14]], [[15], [16], [17, 18]]]
    with torch.inference_mode():
        alone = []
        for ids, row in zip(prompts, zip(*feeds, strict=True), strict=True):
            cache = runner.new_cache()
            runner.forward(ids, cache)
            alone.append([runner.forward(f, cache) if f else None for f in row])
        batch = BatchKV(model.model, model.device)
        for ids in prompts:
            cache = runner.new_cache()
            runner.forward(ids, cache)
            kv = runner.export(cache)
            assert kv is not None
            batch.join(kv)
        for step, inputs in enumerate(feeds):
            logits = batch.forward(inputs)
            for b, ids in enumerate(inputs):
                if ids:
                    reference = alone[b][step]
                    assert reference is not None
                    assert torch.allclose(logits[b : b + 1], reference, atol=1e-5, rtol=1e-4)
        assert [batch.length(b) for b in range(3)] == [len(p) + sum(len(f[b]) for f in feeds) for b, p in enumerate(prompts)]
        # row 0 leaves; the KV of row 1 (now 0) without holes is what it would hold alone
        before = batch.width
        batch.leave(0)
        assert batch.rows == 2 and batch.width <= before
        kv = batch.take(0)
        cache = runner.new_cache()
        runner.forward([*prompts[1], *(i for f in feeds for i in f[1])], cache)
        full = runner.export(cache)
        assert full is not None
        assert all(torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5) for a, b in zip(kv, full, strict=True))
        batch.compact()
        assert batch.holes() == 0 and batch.length(0) == len(prompts[1]) + sum(len(f[1]) for f in feeds)


def test_a_batch_refuses_what_it_cannot_feed(model: TransformersModel) -> None:
    batch = BatchKV(model.model, model.device)
    empty = tuple((torch.zeros(1, 2, 0, 16), torch.zeros(1, 2, 0, 16)) for _ in range(2))
    with pytest.raises(ModelError, match="without tokens"):
        batch.join(empty)
    kv = tuple((torch.zeros(1, 2, 3, 16), torch.zeros(1, 2, 3, 16)) for _ in range(2))
    batch.join(kv)
    with pytest.raises(ModelError, match="no row has a token"):
        batch.forward([[]])
    with pytest.raises(ModelError, match="2 inputs for 1 rows"):
        batch.forward([[1], [2]])
    with pytest.raises(UsageError, match="max_batch=0"):
        DecodeScheduler(model.model, model.device, max_batch=0)


async def test_stop_ends_the_decode_thread_and_later_submits_fail(model: TransformersModel) -> None:
    # interpreter exit calls stop(): a daemon thread killed inside a forward pass aborts the process
    stream = model.stream([Message("user", "Count to a thousand.")], options=GenerateOptions(max_tokens=4000))
    first = await stream.__anext__()
    assert first.token_ids and model.scheduler.running
    model.scheduler.stop(timeout=10)
    assert not model.scheduler.running
    with pytest.raises(ModelError, match="interpreter is exiting"):
        await complete(model, [Message("user", "Hi")], max_tokens=4)
    await stream.aclose()  # type: ignore[attr-defined]
