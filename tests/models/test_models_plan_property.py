"""Decoding property (issue 3): every plan a model decodes under a plan grammar is valid.

Random tool registries (hypothesis) -> ``plan_schema(registry, max_nodes=3, max_string=16,
max_array=3)`` -> each grammar backend -> a tiny random-weight Llama around a real tokenizer
(Llama-3 128k, Qwen3 151k, SmolLM2 49k) sampling at temperature 1.0 with a seed. Every
decoded plan must end because the grammar is complete (``finish_reason == "grammar"``, never
``"length"``), parse, match the plan schema (jsonschema, Draft 2020-12) and, for the strict
schema, pass :func:`reasoner.planner.validate`.

The token budget is not a guess: :func:`max_bytes` computes, from the schema's own bounds,
the longest compact instance in UTF-8 bytes (every string character counted as a 12-byte
surrogate-pair escape), and a byte-level BPE token is at least one byte. A generation that
reaches it can only come from a grammar that lets through text the schema does not bound.

Registries use strings with ``maxLength``, integers with ``minimum``/``maximum``, booleans,
string enums (quotes, backslashes, control and non-ASCII characters included), integer
enums, arrays with ``maxItems`` of those, nested objects with required and optional fields,
``$defs`` references, odd property names, and object output schemas with typed fields (so
plan refs have paths), or no output schema. A backend may refuse a plan schema only with a
keyword it documents as unenforced (``supported_keywords``); the default backend may not
refuse at all. Each backend gets all of that except what it is known to break, and each
such defect is pinned by an ``xfail(strict=True)`` test at the end of this file (it starts
failing, as XPASS, once the defect is fixed: then widen the palette):

* ``llguidance`` (default): everything. llguidance itself does not bound the digits of a
  number's fraction, even between ``minimum`` and ``maximum``; ``reasoner.grammars`` narrows
  its numbers to ``|x| <= 10**15`` with at most 9 fraction digits (budgeted at 32 bytes).
* ``xgrammar``: bounded ``type: number`` (it writes at most six fraction digits inside a
  range; budgeted at 32 bytes). No tools without an output schema: a ref to one takes a
  path string with ``maxLength`` and ``pattern``, and xgrammar drops the ``maxLength``.
* ``outlines``: no numeric bounds (outlines_core ignores them, so they are refused), hence
  no integers or numbers (unbounded without them; integer enums are kept); no property
  names that need a JSON escape (refused, documented); no non-ASCII property names or enum
  values (outlines_core often fails to build its index for them: "no transitions ...
  \\xe6", a GrammarError that names no keyword). The plan schema bounds node ids (default
  schema) and multi-node ref targets (strict schema, from the third node on) with
  ``minimum``/``maximum``, so outlines refuses most plan schemas: the tally is printed.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import jsonschema
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from reasoner.errors import GrammarError
from reasoner.grammars import BACKENDS, DEFAULT_BACKEND, compile_json_schema, supported_keywords
from reasoner.models import Delta, GenerateOptions, Message, TransformersModel, Usage, random_llama
from reasoner.planner import Plan, plan_schema, validate
from reasoner.tools import ToolRegistry, ToolSpec

TOKENIZERS = ("llama3_tokenizer", "qwen_tokenizer", "smollm2_tokenizer")
BOUNDS = {"max_nodes": 3, "max_string": 16, "max_array": 3}
PROMPT = [Message("system", "You plan tool calls as JSON."), Message("user", "Plan the calls that answer: what next?")]
# xgrammar writes a bounded number as at most 6 fraction digits (sign, int part, '.', digits);
# reasoner.grammars bounds llguidance's to 16 integer and 9 fraction digits
NUMBER_BYTES = {"xgrammar": 32, "llguidance": 32}
# examples per backend x tokenizer (xgrammar compiles a maxLength string in 0.2-3 s);
# REASONER_PROPERTY_SCALE=20 runs twenty times as many
EXAMPLES = {"llguidance": 6, "xgrammar": 2, "outlines": 4}
LOOSE_EXAMPLES = {"llguidance": 2, "xgrammar": 1, "outlines": 1}
SCALE = int(os.environ.get("REASONER_PROPERTY_SCALE", "1"))
HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]


# ---- the worst-case size of an instance -------------------------------------------------


def max_bytes(schema: Any, *, number_bytes: float = math.inf, root: Any = None) -> float:
    """The most UTF-8 bytes a compact JSON instance of ``schema`` can take (``inf`` when its
    bounds do not limit it). ``number_bytes`` is the allowance for a ``type: number`` value."""
    root = schema if root is None else root

    def size(sub: Any) -> float:
        return max_bytes(sub, number_bytes=number_bytes, root=root)

    if schema is True or schema == {}:
        return math.inf
    if schema is False:
        return 0
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return size(root["$defs"][name])
    if "const" in schema:
        return _literal(schema["const"])
    if "enum" in schema:
        return max(_literal(v) for v in schema["enum"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            return max(size(branch) for branch in schema[keyword])
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types
    if not types:
        return math.inf
    return max(_typed(schema, t, size, number_bytes) for t in types)


def _literal(value: Any) -> float:
    if isinstance(value, str):
        return 2 + 12 * len(value)
    return len(json.dumps(value, ensure_ascii=False).encode())


def _typed(schema: dict[str, Any], kind: str, size: Any, number_bytes: float) -> float:
    if kind == "null":
        return 4
    if kind == "boolean":
        return 5
    if kind == "string":
        return 2 + 12 * schema["maxLength"] if "maxLength" in schema else math.inf
    if kind == "integer":
        if "minimum" not in schema or "maximum" not in schema:
            return math.inf
        return max(len(str(schema["minimum"])), len(str(schema["maximum"])))
    if kind == "number":
        return number_bytes
    if kind == "array":
        limit = schema.get("maxItems")
        if limit is None:
            return math.inf
        prefix = schema.get("prefixItems", [])
        items = [*prefix, *[schema.get("items", True)] * max(0, limit - len(prefix))][:limit]
        return 2 + sum(size(item) for item in items) + max(0, len(items) - 1)
    if kind == "object":
        if schema.get("additionalProperties", True) is not False:
            return math.inf
        fields = schema.get("properties", {})
        return 2 + sum(_literal(key) + 1 + size(sub) for key, sub in fields.items()) + max(0, len(fields) - 1)
    raise AssertionError(f"unexpected type {kind!r}")


def test_max_bytes_bounds_known_instances() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "maxLength": 2}, "b": {"type": "array", "maxItems": 2, "items": {"enum": ["x", 10]}}},
        "additionalProperties": False,
    }
    # {"a":"..","b":[..,..]}: 2 + (14 + 1 + 26) + 1 + (14 + 1 + (2 + 14 + 14 + 1))
    assert max_bytes(schema) == 90
    assert len('{"a":"\\ud83d\\ude00\\ud83d\\ude00","b":["x","x"]}') <= 90
    assert max_bytes({"type": "integer"}) == math.inf
    assert max_bytes({"type": "number", "minimum": 0, "maximum": 1}) == math.inf


# ---- random registries ----------------------------------------------------------------

WORDS = ("query", "ticker", "limit", "city", "unit", "mode", "items", "label", "flag", "when", "values", "scale")
ODD_KEYS = ("naïve", "two words", 'quo"te', "back\\slash", "日本")
ENUM_VALUES = ("red", "blue", "MSFT", "a b", 'say "hi"', "back\\slash", "tab\there", "naïve", "中文", "😀", "")
TOOL_NAMES = ("search", "stock_price", "chart", "calculator", "convert_units", "weather", "translate", "lookup")


def _never_called(**kwargs: Any) -> Any:
    raise AssertionError("the property never runs a tool")


@dataclass(frozen=True, slots=True)
class Palette:
    """What a backend's registries may use (see the module docstring for why)."""

    integers: bool  # integers with minimum/maximum
    numbers: bool  # numbers with minimum/maximum
    escaped_keys: bool  # property names that need a JSON escape (a quote, a backslash)
    untyped_outputs: bool  # tools without an output schema (refs to them take a free path)
    non_ascii_literals: bool  # non-ASCII property names and enum values


