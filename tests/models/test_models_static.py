"""The static-cache runner on the CPU: the same logits and the same greedy tokens as the
dynamic-cache reference (tiny random Llama, real SmolLM2 tokenizer), its slot pool, its
limits and what it reports. The CUDA-graph runner's twins of these tests are in
test_models_static_gpu.py."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anyio
import pytest
import torch

from reasoner.errors import ModelError, UsageError
from reasoner.models import GenerateOptions, Message, TransformersModel, random_llama
from reasoner.models._decode import DynamicCacheRunner, Generation
from reasoner.models._static import STEP_BUCKETS, StaticCacheRunner

PROMPTS = [[Message("user", "Describe a person. " * (n + 1))] for n in range(3)]


def _model(tokenizer: Any, runner: str, dtype: str = "float32") -> TransformersModel:
    # weights drawn 5x wider than transformers' default: the default's tiny random Llama
    # repeats one token, which would hide a wrong position or mask; this one writes varied text
    return random_llama(
        tokenizer, hidden_size=128, vocab_size=len(tokenizer) + 64, seed=3, dtype=dtype, runner=runner, initializer_range=0.1
    )  # type: ignore[arg-type]


async def _tokens(model: TransformersModel, messages: list[Message], schema: dict[str, Any] | None, **kw: Any) -> list[int | str]:
    # the completion's token ids, then why it ended
    deltas = [d async for d in model.stream(messages, schema=schema, options=GenerateOptions(**kw))]
    return [t for d in deltas for t in d.token_ids] + [str(deltas[-1].finish_reason)]


@pytest.fixture(scope="module")
def dynamic(smol_tokenizer: Any) -> TransformersModel:
    return _model(smol_tokenizer, "dynamic")


@pytest.mark.parametrize("fixed_shapes", [True, False])
def test_logits_match_the_dynamic_cache_at_every_step(dynamic: TransformersModel, fixed_shapes: bool) -> None:
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=512, fixed_shapes=fixed_shapes)
    reference = DynamicCacheRunner(dynamic.model, dynamic.device)
    gen = torch.Generator().manual_seed(0)
    vocab = len(dynamic.tokenizer)
    # a prefill, single tokens, runs of forced tokens of every bucket size and past the largest
    steps = [40, 1, 1, 3, 1, 5, 2, 8, 1, 17, 31, 32, 33, 1, 60, 1]
    ours, theirs = runner.new_cache(), reference.new_cache()
    with torch.inference_mode():
        for k in steps:
            ids = torch.randint(0, vocab, (k,), generator=gen).tolist()
            a, b = runner.forward(ids, ours), reference.forward(ids, theirs)
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
            assert int(a.argmax()) == int(b.argmax())
    assert ours.length == sum(steps)
    exported = runner.export(ours)
    assert exported is not None and exported[0][0].shape[-2] == sum(steps)
    torch.testing.assert_close(exported[0][0], theirs.layers[0].keys, rtol=1e-4, atol=1e-4)
    assert runner.info.runner == "static"
    assert runner.info.attention.startswith("sdpa:") if fixed_shapes else runner.info.attention == "sdpa"


# In bfloat16 a fixed-shape step (attention over a padded, masked window) rounds differently
# from the dynamic cache's exact one, and greedy text drifts apart after a few dozen tokens;
# the exact steps are identical in both dtypes.
@pytest.mark.parametrize(("dtype", "fixed_shapes"), [("float32", True), ("float32", False), ("bfloat16", False)])
async def test_greedy_generations_are_token_identical_to_the_dynamic_runner(
    smol_tokenizer: Any, dtype: str, fixed_shapes: bool, person: dict[str, Any]
) -> None:
    dynamic, static = _model(smol_tokenizer, "dynamic", dtype), _model(smol_tokenizer, "static", dtype)
    assert isinstance(static._runner, StaticCacheRunner) and isinstance(dynamic._runner, DynamicCacheRunner)
    static._runner.fixed_shapes = fixed_shapes
    for messages in PROMPTS:
        for schema in (None, person):
            want = await _tokens(dynamic, messages, schema, max_tokens=60)
            got = await _tokens(static, messages, schema, max_tokens=60)
            assert got == want, (messages[0].content, schema is not None)
            assert len(set(want)) > 5  # varied text, not one token repeated


async def test_a_warm_prefix_cache_gives_the_same_tokens(smol_tokenizer: Any, person: dict[str, Any]) -> None:
    static = _model(smol_tokenizer, "static")
    first = await _tokens(static, PROMPTS[2], person, max_tokens=40)
    deltas = [d async for d in static.stream(PROMPTS[2], schema=person, options=GenerateOptions(max_tokens=40))]
    usage = deltas[-1].usage
    assert usage is not None and usage.cached_tokens > 0  # the second call started from the cached KV
    assert [t for d in deltas for t in d.token_ids] + [str(deltas[-1].finish_reason)] == first


async def test_concurrent_generations_on_static_runners_match_one_at_a_time(smol_tokenizer: Any, person: dict[str, Any]) -> None:
    static = _model(smol_tokenizer, "static")
    jobs = [(PROMPTS[i % 3], person if i % 2 else None) for i in range(4)]
    alone = [await _tokens(static, m, s, max_tokens=30) for m, s in jobs]
    together: list[list[int | str]] = [[] for _ in jobs]

    async def one(i: int) -> None:
        together[i] = await _tokens(static, jobs[i][0], jobs[i][1], max_tokens=30)

    async with anyio.create_task_group() as tg:
        for i in range(len(jobs)):
            tg.start_soon(one, i)
    assert together == alone


def test_slots_are_reused_once_their_cache_is_dropped(dynamic: TransformersModel) -> None:
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=64)
    a, b = runner.new_cache(), runner.new_cache()
    assert a.slot is not b.slot
    slot = a.slot
    del a
    gc.collect()
    c = runner.new_cache()
    assert c.slot is slot and c.length == 0 and runner.info.note.endswith("2 slot(s)")
    del b, c


def test_a_prefix_is_copied_into_the_slot(dynamic: TransformersModel) -> None:
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=64)
    reference = DynamicCacheRunner(dynamic.model, dynamic.device)
    ids = list(range(100, 120))
    theirs = reference.new_cache()
    with torch.inference_mode():
        reference.forward(ids, theirs)
        kv = reference.export(theirs)
        assert kv is not None
        ours = runner.new_cache(kv)
        assert ours.length == 20
        torch.testing.assert_close(runner.forward([7], ours), reference.forward([7], theirs), rtol=1e-4, atol=1e-4)


def test_a_sequence_longer_than_the_cache_fails_clearly(dynamic: TransformersModel) -> None:
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=64)
    cache = runner.new_cache()
    with torch.inference_mode():
        runner.forward(list(range(60)), cache)
        with pytest.raises(ModelError, match="max_cache_len"):
            runner.forward(list(range(5)), cache)
    with pytest.raises(ModelError, match="no tokens"):
        runner.forward([], cache)


def test_steps_near_the_end_of_the_cache_run_exactly(dynamic: TransformersModel) -> None:
    # a padded bucket would write past the slot: the step runs unpadded instead
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=64)
    reference = DynamicCacheRunner(dynamic.model, dynamic.device)
    ours, theirs = runner.new_cache(), reference.new_cache()
    with torch.inference_mode():
        for ids in (list(range(50)), list(range(3, 14))):
            torch.testing.assert_close(runner.forward(ids, ours), reference.forward(ids, theirs), rtol=1e-4, atol=1e-4)
    assert ours.length == 61


def test_without_an_sdpa_kernel_for_fixed_shapes_steps_run_exactly(dynamic: TransformersModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> torch.Tensor:
        raise RuntimeError("No available kernel. Aborting execution.")

    monkeypatch.setattr(StaticCacheRunner, "_fixed_forward", refuse)
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=64)
    reference = DynamicCacheRunner(dynamic.model, dynamic.device)
    ours, theirs = runner.new_cache(), reference.new_cache()
    with torch.inference_mode():
        for ids in ([5, 6, 7], [8], [9, 10]):
            torch.testing.assert_close(runner.forward(ids, ours), reference.forward(ids, theirs), rtol=1e-4, atol=1e-4)
    assert not runner.fixed_shapes and "fixed-shape steps off: no SDPA kernel runs them (flash: No available kernel" in runner.info.note


def test_bad_runner_choices_are_refused(smol_tokenizer: Any, dynamic: TransformersModel) -> None:
    with pytest.raises(UsageError, match="runner='warp'"):
        _model(smol_tokenizer, "warp")
    with pytest.raises(UsageError, match="CUDA graphs need a CUDA device"):
        _model(smol_tokenizer, "graph")
    with pytest.raises(UsageError, match="max_cache_len"):
        StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=STEP_BUCKETS[-1] - 1)


def test_the_model_reports_its_runner(smol_tokenizer: Any, dynamic: TransformersModel) -> None:
    assert dynamic.runner_info.runner == "dynamic" and "runner='dynamic'" in repr(dynamic)
    auto = _model(smol_tokenizer, "auto")
    assert auto.runner_info.runner == "dynamic"  # auto is the dynamic cache on a CPU
    static = _model(smol_tokenizer, "static")
    assert str(static.runner_info).startswith("static, attention sdpa")


def test_staged_masks_decode_the_same_tokens(
    dynamic: TransformersModel, person: dict[str, Any], decode_constrained: Callable[..., Generation]
) -> None:
    from reasoner.grammars import compile_json_schema

    grammar = compile_json_schema(person, dynamic.tokenizer)
    prompt = dynamic.tokenizer("Describe a person.")["input_ids"]
    outs = []
    for staged in (False, True):
        gen = decode_constrained(dynamic, DynamicCacheRunner(dynamic.model, dynamic.device), grammar, prompt, staged=staged, max_tokens=40)
        outs.append(gen.completion_ids)
        assert (gen._stager is not None) == staged
    assert outs[0] == outs[1] and len(outs[0]) > 5
