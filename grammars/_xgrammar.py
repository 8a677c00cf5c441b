"""xgrammar backend: JSON Schema -> xgrammar CompiledGrammar -> GrammarMatcher.

Two xgrammar traps are closed here rather than trusted away:

* xgrammar lets raw control characters (bytes < 0x20) into strings, which is not JSON.
  Compact JSON never contains such a byte, so every token whose bytes include one is
  cleared from each mask and refused by :meth:`advance`.
* xgrammar reports no special tokens for Hugging Face BPE tokenizers, so their literal
  text could be matched inside strings; every special token but EOS is cleared the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Final

import torch
import xgrammar as xgr

from reasoner.errors import GrammarError
from reasoner.grammars._bytes import reads_tokens_right, token_bytes
from reasoner.grammars._matcher import (
    GrammarMatcher,
    TokenizerFacts,
    bitmask_words,
    checked_bitmask,
    encode,
    not_allowed,
    pack_bits,
    set_bit,
)

__all__ = ["XGrammarAdapter"]

_THREADS: Final = max(1, min(8, os.cpu_count() or 1))


class XGrammarAdapter:
    """``TokenizerInfo`` + ``GrammarCompiler`` (xgrammar's own cache off: ours is the LRU)."""

    name: Final = "xgrammar"

    def __init__(self, tokenizer: Any, facts: TokenizerFacts) -> None:
        self._tokenizer = tokenizer
        self.facts = facts
        self.words = bitmask_words(facts.vocab_size)
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=facts.vocab_size, stop_token_ids=[facts.eos_token_id]
        )
        decoded = info.decoded_vocab
        if not reads_tokens_right(lambda ids: b"".join(decoded[i] for i in ids), tokenizer):
            # xgrammar guessed the byte encoding wrong: give it the bytes explicitly
            info = xgr.TokenizerInfo(
                token_bytes(tokenizer, facts.vocab_size),
                xgr.VocabType.RAW,
                vocab_size=facts.vocab_size,
                stop_token_ids=[facts.eos_token_id],
            )
        self._compiler = xgr.GrammarCompiler(info, max_threads=_THREADS, cache_enabled=False)
        banned = {i for i, piece in enumerate(info.decoded_vocab) if any(b < 0x20 for b in piece)} | set(
            facts.special_ids
        )
        banned.discard(facts.eos_token_id)
        self.banned = frozenset(banned)
        keep = torch.full((self.words * 32,), True, dtype=torch.bool)
        keep[facts.vocab_size :] = False
        keep[torch.tensor(sorted(banned), dtype=torch.long)] = False
        self.keep = pack_bits(keep)

    def compile(self, schema: dict[str, Any] | bool) -> Callable[[], GrammarMatcher]:
        try:
            compiled = self._compiler.compile_json_schema(
                json.dumps(schema), any_whitespace=False, separators=(",", ":"), strict_mode=True
            )
        except (RuntimeError, ValueError) as exc:
            raise GrammarError(
                f"xgrammar cannot compile this schema: {exc}; simplify it or pick another backend"
            ) from exc
        return lambda: _XGrammarMatcher(self, xgr.GrammarMatcher(compiled))

    def encode(self, text: str) -> list[int]:
        return encode(self._tokenizer, text)


class _XGrammarMatcher:
    __slots__ = ("_a", "_m", "_scratch")

    def __init__(self, adapter: XGrammarAdapter, matcher: xgr.GrammarMatcher) -> None:
        self._a = adapter
        self._m = matcher
        self._scratch: torch.Tensor | None = None

    def fill_bitmask(self, bitmask: torch.Tensor) -> None:
        view = checked_bitmask(bitmask, self._a.words)
        self._fill(view)

    def _fill(self, view: torch.Tensor) -> None:
        if self._m.is_terminated():
            view.zero_()
            set_bit(view, self._a.facts.eos_token_id)
            return
        self._m.fill_next_token_bitmask(view.view(1, -1))
        view.bitwise_and_(self._a.keep)

    def advance(self, token_id: int) -> None:
        if token_id in self._a.banned:
            raise not_allowed(token_id, "xgrammar", "raw control characters and special tokens are never JSON")
        if not self._m.accept_token(token_id):
            raise not_allowed(token_id, "xgrammar")

    def forced_tokens(self) -> list[int]:
        if self._m.is_terminated():
            return []
        try:
            text = self._m.find_jump_forward_string()
        except UnicodeDecodeError:
            # the forced bytes start or end inside a UTF-8 character (the model sampled part
            # of one): nothing is forced as text here; the mask still allows the rest
            return []
        if not text:
            return []
        # any tokenization of a forced string is accepted (xgrammar matches bytes); keep the
        # prefix a forked matcher really accepts, to be safe at special-token boundaries
        probe = self._m.fork()
        forced: list[int] = []
        for token_id in self._a.encode(text):
            if token_id in self._a.banned or not probe.accept_token(token_id):
                break
            forced.append(token_id)
        return forced

    def is_accepting(self) -> bool:
        return bool(self._m.is_completed())

    def is_terminated(self) -> bool:
        if self._m.is_terminated():
            return True
        if not self._m.is_completed():
            return False
        if self._scratch is None:
            self._scratch = torch.zeros(self._a.words, dtype=torch.int32)
        self._fill(self._scratch)
        eos = self._a.facts.eos_token_id
        only_eos = torch.zeros_like(self._scratch)
        set_bit(only_eos, eos)
        return bool(torch.equal(self._scratch, only_eos))