PALETTES = {
    "llguidance": Palette(integers=True, numbers=True, escaped_keys=True, untyped_outputs=True, non_ascii_literals=True),
    "xgrammar": Palette(integers=True, numbers=True, escaped_keys=True, untyped_outputs=False, non_ascii_literals=True),
    "outlines": Palette(integers=False, numbers=False, escaped_keys=False, untyped_outputs=True, non_ascii_literals=False),
}


def _keys(draw: st.DrawFn, palette: Palette) -> list[str]:
    odd = [
        key
        for key in ODD_KEYS
        if (palette.escaped_keys or json.dumps(key, ensure_ascii=False)[1:-1] == key)
        and (palette.non_ascii_literals or key.isascii())
    ]
    pool = st.sampled_from(WORDS) | st.sampled_from(odd)
    return draw(st.lists(pool, min_size=1, max_size=3, unique=True))


@st.composite
def _scalar(draw: st.DrawFn, palette: Palette) -> dict[str, Any]:
    kinds = ["string", "boolean", "enum", "int_enum"]
    kinds += ["integer"] if palette.integers else []
    kinds += ["number"] if palette.numbers else []
    kind = draw(st.sampled_from(kinds))
    if kind == "string":
        schema: dict[str, Any] = {"type": "string", "maxLength": draw(st.integers(1, 24))}
        if draw(st.booleans()):
            schema["minLength"] = draw(st.integers(0, min(2, schema["maxLength"])))
        return schema
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "enum":
        values = [v for v in ENUM_VALUES if palette.non_ascii_literals or v.isascii()]
        return {"type": "string", "enum": draw(st.lists(st.sampled_from(values), min_size=1, max_size=4, unique=True))}
    if kind == "int_enum":
        return {"type": "integer", "enum": draw(st.lists(st.integers(-50, 5000), min_size=1, max_size=4, unique=True))}
    low = draw(st.integers(-10_000, 10_000))
    high = low + draw(st.integers(0, 100_000))
    if kind == "integer":
        return {"type": "integer", "minimum": low, "maximum": high}
    return {"type": "number", "minimum": low + draw(st.sampled_from([0, 0.25, 0.5])), "maximum": high + 0.75}


