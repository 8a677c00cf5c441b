"""compile_json_schema, CompiledGrammar, and the adapter and grammar caches."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from reasoner.errors import GrammarError, UsageError
from reasoner.grammars._matcher import GrammarMatcher, TokenizerFacts, encode
from reasoner.grammars._refusal import named_refusal
from reasoner.grammars._support import BACKENDS, UnenforcedKeyword, prepare_schema
from reasoner.grammars._unsat import unsatisfiable
from reasoner.grammars._validate import validate_instance

__all__ = ["DEFAULT_BACKEND", "CompiledGrammar", "clear_caches", "compile_json_schema"]

DEFAULT_BACKEND: Final = "llguidance"
_MAX_TOKENIZERS: Final = 8
_MAX_GRAMMARS: Final = 64


class _Adapter(Protocol):
    def compile(self, schema: dict[str, Any] | bool) -> Callable[[], GrammarMatcher]: ...


class CompiledGrammar:
    """A JSON Schema compiled for one tokenizer and backend; make a matcher per generation.

    Attributes:
        backend: ``"llguidance"``, ``"outlines"`` or ``"xgrammar"``.
        vocab_size: tokens the mask covers (``len(tokenizer)``; see ``reasoner.kernels.allocate_token_bitmask``).
        schema: the schema as given (what :meth:`validate` checks).
        backend_schema: the schema the backend compiled (annotations and unenforced
            keywords removed, objects with ``properties`` closed).
        unenforced: keywords the grammar does not enforce (only non-empty with
            ``strict=False``); :meth:`validate` checks them.
    """

    __slots__ = ("_new_matcher", "_tokenizer", "backend", "backend_schema", "schema", "unenforced", "vocab_size")

    def __init__(
        self,
        *,
        backend: str,
        vocab_size: int,
        schema: dict[str, Any] | bool,
        backend_schema: dict[str, Any] | bool,
        unenforced: tuple[UnenforcedKeyword, ...],
        new_matcher: Callable[[], GrammarMatcher],
        tokenizer: Any,
    ) -> None:
        self.backend = backend
        self.vocab_size = vocab_size
        self.schema = schema
        self.backend_schema = backend_schema
        self.unenforced = unenforced
        self._new_matcher = new_matcher
        self._tokenizer = tokenizer

    def __repr__(self) -> str:
        return (
            f"CompiledGrammar(backend={self.backend!r}, vocab_size={self.vocab_size},"
            f" unenforced={len(self.unenforced)})"
        )

    def matcher(self) -> GrammarMatcher:
        """A fresh matcher at the start of an instance, independent of every other."""
        return self._new_matcher()

    def accepts(self, text: str) -> bool:
        """Whether the grammar accepts ``text`` as a whole instance, token by token.

        ``text`` is tokenized with the grammar's tokenizer (no special tokens added or
        parsed) and fed through a fresh matcher: True iff every token is allowed and the end
        is accepting. This checks the grammar only; with ``unenforced`` keywords, use
        :meth:`validate` as well.
        """
        matcher = self.matcher()
        for token_id in encode(self._tokenizer, text):
            try:
                matcher.advance(token_id)
            except GrammarError:
                return False
        return matcher.is_accepting()

    def validate(self, text_or_obj: str | bytes | Any) -> Any:
        """:func:`validate_instance` against :attr:`schema`: the parsed instance, or ``ModelError``."""
        return validate_instance(text_or_obj, self.schema)


def compile_json_schema(
    schema: Mapping[str, Any] | bool,
    tokenizer: Any,
    backend: str = DEFAULT_BACKEND,
    *,
    strict: bool = True,
) -> CompiledGrammar:
    """Compile a JSON Schema into a token-level grammar for compact JSON.

    ``tokenizer`` is a Hugging Face fast tokenizer; its adapter for ``backend`` is built
    once and cached (up to 8 tokenizers, kept alive while cached). Compiled grammars are
    cached in a small LRU keyed by (tokenizer, backend, schema JSON with its key order:
    property order is significant). The backend is imported only when first selected.

    Every keyword ``backend`` would not enforce (see :func:`supported_keywords`) raises
    ``GrammarError`` naming it and its JSON pointer, unless ``strict=False``: then it is
    left out of the grammar and listed in ``grammar.unenforced``, and only
    :meth:`CompiledGrammar.validate` checks it.

    Raises:
        UsageError: unknown backend, a schema that is not JSON, a tokenizer that is not a
            fast tokenizer or has no EOS token, a backend package that is not installed.
        GrammarError: an invalid schema, an unenforced keyword (strict), or a schema the
            backend cannot compile (``keyword`` set when one is at fault).
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown grammar backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    try:
        schema_json = json.dumps(schema, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the schema must be JSON (dicts, lists, str, numbers, bool, None): {exc}") from exc
    key = (id(tokenizer), backend, schema_json)
    with _lock:
        grammar = _grammars.get(key)
        if grammar is not None and grammar._tokenizer is tokenizer:
            _grammars.move_to_end(key)
        else:
            grammar = None
    if grammar is None:
        grammar = _compile(json.loads(schema_json), tokenizer, backend, strict=strict)
        with _lock:
            if id(tokenizer) in _tokenizers:  # the entry may have been evicted meanwhile
                _grammars[key] = grammar
                while len(_grammars) > _MAX_GRAMMARS:
                    _grammars.popitem(last=False)
    if strict and grammar.unenforced:
        raise _unenforced_error(backend, grammar.unenforced)
    return grammar


def _unenforced_error(backend: str, unenforced: tuple[UnenforcedKeyword, ...]) -> GrammarError:
    listed = "; ".join(str(u) for u in unenforced)
    return GrammarError(
        f"the {backend} backend would not enforce {len(unenforced)} keyword(s) of this schema: {listed}."
        " Use backend='llguidance', remove the keyword(s), or pass strict=False to check them with"
        " jsonschema after decoding",
        keyword=unenforced[0].keyword,
        pointer=unenforced[0].pointer,
    )


def _compile(schema: dict[str, Any] | bool, tokenizer: Any, backend: str, *, strict: bool) -> CompiledGrammar:
    if not isinstance(schema, dict | bool):
        raise UsageError(f"a JSON Schema is an object or a boolean, got {type(schema).__name__}")
    impossible = unsatisfiable(schema)
    if impossible is not None:
        raise GrammarError(
            f"no value can satisfy this schema: {impossible.message}", keyword=impossible.keyword, pointer=impossible.pointer
        )
    try:
        prepared = prepare_schema(schema, backend)
    except GrammarError as exc:
        raise _named(exc, schema) from exc
    if strict and prepared.unenforced:
        raise _unenforced_error(backend, prepared.unenforced)
    try:
        new_matcher = _adapter(_entry(tokenizer), backend).compile(prepared.schema)
    except GrammarError as exc:  # a backend's own words: find the keyword and where it is
        raise _named(exc, prepared.schema) from exc
    entry = _entry(tokenizer)
    return CompiledGrammar(
        backend=backend,
        vocab_size=entry.facts.vocab_size,
        schema=schema,
        backend_schema=prepared.schema,
        unenforced=prepared.unenforced,
        new_matcher=new_matcher,
        tokenizer=tokenizer,
    )


def _named(exc: GrammarError, schema: Any) -> GrammarError:
    named = named_refusal(exc, schema)  # a copy, so that `raise ... from exc` never cycles
    return named if named is not exc else GrammarError(str(exc), keyword=exc.keyword, pointer=exc.pointer)


def clear_caches(*, adapters: bool = True) -> None:
    """Forget compiled grammars, and with ``adapters=True`` the tokenizer adapters too."""
    with _lock:
        _grammars.clear()
        if adapters:
            _tokenizers.clear()


# ---- caches -------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    tokenizer: Any  # kept alive so that id(tokenizer) stays unique while cached
    facts: TokenizerFacts
    adapters: dict[str, _Adapter] = field(default_factory=dict)
    build_locks: dict[str, threading.Lock] = field(default_factory=dict)


_lock = threading.Lock()
_tokenizers: OrderedDict[int, _Entry] = OrderedDict()
_grammars: OrderedDict[tuple[int, str, str], CompiledGrammar] = OrderedDict()


def _entry(tokenizer: Any) -> _Entry:
    with _lock:
        entry = _tokenizers.get(id(tokenizer))
        if entry is not None and entry.tokenizer is tokenizer:
            _tokenizers.move_to_end(id(tokenizer))
            return entry
    facts = TokenizerFacts.of(tokenizer)
    with _lock:
        entry = _tokenizers.get(id(tokenizer))
        if entry is None or entry.tokenizer is not tokenizer:
            entry = _Entry(tokenizer, facts)
            _tokenizers[id(tokenizer)] = entry
            while len(_tokenizers) > _MAX_TOKENIZERS:
                gone, _ = _tokenizers.popitem(last=False)
                for key in [k for k in _grammars if k[0] == gone]:
                    del _grammars[key]
        return entry


def _adapter(entry: _Entry, backend: str) -> _Adapter:
    with _lock:
        adapter = entry.adapters.get(backend)
        if adapter is not None:
            return adapter
        build_lock = entry.build_locks.setdefault(backend, threading.Lock())
    with build_lock:  # one build per (tokenizer, backend), even under concurrent compiles
        adapter = entry.adapters.get(backend)
        if adapter is None:
            adapter = _load_adapter(backend, entry.tokenizer, entry.facts)
            entry.adapters[backend] = adapter
        return adapter


def _load_adapter(backend: str, tokenizer: Any, facts: TokenizerFacts) -> _Adapter:
    try:
        if backend == "llguidance":
            from reasoner.grammars._llguidance import LLGuidanceAdapter

            return LLGuidanceAdapter(tokenizer, facts)
        if backend == "outlines":
            from reasoner.grammars._outlines import OutlinesAdapter

            return OutlinesAdapter(tokenizer, facts)
        from reasoner.grammars._xgrammar import XGrammarAdapter

        return XGrammarAdapter(tokenizer, facts)
    except ImportError as exc:
        extra = {"llguidance": "llguidance", "outlines": "reasoner[outlines]", "xgrammar": "reasoner[xgrammar]"}[
            backend
        ]
        raise UsageError(f"the {backend} grammar backend is not installed ({exc}); pip install '{extra}'") from exc
