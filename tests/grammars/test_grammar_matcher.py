"""The matcher contract the decode loop relies on: mask layout, EOS, advance, termination."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from reasoner.errors import GrammarError, UsageError
from reasoner.grammars import compile_json_schema
from reasoner.kernels import allocate_token_bitmask

SCHEMA = {"type": "object", "properties": {"s": {"type": "string", "maxLength": 6}}, "required": ["s"]}


def _allowed(mask: torch.Tensor) -> np.ndarray:
    return np.flatnonzero(np.unpackbits(mask.numpy().view(np.uint8), bitorder="little"))


def _feed(matcher: Any, tokenizer: Any, text: str) -> None:
    for token_id in tokenizer.encode(text, add_special_tokens=False):
        matcher.advance(token_id)


def test_allocate_bitmask_shape() -> None:
    mask = allocate_token_bitmask(128257)
    assert mask.shape == (4009,) and mask.dtype == torch.int32 and not mask.any()
    with pytest.raises(UsageError):
        allocate_token_bitmask(0)


def test_mask_covers_vocab_and_bits_follow_the_layout(backend: str, tokenizer: Any) -> None:
    grammar = compile_json_schema(SCHEMA, tokenizer, backend)
    assert grammar.vocab_size == len(tokenizer)
    matcher = grammar.matcher()
    _feed(matcher, tokenizer, '{"s":"')
    # a model with more logits than tokens passes a longer mask: the extra words come back zero
    mask = torch.full((grammar.vocab_size // 32 + 8,), -1, dtype=torch.int32)
    matcher.fill_bitmask(mask)
    allowed = _allowed(mask)
    assert allowed.max() < grammar.vocab_size
    pieces = set(tokenizer.convert_ids_to_tokens([int(i) for i in allowed]))
    assert "a" in pieces and '"' in pieces
    eos = tokenizer.eos_token_id
    special = set(tokenizer.all_special_ids) | {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    assert not special & {int(i) for i in allowed}, "special tokens are never JSON text"
    assert eos not in allowed


def test_eos_bit_is_set_exactly_when_complete(backend: str, tokenizer: Any) -> None:
    grammar = compile_json_schema(SCHEMA, tokenizer, backend)
    matcher = grammar.matcher()
    mask = allocate_token_bitmask(grammar.vocab_size)
    eos = tokenizer.eos_token_id
    _feed(matcher, tokenizer, '{"s":"ab"')
    matcher.fill_bitmask(mask)
    assert not matcher.is_accepting() and eos not in _allowed(mask)
    _feed(matcher, tokenizer, "}")
    matcher.fill_bitmask(mask)
    assert matcher.is_accepting() and matcher.is_terminated()
    assert list(_allowed(mask)) == [eos], "after the root object closes only EOS may follow"
    matcher.advance(eos)
    assert matcher.is_terminated()
    matcher.fill_bitmask(mask)
    assert list(_allowed(mask)) == [eos]


def test_terminated_means_only_eos_can_follow(backend: str, tokenizer: Any) -> None:
    grammar = compile_json_schema({"type": "array", "items": {"type": "integer"}, "maxItems": 3}, tokenizer, backend)
    matcher = grammar.matcher()
    _feed(matcher, tokenizer, "[1,2]")
    assert matcher.is_accepting() and matcher.is_terminated()
    grammar = compile_json_schema({"type": "integer"}, tokenizer, backend)
    matcher = grammar.matcher()
    _feed(matcher, tokenizer, "12")
    assert matcher.is_accepting() and not matcher.is_terminated()  # 123 is still possible


def test_refused_token_raises_and_leaves_the_state_alone(backend: str, tokenizer: Any) -> None:
    grammar = compile_json_schema(SCHEMA, tokenizer, backend)
    matcher = grammar.matcher()
    _feed(matcher, tokenizer, '{"s":"ab"')
    with pytest.raises(GrammarError, match="not allowed"):
        matcher.advance(tokenizer.encode("x", add_special_tokens=False)[0])  # only } may follow
    with pytest.raises(GrammarError):
        matcher.advance(tokenizer.eos_token_id)  # not complete yet
    _feed(matcher, tokenizer, "}")
    assert matcher.is_accepting()


def test_matchers_are_independent(backend: str, tokenizer: Any) -> None:
    grammar = compile_json_schema(SCHEMA, tokenizer, backend)
    first, second = grammar.matcher(), grammar.matcher()
    _feed(first, tokenizer, '{"s":"a"}')
    assert first.is_accepting() and not second.is_accepting()
    _feed(second, tokenizer, '{"s":"b"}')
    assert second.is_accepting()


def test_fill_bitmask_refuses_a_wrong_tensor(tokenizer: Any) -> None:
    matcher = compile_json_schema(SCHEMA, tokenizer).matcher()
    words = (len(tokenizer) + 31) // 32
    for bad in (
        torch.zeros(words, dtype=torch.int64),
        torch.zeros(1, words, dtype=torch.int32),
        torch.zeros(words - 1, dtype=torch.int32),
    ):
        with pytest.raises(UsageError, match="allocate_token_bitmask"):
            matcher.fill_bitmask(bad)


def test_forced_text_inside_a_split_character(llama3_tokenizer: Any) -> None:
    # xgrammar lets the model take the first byte of 日 (E6 97 A5) on its own, so what is
    # forced next starts inside the character (llguidance only allows the whole token there)
    schema = {"type": "object", "properties": {"k": {"const": "日本"}}, "required": ["k"]}
    grammar = compile_json_schema(schema, llama3_tokenizer, "xgrammar")
    matcher = grammar.matcher()
    _feed(matcher, llama3_tokenizer, '{"k":"')
    first_byte = llama3_tokenizer.convert_tokens_to_ids("æ")  # byte-level BPE spelling of 0xE6
    mask = allocate_token_bitmask(grammar.vocab_size)
    matcher.fill_bitmask(mask)
    assert first_byte in _allowed(mask)
    matcher.advance(first_byte)
    out = [first_byte]
    while not matcher.is_terminated():
        forced = matcher.forced_tokens()
        if not forced:
            matcher.fill_bitmask(mask)
            forced = [int(_allowed(mask)[0])]
        for token_id in forced:
            matcher.advance(token_id)
        out += forced
    assert llama3_tokenizer.decode(out) == '日本"}'