@st.composite
def _value(draw: st.DrawFn, palette: Palette, depth: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["scalar", "scalar", "array", "object"] if depth > 0 else ["scalar", "scalar", "array"]))
    if kind == "scalar":
        return draw(_scalar(palette))
    if kind == "array":
        schema = {"type": "array", "items": draw(_scalar(palette)), "maxItems": draw(st.integers(1, 3))}
        if draw(st.booleans()):
            schema["minItems"] = draw(st.integers(0, 1))
        return schema
    return draw(_object(palette, depth - 1))


@st.composite
def _object(draw: st.DrawFn, palette: Palette, depth: int) -> dict[str, Any]:
    keys = _keys(draw, palette)
    properties = {key: draw(_value(palette, depth)) for key in keys}
    required = [key for key in keys if draw(st.booleans())]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


@st.composite
def _input_schema(draw: st.DrawFn, palette: Palette) -> dict[str, Any]:
    schema = draw(_object(palette, depth=2))
    nested = [key for key, sub in schema["properties"].items() if sub.get("type") == "object"]
    if nested and draw(st.booleans()):  # a pydantic-style $defs reference, inlined by plan_schema
        key = nested[0]
        schema["$defs"] = {"Nested": schema["properties"][key]}
        schema["properties"][key] = {"$ref": "#/$defs/Nested", "description": "a nested model"}
    return schema


_OUTPUT_FIELD = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "array", "items": {"type": "number"}, "maxItems": 4},
        {"type": "object", "properties": {"close": {"type": "number"}, "ticker": {"type": "string"}}, "required": ["close"]},
    ]
)


@st.composite
def _output_schema(draw: st.DrawFn, palette: Palette) -> dict[str, Any] | None:
    if palette.untyped_outputs and draw(st.integers(0, 4)) == 0:
        return None  # refs to it take any well-formed path
    fields = draw(st.dictionaries(st.sampled_from(WORDS), _OUTPUT_FIELD, min_size=1, max_size=4))
    return {"type": "object", "properties": fields, "required": sorted(fields)}


