"""The decode loop, driven through TransformersModel with a tiny random Llama and the real
SmolLM2 tokenizer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
import jsonschema
import pytest
import torch

from reasoner.errors import ModelError, UsageError
from reasoner.models import Delta, GenerateOptions, Message, TransformersModel, complete

LONG_KEY = "the_quick_brown_fox_jumps_over_the_lazy_dog_and_keeps_running"
CONST_KEY = {
    "type": "object",
    "properties": {LONG_KEY: {"type": "boolean"}},
    "required": [LONG_KEY],
    "additionalProperties": False,
}
HELLO = [Message("user", "Say hello.")]


async def _collect(model: TransformersModel, messages: Sequence[Message] = HELLO, **kw: Any) -> list[Delta]:
    schema = kw.pop("schema", None)
    return [d async for d in model.stream(messages, schema=schema, options=GenerateOptions(**kw))]


class CountingForward:
    """Counts forward passes (one per sampled token, plus none for forced tokens)."""

    def __init__(self, model: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[int] = []  # tokens fed per call
        inner = model._runner.forward

        def forward(token_ids: Sequence[int], cache: Any) -> torch.Tensor:
            self.calls.append(len(token_ids))
            return inner(token_ids, cache)

        monkeypatch.setattr(model._runner, "forward", forward)


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
async def test_schema_constrained_output_parses_and_validates(tiny_model: TransformersModel, person: dict[str, Any], seed: int | None) -> None:
    temperature = 0.0 if seed is None else 1.0
    result = await complete(tiny_model, HELLO, schema=person, temperature=temperature, seed=seed, max_tokens=200)
    value = json.loads(result.text)
    jsonschema.validate(value, person)
    assert result.finish_reason == "grammar"
    assert result.usage.completion_tokens > result.usage.forced_tokens > 0


async def test_forced_tokens_are_appended_without_sampling(tiny_model: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_model.prefix_cache.clear()  # an earlier test's call may have cached this prompt
    counter = CountingForward(tiny_model, monkeypatch)
    deltas = await _collect(tiny_model, schema=CONST_KEY, max_tokens=100)
    text = "".join(d.text for d in deltas)
    assert json.loads(text) in ({LONG_KEY: True}, {LONG_KEY: False})
    usage = deltas[-1].usage
    assert usage is not None and deltas[-1].finish_reason == "grammar"
    # the key is forced: it streams before the first forward pass, and most tokens are forced
    assert deltas[0].text.startswith('{"' + LONG_KEY[:20])
    assert usage.forced_tokens >= 0.7 * usage.completion_tokens
    sampled = usage.completion_tokens - usage.forced_tokens
    assert len(counter.calls) == sampled  # one forward per sampled token, none per forced one
    # the prompt and the forced prefix go through the cache in one prefill
    assert usage.cached_tokens == 0
    assert counter.calls[0] == usage.prompt_tokens + len(deltas[0].token_ids)


@pytest.mark.parametrize("backend", ["xgrammar", "outlines"])
async def test_other_grammar_backends_drive_the_same_loop(tiny_model: TransformersModel, backend: str) -> None:
    result = await complete(tiny_model, HELLO, schema=CONST_KEY, grammar_backend=backend, temperature=1.0, seed=4, max_tokens=100)
    assert list(result.json()) == [LONG_KEY]
    assert result.finish_reason == "grammar" and result.usage.forced_tokens > 0


async def test_greedy_is_deterministic(tiny_model: TransformersModel, person: dict[str, Any]) -> None:
    first = await complete(tiny_model, HELLO, max_tokens=24)
    second = await complete(tiny_model, HELLO, max_tokens=24)
    assert first.text == second.text and first.usage.completion_tokens == 24
    a = await complete(tiny_model, HELLO, schema=person, max_tokens=200)
    b = await complete(tiny_model, HELLO, schema=person, max_tokens=200)
    assert a.text == b.text


async def test_seeded_sampling_is_reproducible_and_seeds_differ(tiny_model: TransformersModel) -> None:
    runs = [await complete(tiny_model, HELLO, temperature=1.0, seed=s, max_tokens=16) for s in (7, 7, 8, 9)]
    assert runs[0].text == runs[1].text
    assert len({r.text for r in runs}) == 3


async def test_padding_rows_are_never_sampled(tiny_model: TransformersModel) -> None:
    vocab = len(tiny_model.tokenizer)
    assert tiny_model.model.config.vocab_size > vocab
    deltas = await _collect(tiny_model, temperature=5.0, seed=0, max_tokens=64)
    assert all(t < vocab for d in deltas for t in d.token_ids)


async def test_max_tokens_is_respected(tiny_model: TransformersModel) -> None:
    deltas = await _collect(tiny_model, max_tokens=7)
    assert deltas[-1].finish_reason == "length"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == 7
    assert sum(len(d.token_ids) for d in deltas) == 7
    # under a schema the forced tokens count too; a truncated object fails validation
    cut = await _collect(tiny_model, schema=CONST_KEY, max_tokens=5)
    assert cut[-1].finish_reason == "length" and sum(len(d.token_ids) for d in cut) == 5
    with pytest.raises(ModelError, match="reached max_tokens=5 before its JSON output was complete"):
        await complete(tiny_model, HELLO, schema=CONST_KEY, max_tokens=5)


async def test_stop_strings_end_generation_before_the_stop(tiny_model: TransformersModel) -> None:
    full = await complete(tiny_model, HELLO, temperature=1.0, seed=3, max_tokens=40)
    stop = full.text[12:16]
    expected = full.text[: full.text.index(stop)]
    deltas = await _collect(tiny_model, temperature=1.0, seed=3, max_tokens=40, stop=(stop, "\x00never"))
    assert "".join(d.text for d in deltas) == expected
    assert deltas[-1].finish_reason == "stop"


async def test_deltas_concatenate_to_the_decoded_completion(tiny_model: TransformersModel) -> None:
    deltas = await _collect(tiny_model, temperature=2.0, seed=11, max_tokens=48)
    ids = [t for d in deltas for t in d.token_ids]
    assert "".join(d.text for d in deltas) == tiny_model.tokenizer.decode(ids, skip_special_tokens=True)
    prompt = tiny_model.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello."}], add_generation_prompt=True, tokenize=False
    )
    assert deltas[-1].usage is not None
    assert deltas[-1].usage.prompt_tokens == len(tiny_model.tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert deltas[-1].usage.completion_tokens == len(ids) == 48


async def test_cancelling_the_consumer_stops_generation_promptly(tiny_model: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingForward(tiny_model, monkeypatch)
    received = 0
    with anyio.move_on_after(30) as outer:
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                nonlocal received
                async for _ in tiny_model.stream(HELLO, options=GenerateOptions(max_tokens=100_000)):
                    received += 1
                    if received == 5:
                        tg.cancel_scope.cancel()

            tg.start_soon(consume)
    assert not outer.cancelled_caught
    await anyio.sleep(0.2)
    steps_at_cancel = len(counter.calls)
    await anyio.sleep(0.2)
    # the decode thread runs at most two steps ahead of the consumer: 5 taken, 4 released
    assert len(counter.calls) == steps_at_cancel <= 6
    # the device is free again: a new generation runs to completion
    assert (await complete(tiny_model, HELLO, max_tokens=3)).usage.completion_tokens == 3


async def test_breaking_out_of_the_stream_stops_generation(tiny_model: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingForward(tiny_model, monkeypatch)
    stream = tiny_model.stream(HELLO, options=GenerateOptions(max_tokens=100_000))
    taken = 0
    async for _ in stream:
        taken += 1
        if taken == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await anyio.sleep(0.2)
    steps = len(counter.calls)
    await anyio.sleep(0.2)
    assert len(counter.calls) == steps <= 3 + 1  # 3 taken, 2 released: at most one more computed


async def test_concurrent_generations_interleave_correctly(tiny_model: TransformersModel) -> None:
    prompts = [[Message("user", f"Count to {n}.")] for n in range(4)]
    sequential = [(await complete(tiny_model, p, max_tokens=12)).text for p in prompts]
    concurrent: list[str] = [""] * 4

    async def run(i: int) -> None:
        concurrent[i] = (await complete(tiny_model, prompts[i], max_tokens=12)).text

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(run, i)
    assert concurrent == sequential


NOTES = {
    "type": "object",
    "properties": {"notes": {"type": "array", "items": {"type": "string", "maxLength": 400}, "maxItems": 8}},
    "required": ["notes"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_close_within_steers_a_long_instance_to_end_before_max_tokens(tiny_model: TransformersModel, seed: int) -> None:
    # a random model rambles inside a 400-character string: 40 tokens do not end it...
    free = [d async for d in tiny_model.stream(HELLO, schema=NOTES, options=GenerateOptions(max_tokens=40, temperature=1.0, seed=seed))]
    assert free[-1].finish_reason == "length"
    # ...unless the last 8 take only closing tokens where the grammar allows one
    options = GenerateOptions(max_tokens=40, temperature=1.0, seed=seed, close_within=8)
    steered = [d async for d in tiny_model.stream(HELLO, schema=NOTES, options=options)]
    assert steered[-1].finish_reason == "grammar"
    text = "".join(d.text for d in steered)
    jsonschema.validate(json.loads(text), NOTES)
    assert steered[-1].usage is not None and steered[-1].usage.completion_tokens <= 40


async def test_close_within_must_not_be_negative() -> None:
    with pytest.raises(UsageError, match="close_within must be >= 0"):
        GenerateOptions(close_within=-1)


WIDE = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 60}}, "required": ["a"], "additionalProperties": False}
NARROW = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 2}}, "required": ["a"], "additionalProperties": False}


@pytest.mark.parametrize("seed", [1, 2])
async def test_refine_swaps_the_grammar_between_steps_and_replays_the_text(tiny_model: TransformersModel, seed: int) -> None:
    options = GenerateOptions(max_tokens=40, temperature=1.0, seed=seed)
    wide = "".join([d.text async for d in tiny_model.stream(HELLO, schema=WIDE, options=options)])
    assert len(json.loads(wide)["a"]) > 2  # left alone, a random model writes more than 2 characters
    asked: list[int] = []

    def refine() -> dict[str, Any]:
        asked.append(1)
        return NARROW  # from the first step on: the forced '{"a":"' replays into it

    narrow = "".join([d.text async for d in tiny_model.stream(HELLO, schema=WIDE, options=options, refine=refine)])
    jsonschema.validate(json.loads(narrow), NARROW)
    assert asked


def test_a_loop_of_tokens_is_detected_and_varied_text_is_not() -> None:
    from reasoner.models._decode import _loops

    assert _loops([5, 7, 1, 2] + [1, 2] * 8)  # "1.1.1.1..." as tokens
    assert _loops([9] * 16)
    assert not _loops([9] * 15)
    assert not _loops(list(range(40)))
    assert not _loops([1, 2, 3, 4, 5, 6] * 2)  # two copies of a long run are not a loop


class LoopingRunner:
    """A runner whose model always prefers the token after the last one in a fixed cycle."""

    def __init__(self, cycle: list[int], vocab: int) -> None:
        self.cycle, self.vocab, self.last = cycle, vocab, -1

    def new_cache(self) -> Any:
        return None

    def forward(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor:
        logits = torch.zeros(1, self.vocab)
        self.last = (self.last + 1) % len(self.cycle)
        logits[0, self.cycle[self.last]] = 10.0
        return logits


@pytest.mark.parametrize("close_on_repeat", [False, True])
def test_close_on_repeat_steers_a_looping_string_to_close(smol_tokenizer: Any, close_on_repeat: bool) -> None:
    from reasoner.grammars import closing_token_ids, compile_json_schema
    from reasoner.models._decode import Generation

    grammar = compile_json_schema(NOTES, smol_tokenizer)
    one, dot = (smol_tokenizer.convert_tokens_to_ids(t) for t in ("1", "."))
    vocab = len(smol_tokenizer)
    gen = Generation(
        runner=LoopingRunner([one, dot], vocab),
        prompt_ids=[1, 2, 3],
        options=GenerateOptions(max_tokens=120, close_on_repeat=close_on_repeat),
        eos_ids=frozenset({smol_tokenizer.eos_token_id}),
        matcher=grammar.matcher(),
        grammar_vocab_size=grammar.vocab_size,
        vocab_limit=vocab,
        closer_ids=torch.tensor(closing_token_ids(smol_tokenizer, vocab) + [smol_tokenizer.eos_token_id]),
    )
    step = gen.start()
    while step.finish_reason is None:
        step = gen.step()
    text = smol_tokenizer.decode(gen.completion_ids)
    if close_on_repeat:  # "1.1.1.1.1.1.1.1" then closed: the string, the array, the object
        assert step.finish_reason == "grammar" and len(gen.completion_ids) < 40
        jsonschema.validate(json.loads(text), NOTES)
    else:  # the loop runs to the string's bound, then the cap
        assert step.finish_reason == "length" and "1.1.1.1.1.1.1.1.1.1" in text
