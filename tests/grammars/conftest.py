"""Fixtures for the grammar tests: every backend x every real tokenizer, and a random walker."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from reasoner.grammars import BACKENDS, CompiledGrammar
from reasoner.kernels import allocate_token_bitmask

TOKENIZERS = ("llama3_tokenizer", "qwen_tokenizer", "smollm2_tokenizer")


@pytest.fixture(scope="session", params=TOKENIZERS)
def tokenizer(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def allowed_ids(mask: Any) -> np.ndarray:
    """Token ids whose bit is set in an int32 bitmask."""
    bits = np.unpackbits(mask.numpy().view(np.uint8), bitorder="little")
    return np.flatnonzero(bits)


@dataclass
class Walk:
    tokens: list[int]
    text: str
    # (position, forced tokens offered there, tokens the mask allowed there)
    forced: list[tuple[int, list[int], np.ndarray]]


_CLOSERS: dict[int, np.ndarray] = {}


def _closers(tokenizer: Any) -> np.ndarray:
    """Per token: does its text contain a character that ends a JSON value?"""
    key = id(tokenizer)
    if key not in _CLOSERS:
        # byte-level BPE pieces spell printable ASCII as itself, so the raw pieces suffice
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        _CLOSERS[key] = np.array([any(c in (p or "") for c in '"]},') for p in pieces])
    return _CLOSERS[key]


def decode(tokenizer: Any, ids: list[int]) -> str:
    return str(tokenizer.decode(ids, clean_up_tokenization_spaces=False))


@pytest.fixture(scope="session")
def random_walk() -> Callable[..., Walk]:
    """Drive a matcher with seeded random allowed tokens until it ends (EOS or terminated).

    Sampling is uniform over the mask, but a third of the time it is restricted to tokens
    that close a value, so walks end within the budget. Every step checks that the mask is
    not empty and that the EOS bit agrees with is_accepting().
    """

    def walk(
        grammar: CompiledGrammar, tokenizer: Any, seed: int, *, take_forced: bool = False, budget: int = 300
    ) -> Walk:
        rng = random.Random(seed)
        closers = _closers(tokenizer)
        eos = tokenizer.eos_token_id
        matcher = grammar.matcher()
        mask = allocate_token_bitmask(grammar.vocab_size)
        tokens: list[int] = []
        forced_log: list[tuple[int, list[int], np.ndarray]] = []
        while not matcher.is_terminated():
            assert len(tokens) < budget, (
                f"walk {seed} did not end within {budget} tokens: {decode(tokenizer, tokens)!r}"
            )
            forced = matcher.forced_tokens()
            if forced and take_forced:
                for token_id in forced:
                    matcher.advance(token_id)
                tokens.extend(forced)
                continue
            matcher.fill_bitmask(mask)
            allowed = allowed_ids(mask)
            assert allowed.size > 0, f"empty mask after {decode(tokenizer, tokens)!r}"
            if forced:
                forced_log.append((len(tokens), forced, allowed))
            assert (eos in allowed) == matcher.is_accepting()
            if eos in allowed and rng.random() < 0.5:
                break
            allowed = allowed[allowed != eos]
            if allowed.size == 0:
                break
            closing = allowed[closers[allowed]]
            pool = closing if closing.size and rng.random() < 0.35 else allowed
            token_id = int(pool[rng.randrange(pool.size)])
            matcher.advance(token_id)
            tokens.append(token_id)
        assert matcher.is_accepting(), f"walk ended in a non-accepting state: {decode(tokenizer, tokens)!r}"
        return Walk(tokens, decode(tokenizer, tokens), forced_log)

    return walk