@st.composite
def registries(draw: st.DrawFn, palette: Palette) -> ToolRegistry:
    """1-4 tools with random argument and output schemas (see the module docstring)."""
    registry = ToolRegistry()
    for name in draw(st.lists(st.sampled_from(TOOL_NAMES), min_size=1, max_size=4, unique=True)):
        registry.register(
            ToolSpec(
                name=name,
                description=f"{name} tool",
                input_schema=draw(_input_schema(palette)),
                output_schema=draw(_output_schema(palette)),
                fn=_never_called,
                is_async=False,
            )
        )
    return registry


# ---- models and decoding ----------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # A 32-wide model gains nothing from intra-op threads, and on a busy 2-core machine
    # OpenMP threads spinning against each other make every step 20x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny_llama(tokenizer: Any, name: str) -> TransformersModel:
    return random_llama(tokenizer, hidden_size=32, layers=1, heads=2, kv_heads=1, seed=0, name=name)


@pytest.fixture(scope="module", params=TOKENIZERS)
def tiny(request: pytest.FixtureRequest) -> TransformersModel:
    """A 1-layer, 32-wide random Llama around each real tokenizer (one per module)."""
    return _tiny_llama(request.getfixturevalue(request.param), f"tiny-{request.param}")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    finish_reason: str | None
    usage: Usage | None


def _decode(model: TransformersModel, schema: dict[str, Any], backend: str, seed: int, budget: int) -> Decoded:
    """One sampled generation through the model's public stream (temperature 1.0, seeded)."""

    async def run() -> Decoded:
        options = GenerateOptions(max_tokens=budget, temperature=1.0, seed=seed, grammar_backend=backend)
        parts: list[str] = []
        last: Delta | None = None
        async for delta in model.stream(PROMPT, schema=schema, options=options):
            parts.append(delta.text)
            last = delta
        assert last is not None
        return Decoded("".join(parts), last.finish_reason, last.usage)

    return anyio.run(run)


def _documented(backend: str, keyword: str | None) -> bool:
    """Whether ``backend`` documents ``keyword`` as not (or not always) enforced."""
    supported = supported_keywords(backend)
    return keyword is not None and (keyword not in supported or bool(supported[keyword]))


class Outcomes(Counter[str]):
    def line(self, title: str) -> str:
        return f"{title}: " + ", ".join(f"{k}={v}" for k, v in sorted(self.items()))


def _property(model: TransformersModel, backend: str, examples: int, *, strict: bool) -> Outcomes:
    """Decode plans for ``examples`` random registries; every outcome is a valid plan or a
    documented refusal (anything else fails here). Returns the tally."""
    outcomes = Outcomes()
    number_bytes = NUMBER_BYTES.get(backend, math.inf)

    # no shrinking: each step recompiles a grammar, and a registry is small enough to read
    @settings(max_examples=examples, deadline=None, suppress_health_check=HEALTH, database=None, phases=[Phase.generate])
    @given(registry=registries(PALETTES[backend]), seed=st.integers(0, 2**31 - 1))
    def prop(registry: ToolRegistry, seed: int) -> None:
        note(json.dumps([[s.name, s.input_schema, s.output_schema] for s in registry], ensure_ascii=False))
        schema = plan_schema(registry, strict=strict, **BOUNDS)
        try:
            compile_json_schema(schema, model.tokenizer, backend=backend)
        except GrammarError as exc:
            assert _documented(backend, exc.keyword), f"{backend} refused a keyword it lists as enforced: {exc}"
            outcomes[f"refused:{exc.keyword}"] += 1
            return
        budget = max_bytes(schema, number_bytes=number_bytes)
        assert budget < math.inf, f"the plan schema does not bound its instances: {json.dumps(schema)[:300]}"
        out = _decode(model, schema, backend, seed, int(budget))
        assert out.finish_reason == "grammar", f"ended with {out.finish_reason!r} (budget {budget:.0f}): {out.text[-160:]!r}"
        assert out.usage is not None and out.usage.completion_tokens <= budget
        jsonschema.Draft202012Validator(schema).validate(json.loads(out.text))
        if strict:
            validate(Plan.from_json(out.text), registry)
        outcomes["decoded"] += 1
        outcomes["tokens"] += out.usage.completion_tokens
        outcomes["forced"] += out.usage.forced_tokens

    prop()
    return outcomes


