"""outlines backend, through outlines' own API: its outlines_core vocabulary builder,
``build_regex_from_schema`` and the ``Index``/``Guide`` token automaton.

outlines_core compiles the schema into one regular expression, so recursion is cut at a
fixed depth and numbers need a signed exponent (``1e+5``, not ``1e5``): both only narrow
the grammar. Its ``Index`` rejects a top-level number's fraction (``1.5`` as the whole
instance), a bug that also only narrows. The keywords it ignores are refused in
:mod:`reasoner.grammars._support`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import outlines_core
import torch
from outlines.backends.outlines_core import OutlinesCoreBackend
from outlines.models.transformers import SPIECE_UNDERLINE
from outlines_core.json_schema import build_regex_from_schema

from reasoner.errors import GrammarError
from reasoner.grammars._matcher import (
    GrammarMatcher,
    TokenizerFacts,
    bitmask_words,
    checked_bitmask,
    not_allowed,
    set_bit,
)

__all__ = ["OutlinesAdapter"]


class OutlinesAdapter:
    """An outlines_core ``Vocabulary`` (special tokens other than EOS left out)."""

    name: Final = "outlines"

    def __init__(self, tokenizer: Any, facts: TokenizerFacts) -> None:
        self.facts = facts
        self.words = bitmask_words(facts.vocab_size)

        def token_to_str(token: str) -> str:
            # what outlines' TransformerTokenizer.convert_token_to_string does; that class
            # is not used because it sets pad_token_id on the caller's tokenizer
            text: str = tokenizer.convert_tokens_to_string([token])
            if token.startswith(SPIECE_UNDERLINE) or token == "<0x20>":
                return " " + text
            return text

        vocab = {
            token: token_id
            for token, token_id in tokenizer.get_vocab().items()
            if token_id not in facts.special_ids and token_id < facts.vocab_size
        }
        eos_token = tokenizer.convert_ids_to_tokens(facts.eos_token_id)
        self.vocabulary = OutlinesCoreBackend.create_outlines_core_vocabulary(
            vocab, facts.eos_token_id, eos_token, token_to_str
        )

    def compile(self, schema: dict[str, Any] | bool) -> Callable[[], GrammarMatcher]:
        try:
            regex = build_regex_from_schema(json.dumps(schema), "")
            index = outlines_core.Index(regex, self.vocabulary)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise GrammarError(
                f"outlines cannot compile this schema: {str(exc).splitlines()[0]}; simplify it or pick another backend"
            ) from exc
        states = _StateFacts(index, self.facts.eos_token_id)
        return lambda: _OutlinesMatcher(self, outlines_core.Guide(index), states)


class _StateFacts:
    """Per-state forced chains and termination, shared by every matcher of one grammar."""

    def __init__(self, index: outlines_core.Index, eos: int) -> None:
        self.index = index
        self.eos = eos
        self._single: dict[int, int | None] = {}
        self._terminal: dict[int, bool] = {}

    def only_token(self, state: int) -> int | None:
        if state not in self._single:
            allowed = self.index.get_allowed_tokens(state) or []
            self._single[state] = allowed[0] if len(allowed) == 1 else None
            self._terminal[state] = list(allowed) == [self.eos]
        return self._single[state]

    def terminal(self, state: int) -> bool:
        self.only_token(state)
        return self._terminal[state]

    def forced(self, state: int) -> list[int]:
        chain: list[int] = []
        while (token := self.only_token(state)) is not None and token != self.eos and len(chain) < 256:
            chain.append(token)
            state = self.index.get_next_state(state, token)
        return chain


class _OutlinesMatcher:
    __slots__ = ("_a", "_done", "_g", "_s")

    def __init__(self, adapter: OutlinesAdapter, guide: outlines_core.Guide, states: _StateFacts) -> None:
        self._a = adapter
        self._g = guide
        self._s = states
        self._done = False  # EOS consumed

    def fill_bitmask(self, bitmask: torch.Tensor) -> None:
        view = checked_bitmask(bitmask, self._a.words)
        if self._done:
            view.zero_()
            set_bit(view, self._a.facts.eos_token_id)
            return
        self._g.write_mask_into(view.data_ptr(), self._a.words, 4)

    def advance(self, token_id: int) -> None:
        if self._done:
            raise not_allowed(token_id, "outlines", "the instance is complete and EOS was consumed")
        if token_id == self._s.eos and self.is_accepting():
            self._done = True
            return
        if not self._g.accepts_tokens([token_id]):
            raise not_allowed(token_id, "outlines")
        self._g.advance(token_id, return_tokens=False)

    def forced_tokens(self) -> list[int]:
        return [] if self._done else self._s.forced(self._g.get_state())

    def is_accepting(self) -> bool:
        return self._done or bool(self._s.index.is_final_state(self._g.get_state()))

    def is_terminated(self) -> bool:
        return self._done or self._s.terminal(self._g.get_state())
