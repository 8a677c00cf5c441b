"""JSON Schema -> token constraint for our own decode loop.

::

    grammar = compile_json_schema(schema, tokenizer)          # backend="llguidance"
    m = grammar.matcher()
    mask = allocate_bitmask(grammar.vocab_size)               # int32 [ceil(V/32)], CPU
    while not m.is_terminated():
        for t in m.forced_tokens(): m.advance(t); out.append(t)  # no sampling needed
        m.fill_bitmask(mask)                                   # EOS bit set when complete
        t = sample(logits, mask); if t == eos: break
        m.advance(t); out.append(t)
    obj = grammar.validate(tokenizer.decode(out))              # always, whatever the backend

Output is compact JSON (no whitespace between tokens). Properties are generated in schema
order. An object schema with ``properties`` and no ``additionalProperties`` is closed in
the grammar (llguidance would otherwise let the model add keys): the grammar may be
narrower than the schema, never wider, and :meth:`CompiledGrammar.validate` still checks
the original schema with jsonschema (Draft 2020-12; failures raise ``ModelError`` naming
the JSON path).

Mask layout and width: bit ``i % 32`` of int32 word ``i // 32`` stands for token ``i``
(llguidance/xgrammar layout); ``vocab_size`` is ``len(tokenizer)``. A model with more
logits than that pads: pass a longer mask (the extra words are zeroed, so padded ids stay
disallowed). A model with fewer logits (Llama-3.2's tokenizer lists ``<|image|>`` at 128256
while the 1B model has 128256 logits) may use a prefix of the mask: only special tokens lie
past it, and no special token but EOS is ever allowed.

Backends (all pass tests/grammars/ on the Llama-3, Qwen3 and SmolLM2 tokenizers):

* ``llguidance`` (default): enforces the most keywords, compiles in about a millisecond,
  refuses what it cannot do (oneOf it cannot prove disjoint, unknown formats).
* ``xgrammar``: no ``patternProperties``; ``multipleOf`` only for integers; ``oneOf`` only
  when provably disjoint; ``allOf`` only with one branch. Compiling a ``maxLength`` string
  takes 0.2-3 s, and it refuses escapes inside a ``maxLength`` string (narrower, not
  wrong). Raw control characters and special tokens, which it would allow in strings, are
  masked out here.
* ``outlines`` (outlines' own outlines_core path): ignores numeric bounds, ``multipleOf``
  and ``maxProperties``, so those are refused; no ``patternProperties``; ``\\uXXXX``
  escapes, unsigned exponents and a top-level number's fraction are not generated
  (narrower). Forced tokens are the chains where exactly one token is allowed.

:func:`supported_keywords` lists each backend's keywords and their conditions; a keyword
outside that list is a ``GrammarError`` naming it (``strict=True``) or is listed in
``grammar.unenforced`` and left to validation (``strict=False``). Annotations (``title``,
``description``, ``default``, ...) and unknown keywords constrain nothing and are dropped.
"""

from reasoner.grammars._api import DEFAULT_BACKEND as DEFAULT_BACKEND
from reasoner.grammars._api import CompiledGrammar as CompiledGrammar
from reasoner.grammars._api import clear_caches as clear_caches
from reasoner.grammars._api import compile_json_schema as compile_json_schema
from reasoner.grammars._matcher import GrammarMatcher as GrammarMatcher
from reasoner.grammars._matcher import allocate_bitmask as allocate_bitmask
from reasoner.grammars._support import BACKENDS as BACKENDS
from reasoner.grammars._support import UnenforcedKeyword as UnenforcedKeyword
from reasoner.grammars._support import supported_keywords as supported_keywords
from reasoner.grammars._validate import validate_instance as validate_instance

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "CompiledGrammar",
    "GrammarMatcher",
    "UnenforcedKeyword",
    "allocate_bitmask",
    "clear_caches",
    "compile_json_schema",
    "supported_keywords",
    "validate_instance",
]