@pytest.mark.parametrize("backend", BACKENDS)
def test_strict_plans_decoded_by_random_models_are_valid(tiny: TransformersModel, backend: str) -> None:
    examples = EXAMPLES[backend] * SCALE
    outcomes = _property(tiny, backend, examples, strict=True)
    print(outcomes.line(f"strict schema, {backend}, {tiny.name}"))
    if backend == DEFAULT_BACKEND:  # the default compiles every plan schema
        assert outcomes["decoded"] == examples, outcomes


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_schema_plans_decoded_by_random_models_match_the_schema(tiny: TransformersModel, backend: str) -> None:
    examples = LOOSE_EXAMPLES[backend] * SCALE
    outcomes = _property(tiny, backend, examples, strict=False)
    print(outcomes.line(f"default schema, {backend}, {tiny.name}"))
    if backend == DEFAULT_BACKEND:
        assert outcomes["decoded"] == examples, outcomes


# ---- known defects, pinned (xfail strict: each starts passing when fixed) ------------------


def _tool(name: str, properties: dict[str, Any], output_schema: dict[str, Any] | None) -> ToolSpec:
    input_schema = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}
    return ToolSpec(name=name, description=name, input_schema=input_schema, output_schema=output_schema, fn=_never_called, is_async=False)


def test_llguidance_number_arguments_end_within_budget(llama3_tokenizer: Any) -> None:
    # Llama-3 has ~1,100 multi-digit number tokens and few that close a number, so a random
    # model keeps writing digits (Qwen3 and SmolLM2 split digits one by one and close sooner;
    # nothing bounds them either).
    registry = ToolRegistry.of([_tool("chart", {"value": {"type": "number", "minimum": 0, "maximum": 100}}, None)])
    schema = plan_schema(registry, strict=True, max_nodes=1, max_string=16, max_array=3)
    model = _tiny_llama(llama3_tokenizer, "tiny-llama3")
    # {"nodes":[{"id":1,"tool":"chart","args":{"value":...}}]}: 46 bytes and the number
    finishes = [_decode(model, schema, "llguidance", seed, 120).finish_reason for seed in range(8)]
    assert finishes == ["grammar"] * 8


def test_xgrammar_bounds_free_ref_paths(smollm2_tokenizer: Any) -> None:
    # refs to a tool without an output schema take {"type":"string","maxLength":16,"pattern":...};
    # xgrammar drops maxLength beside a pattern, so the support table says so and it is refused
    registry = ToolRegistry.of([_tool("fetch", {"url": {"type": "string", "maxLength": 8}}, None), _tool("show", {"text": {"type": "string", "maxLength": 8}}, None)])
    schema = plan_schema(registry, strict=True, max_nodes=2, max_string=16, max_array=3)
    path = "a" * 40
    text = f'{{"nodes":[{{"id":1,"tool":"fetch","args":{{"url":"x"}}}},{{"id":2,"tool":"show","args":{{"text":{{"$ref":1,"path":"{path}"}}}}}}]}}'
    assert not jsonschema.Draft202012Validator(schema).is_valid(json.loads(text))
    try:
        grammar = compile_json_schema(schema, smollm2_tokenizer, backend="xgrammar")
    except GrammarError as exc:  # a documented refusal is a fix too
        assert _documented("xgrammar", exc.keyword)
        return
    assert not grammar.accepts(text)


def test_outlines_compiles_non_ascii_enum_values(smollm2_tokenizer: Any) -> None:
    registry = ToolRegistry.of([_tool("react", {"emoji": {"type": "string", "enum": ["😀"]}}, None)])
    schema = plan_schema(registry, strict=True, max_nodes=1, max_string=16, max_array=3)
    try:
        grammar = compile_json_schema(schema, smollm2_tokenizer, backend="outlines")
    except GrammarError as exc:
        assert _documented("outlines", exc.keyword), str(exc)[:200]
        return
    assert grammar.accepts('{"nodes":[{"id":1,"tool":"react","args":{"emoji":"😀"}}]}')
