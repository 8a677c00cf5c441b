"""JSON Schema -> token constraint for our own decode loop.

::

    grammar = compile_json_schema(schema, tokenizer)       # backend="llguidance"
    matcher = grammar.matcher()                            # one per generation
    mask = allocate_token_bitmask(grammar.vocab_size)      # reasoner.kernels: int32 [ceil(V/32)], CPU
    out: list[int] = []
    while not matcher.is_terminated():
        forced = matcher.forced_tokens()                   # appended without sampling
        for token in forced:
            matcher.advance(token)
        out += forced
        if forced:
            continue
        matcher.fill_bitmask(mask)                         # EOS bit set iff complete
        token = sample(logits, mask)                       # logits: [V] of the model
        if token == tokenizer.eos_token_id:
            break
        matcher.advance(token)                             # GrammarError if not allowed
        out.append(token)
    value = grammar.validate(tokenizer.decode(out))        # always, whatever the backend

Output is compact JSON (no whitespace between tokens). Properties are generated in schema
order. An object schema with ``properties`` and no ``additionalProperties`` is closed in
the grammar (llguidance would otherwise let the model add keys): the grammar may be
narrower than the schema, never wider, and :meth:`CompiledGrammar.validate` still checks
the original schema with jsonschema (Draft 2020-12; failures raise ``ModelError`` naming
the JSON path). ``compile_json_schema`` checks keyword value shapes itself (a full
metaschema pass costs ~0.3 s on a plan schema); the full check runs, once per schema, in
:func:`validate_instance`.

Mask layout and width: bit ``i % 32`` of int32 word ``i // 32`` stands for token ``i``
(llguidance/xgrammar layout); ``vocab_size`` is ``len(tokenizer)``. A model with more
logits than that pads: pass a longer mask (the extra words are zeroed, so padded ids stay
disallowed). A model with fewer logits (Llama-3.2's tokenizer lists ``<|image|>`` at 128256
while the 1B model has 128256 logits) may use a prefix of the mask: only special tokens lie
past it, and no special token but EOS is ever allowed. EOS is ``tokenizer.eos_token_id``.

Backends (all three pass tests/grammars/ on the Llama-3, Qwen3 and SmolLM2 tokenizers;
numbers from benchmarks/bench_grammar.py on 2 CPU cores):

Every backend generates ``oneOf`` as ``anyOf``, so ``oneOf`` is enforced only where its
branches are provably disjoint (different const/enum values or types, or objects told
apart by a required property's const/enum values or by ``additionalProperties: false``:
the plan schema's tools are). With ``strict=False`` another ``oneOf`` becomes ``anyOf``.

* ``llguidance`` (default): enforces the most keywords, and refuses what it cannot build
  (some ``allOf`` intersections, look-around in patterns). A 50-tool plan grammar is ready
  in 15-25 ms (repeated subschemas are shared through ``$defs`` first); masks 20-50 us p50.
* ``xgrammar``: no ``patternProperties``; ``multipleOf`` only for integers; ``allOf``
  only with one branch. Slow to compile ``maxLength`` strings: about 1 s for one tool
  call, 4-16 s for a plan grammar. It refuses escapes inside a ``maxLength`` string
  (narrower, not wrong). Raw control characters and special tokens, which it would allow
  inside strings, are masked out here; its jump-forward text may start inside a UTF-8
  character, and then no token is forced.
* Numbers: llguidance and outlines do not bound the digits of a ``number`` (llguidance
  not even between ``minimum`` and ``maximum``), so a decode loop needs a token budget.
* ``outlines`` (outlines' own outlines_core path): ignores numeric bounds, ``multipleOf``
  and ``maxProperties``, so those are refused (a plan schema needs ``strict=False``, its
  id bounds then left to validation); no ``patternProperties``; no property names that
  need JSON escapes (it writes them raw into its regex). Its regex automaton
  cannot hold a plan grammar (one tool runs past a 4 GiB cap) and takes 1-3 s for one tool
  call: usable for small schemas only. ``\\uXXXX`` escapes, unsigned exponents and a
  top-level number's fraction are not generated (narrower). Forced tokens are only the
  chains where exactly one token is allowed, which BPE vocabularies make rare.

:func:`supported_keywords` lists each backend's keywords and their conditions; a keyword
outside that list is a ``GrammarError`` naming it and its JSON pointer (``strict=True``)
or is listed in ``grammar.unenforced`` and left to validation (``strict=False``).
Annotations (``title``, ``description``, ``default``, ...) and unknown keywords
constrain nothing and are dropped.

Tokenizers: any Hugging Face fast tokenizer. When a backend misreads the byte value of
tokens (llguidance on SmolLM2 converted from GGUF, whose ByteLevel decoder sits behind a
ByteFallback), the adapter passes it explicit token bytes instead. Adapters (1-2 s for a
128k vocabulary) are built once per tokenizer and backend; compiled grammars are kept in
a 64-entry LRU. Everything here is blocking: call it from a worker thread in async code.
"""

from reasoner.grammars._api import DEFAULT_BACKEND as DEFAULT_BACKEND
from reasoner.grammars._api import CompiledGrammar as CompiledGrammar
from reasoner.grammars._api import clear_caches as clear_caches
from reasoner.grammars._api import compile_json_schema as compile_json_schema
from reasoner.grammars._bytes import closing_token_ids as closing_token_ids
from reasoner.grammars._matcher import GrammarMatcher as GrammarMatcher
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
    "clear_caches",
    "closing_token_ids",
    "compile_json_schema",
    "supported_keywords",
    "validate_instance",
]
