"""llguidance backend: JSON Schema -> llguidance grammar -> LLMatcher."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import llguidance
import llguidance.hf
import numpy as np

from reasoner.errors import GrammarError
from reasoner.grammars._bytes import reads_tokens_right, token_bytes
from reasoner.grammars._matcher import (
    GrammarMatcher,
    TokenizerFacts,
    bitmask_words,
    checked_bitmask,
    encode,
    not_allowed,
)
from reasoner.grammars._refusal import keyword_in
from reasoner.grammars._share import share_repeated

if TYPE_CHECKING:
    import torch
    from llguidance._lib import JsonCompileOptions

__all__ = ["LLGuidanceAdapter"]


class LLGuidanceAdapter:
    """An ``LLTokenizer`` for one Hugging Face tokenizer (about 1-2 s to build for 128k tokens)."""

    name: Final = "llguidance"

    def __init__(self, tokenizer: Any, facts: TokenizerFacts) -> None:
        self._facts = facts
        self._words = bitmask_words(facts.vocab_size)
        self._tokenizer = llguidance.hf.from_tokenizer(
            tokenizer, n_vocab=facts.vocab_size, eos_token=facts.eos_token_id
        )
        if not reads_tokens_right(self._tokenizer.decode_bytes, tokenizer):
            # llguidance reads token bytes from tokenizer.json and guesses the byte encoding
            # from the decoder; a converted tokenizer (SmolLM2 from GGUF: ByteLevel behind
            # ByteFallback) defeats the guess, so hand it the bytes explicitly
            wrapper = llguidance.TokenizerWrapper(_ExplicitBytes(tokenizer, facts))
            self._tokenizer = llguidance.LLTokenizer(wrapper, n_vocab=facts.vocab_size, eos_token=facts.eos_token_id)

    def compile(self, schema: dict[str, Any] | bool) -> Callable[[], GrammarMatcher]:
        # Compact JSON: no free whitespace, "," and ":" separators. Printable \uXXXX escapes
        # are JSON, so they are allowed (llguidance refuses them by default). Every oneOf
        # left here was proven disjoint (prepare_schema), so it is the same language as
        # anyOf: llguidance may coerce (its own proof gives up behind a $ref). Repeated
        # subschemas (a plan's ref alternative at every value position) are built once.
        options: JsonCompileOptions = {
            "whitespace_flexible": False,
            "item_separator": ",",
            "key_separator": ":",
            "json_allow_general_unicode_escapes": True,
            "coerce_one_of": True,
        }
        if schema is True:  # llguidance applies its options to an object schema only
            schema = {}
        try:
            grammar = llguidance.LLMatcher.grammar_from_json_schema(
                json.dumps(share_repeated(schema)), defaults=options
            )
        except ValueError as exc:
            raise GrammarError(f"llguidance could not read the schema: {exc}") from exc
        template = _Template(self._tokenizer, grammar)
        words, eos = self._words, self._facts.eos_token_id
        return lambda: _LLGuidanceMatcher(template.copy(), words, eos, template.spoil)


class _Template:
    """The matcher every new one is copied from (deep_copy is ~1 us against ~300 us for a
    fresh LLMatcher). Copies share the lexer's lazily built state, so one that hits a lexer
    limit ("too many expressions constructed") breaks them all: after an error the template
    is rebuilt from the grammar before the next copy, and a cached grammar stays usable."""

    def __init__(self, tokenizer: Any, grammar: str) -> None:
        self._tokenizer = tokenizer
        self._grammar = grammar
        self._lock = threading.Lock()
        self._spoiled = False
        self._matcher = self._fresh()

    def _fresh(self) -> llguidance.LLMatcher:
        # the constructor builds the grammar once and records any error (it never raises)
        matcher = llguidance.LLMatcher(self._tokenizer, self._grammar, log_level=0)
        if matcher.is_error():
            raise _grammar_error(matcher.get_error())
        return matcher

    def copy(self) -> llguidance.LLMatcher:
        with self._lock:
            if self._spoiled:
                self._matcher, self._spoiled = self._fresh(), False
            return self._matcher.deep_copy()

    def spoil(self) -> None:
        with self._lock:
            self._spoiled = True


class _LLGuidanceMatcher:
    __slots__ = ("_eos", "_m", "_spoil", "_words")

    def __init__(self, matcher: llguidance.LLMatcher, words: int, eos: int, spoil: Callable[[], None]) -> None:
        self._m = matcher
        self._words = words
        self._eos = eos
        self._spoil = spoil

    def fill_bitmask(self, bitmask: torch.Tensor) -> None:
        view = checked_bitmask(bitmask, self._words)
        self._m.unsafe_compute_mask_ptr(view.data_ptr(), self._words * 4)
        if self._m.is_error():
            self._spoil()
            raise GrammarError(f"llguidance matcher failed: {self._m.get_error()}")

    def advance(self, token_id: int) -> None:
        # try_consume_tokens leaves the state untouched on refusal (consume_token would
        # put the matcher in a permanent error state) but never takes EOS
        if token_id == self._eos:
            if not self._m.is_accepting() or not self._m.consume_token(token_id):
                raise not_allowed(token_id, "llguidance", "the instance is not complete")
        elif self._m.try_consume_tokens([token_id]) != 1:
            self._check_lexer()
            raise not_allowed(token_id, "llguidance")

    def _check_lexer(self) -> None:
        # a token refused because the lexer ran out of room is refused without an error
        # state; computing the mask shows it (only on a refusal, so rarely)
        scratch = np.zeros(self._words, dtype=np.int32)
        self._m.unsafe_compute_mask_ptr(scratch.ctypes.data, self._words * 4)
        if self._m.is_error():
            self._spoil()
            raise GrammarError(f"llguidance matcher failed: {self._m.get_error().strip().splitlines()[0]}")

    def forced_tokens(self) -> list[int]:
        return list(self._m.compute_ff_tokens())

    def is_accepting(self) -> bool:
        return bool(self._m.is_accepting())

    def is_terminated(self) -> bool:
        return bool(self._m.is_stopped())


def _grammar_error(message: str) -> GrammarError:
    first_line = message.strip().splitlines()[0] if message.strip() else message
    keyword = keyword_in(first_line)
    hint = f" (keyword {keyword!r})" if keyword else ""
    return GrammarError(
        f"llguidance cannot compile this schema{hint}: {first_line}; simplify the schema or pick another backend",
        keyword=keyword,
    )


class _ExplicitBytes:
    """What llguidance.TokenizerWrapper needs: every token's bytes and an encoder."""

    def __init__(self, tokenizer: Any, facts: TokenizerFacts) -> None:
        self._tokenizer = tokenizer
        self.eos_token_id = facts.eos_token_id
        self.bos_token_id = tokenizer.bos_token_id
        self.special_token_ids = sorted(facts.special_ids)
        self.tokens = token_bytes(tokenizer, facts.vocab_size)

    def __call__(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise TypeError("text only")  # TokenizerWrapper probes bytes support this way
        return encode(self._tokenizer, text)
