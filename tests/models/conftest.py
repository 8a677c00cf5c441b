"""Fixtures for reasoner.models tests.

The real SmolLM2 cache: the user's own (built by the set-up script under
``$REASONER_HOME`` or ``~/.cache/reasoner``) is used read-only when it verifies against its
manifest; otherwise it is built once per session in a temporary home. Tests that modify a
cache work on a copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download, ever

from reasoner.models import SMOLLM2_NAME, TransformersModel, ensure_smollm2, load_smollm2, random_llama, reasoner_home
from reasoner.models._decode import Generation, Runner
from reasoner.models._embedded import verify_cache


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    default = reasoner_home() / "models" / SMOLLM2_NAME
    if verify_cache(default) is None:
        return default
    return ensure_smollm2(tmp_path_factory.mktemp("reasoner-home"))


@pytest.fixture(scope="session")
def smol_tokenizer(smollm2_folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_folder, local_files_only=True)


@pytest.fixture(scope="session")
def tiny_model(smol_tokenizer: Any) -> TransformersModel:
    """A 2-layer random Llama with the SmolLM2 tokenizer and 64 padding rows in its embedding."""
    return random_llama(smol_tokenizer, vocab_size=len(smol_tokenizer) + 64, seed=0)


@pytest.fixture(scope="session")
def smollm2(smollm2_folder: Path) -> TransformersModel:
    model: TransformersModel = load_smollm2(smollm2_folder.parent.parent)
    return model


@pytest.fixture
def person() -> dict[str, Any]:
    """A small bounded object schema (a string, an integer range, an enum array) for constrained decoding."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 8},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 3},
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }


@pytest.fixture
def decode_constrained() -> Callable[..., Generation]:
    """``run(model, runner, grammar, prompt, staged=..., max_tokens=...)``: a greedy
    generation of ``model``'s under ``grammar`` stepped to its end through ``runner``, with
    the grammar masks staged or not (``staged_masks``); returns the finished Generation."""
    import torch

    from reasoner.models import GenerateOptions

    def run(
        model: TransformersModel, runner: Runner, grammar: Any, prompt: Sequence[int], *, staged: bool | None, max_tokens: int
    ) -> Generation:
        gen = Generation(
            runner=runner,
            prompt_ids=prompt,
            options=GenerateOptions(max_tokens=max_tokens),
            eos_ids=model.eos_ids,
            matcher=grammar.matcher(),
            grammar_vocab_size=grammar.vocab_size,
            vocab_limit=len(model.tokenizer),
            staged_masks=staged,
        )
        step = gen.start()
        with torch.inference_mode():
            while step.finish_reason is None:
                step = gen.step()
        return gen

    return run
