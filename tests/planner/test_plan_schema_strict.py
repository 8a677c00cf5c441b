"""plan_schema(strict=True): every plan the schema (and its llguidance grammar) accepts passes validate."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner.errors import PlanError, UsageError
from reasoner.grammars import CompiledGrammar, compile_json_schema
from reasoner.kernels import allocate_token_bitmask
from reasoner.planner import Node, Plan, PlanStreamParser, plan_schema, validate
from reasoner.planner._plan import iter_refs
from reasoner.planner._refpaths import output_paths
from reasoner.tools import ToolRegistry
from reasoner.tools.demo import DEMO_EXAMPLES, demo_tools

SMALL = {"max_nodes": 4, "max_string": 24, "max_array": 3}
DEMO_TOOLS = ["search", "stock_price", "chart", "calculator", "convert_units"]


@pytest.fixture(scope="module")
def demo_registry() -> ToolRegistry:
    return ToolRegistry.of(demo_tools())


def _nodes(*tools: str) -> dict[int, Node]:
    """Finished nodes 1..n of an earlier plan (validate only reads their tools)."""
    return {i: Node(i, tool, {}) for i, tool in enumerate(tools, start=1)}


def _text(nodes: list[dict[str, Any]]) -> str:
    return json.dumps({"nodes": nodes}, separators=(",", ":"), ensure_ascii=False)


def _validates(text: str, registry: ToolRegistry, previous: Mapping[int, Node]) -> bool:
    try:
        validate(Plan.from_json(text, first_id=max(previous, default=0) + 1), registry, previous=previous)
    except PlanError:
        return False
    return True


def _refs(schema: Any) -> list[dict[str, Any]]:
    """Every ref alternative (an object schema with a "$ref" property) in ``schema``, $defs followed."""
    defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    found: list[dict[str, Any]] = []

    def walk(sub: Any, seen: frozenset[str]) -> None:
        if isinstance(sub, list):
            for item in sub:
                walk(item, seen)
        elif isinstance(sub, dict):
            pointer = sub.get("$ref")
            if isinstance(pointer, str) and pointer not in seen:
                walk(defs[pointer.removeprefix("#/$defs/")], seen | {pointer})
            if {"$ref", "path"} <= sub.get("properties", {}).keys():
                found.append(sub)
            for key, value in sub.items():
                if key != "$defs":
                    walk(value, seen)

    walk(schema, frozenset())
    return found


# ---- the layout --------------------------------------------------------------------


def test_each_position_has_its_own_id_and_only_backward_refs(registry: ToolRegistry) -> None:
    schema = plan_schema(registry, strict=True, max_nodes=5, unknown_tool_paths="union")
    nodes = schema["properties"]["nodes"]
    assert (nodes["minItems"], nodes["maxItems"], nodes["items"]) == (0, 5, False)
    positions = nodes["prefixItems"]
    assert len(positions) == 5
    for k, position in enumerate(positions):
        branches = position["oneOf"]
        assert [b["properties"]["tool"] for b in branches] == [{"const": spec.name} for spec in registry]
        assert {json.dumps(b["properties"]["id"]) for b in branches} == {json.dumps({"const": k + 1})}
        targets = [ref["properties"]["$ref"] for ref in _refs({**position, "$defs": schema["$defs"]})]
        if k == 0:
            assert targets == []  # nothing earlier to ref: no ref alternative at all
        else:
            assert targets and all(t == ({"const": 1} if k == 1 else {"type": "integer", "minimum": 1, "maximum": k}) for t in targets)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_default_schema_is_unchanged_and_previous_only_moves_the_first_id(registry: ToolRegistry) -> None:
    loose = plan_schema(registry, max_nodes=4)
    assert "items" in loose["properties"]["nodes"] and "$defs" not in loose
    replan = plan_schema(registry, max_nodes=4, previous=_nodes("search", "calculator"))
    assert replan == plan_schema(registry, max_nodes=4, first_id=3)


def test_output_paths_are_the_walkable_ones_with_their_types(registry: ToolRegistry) -> None:
    paths = {p.path: p.types for p in output_paths(registry["search"].output_schema)}
    assert paths[""] == {"array"}
    assert paths["0"] == {"object"} and paths["7.score"] == {"number"} and paths["3.tickers.7"] == {"string"}
    assert "8" not in paths and "0.tickers.8" not in paths  # indices stop at min(maxItems, 8)
    assert "title" not in paths and "0.nope" not in paths
    price = {p.path for p in output_paths(registry["stock_price"].output_schema)}
    assert price == {"", "ticker", "close", "currency", "date", "volume"}
    assert [p.path for p in output_paths(registry["calculator"].output_schema)] == [""]


# ---- bad plans the default schema let through --------------------------------------

CHART_OF = {"tool": "chart", "args": {"values": [{"$ref": 1, "path": "close"}]}}
BAD_PLANS: dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]] = {
    # (tools of the previous nodes, the new nodes)
    "self-ref": ((), [{"id": 1, "tool": "stock_price", "args": {"ticker": {"$ref": 1, "path": "ticker.0"}}}]),
    "self-ref, whole output": ((), [{"id": 1, "tool": "echo", "args": {"value": {"$ref": 1, "path": ""}}}]),
    "forward ref": ((), [
        {"id": 1, "tool": "chart", "args": {"values": [{"$ref": 2, "path": ""}]}},
        {"id": 2, "tool": "calculator", "args": {"expression": "1+1"}},
    ]),
    "wrong first id": ((), [{"id": 2, "tool": "calculator", "args": {"expression": "1"}}]),
    "skipped id": ((), [
        {"id": 1, "tool": "calculator", "args": {"expression": "1"}},
        {"id": 3, "tool": "calculator", "args": {"expression": "2"}},
    ]),
    "replan skips an id": (("stock_price",), [{"id": 3, "tool": "calculator", "args": {"expression": "1"}}]),
    "non-existent path": (("stock_price",), [{"id": 2, "tool": "chart", "args": {"values": [{"$ref": 1, "path": "price"}]}}]),
    "non-existent index": (("search",), [{"id": 2, "tool": "stock_price", "args": {"ticker": {"$ref": 1, "path": "0.tickers.x"}}}]),
    "string path where a number is required": (("stock_price",), [{"id": 2, "tool": "chart", "args": {"values": [{"$ref": 1, "path": "currency"}]}}]),
    "number path where a string is required": (("stock_price",), [{"id": 2, "tool": "stock_price", "args": {"ticker": {"$ref": 1, "path": "close"}}}]),
    "path of another previous tool": (("stock_price", "calculator"), [{"id": 3, "tool": "chart", "args": {"values": [{"$ref": 2, "path": "close"}]}}]),
    "a \"$ref\" key in a free-form object": ((), [{"id": 1, "tool": "echo", "args": {"value": 1, "extra": {"$ref": "x", "k": 1}}}]),
    "malformed path to an unchecked tool": (("echo",), [{"id": 2, "tool": "echo", "args": {"value": {"$ref": 1, "path": "a..b"}}}]),
}
GOOD_PLANS: dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]] = {
    "first plan": ((), [{"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT"}}]),
    "number path": (("stock_price",), [{"id": 2, **CHART_OF}]),
    "nested index path": (("search",), [{"id": 2, "tool": "stock_price", "args": {"ticker": {"$ref": 1, "path": "0.tickers.3"}}}]),
    "path of the right previous tool": (("stock_price", "calculator"), [{"id": 3, "tool": "chart", "args": {"values": [{"$ref": 1, "path": "close"}, {"$ref": 2, "path": ""}]}}]),
    "whole output into an untyped argument": ((), [
        {"id": 1, "tool": "calculator", "args": {"expression": "6*7"}},
        {"id": 2, "tool": "echo", "args": {"value": {"$ref": 1, "path": ""}}},
    ]),
    "any path of a tool no longer registered": (("retired",), [{"id": 2, "tool": "echo", "args": {"value": {"$ref": 1, "path": "x.0"}}}]),
    "any path of an unchecked tool": (("echo",), [{"id": 2, "tool": "chart", "args": {"values": [], "title": {"$ref": 1, "path": "a.b.0"}}}]),
}


@pytest.mark.parametrize("case", list(BAD_PLANS))
def test_strict_rejects_the_bad_plans_the_default_schema_accepts(registry: ToolRegistry, smollm2_tokenizer: Any, case: str) -> None:
    tools, nodes = BAD_PLANS[case]
    previous = _nodes(*tools)
    first_id = len(tools) + 1
    text = _text(nodes)
    loose = plan_schema(registry, max_nodes=8, first_id=first_id)
    assert jsonschema.Draft202012Validator(loose).is_valid(json.loads(text)), "the default schema lets it through"
    assert not _validates(text, registry, previous)
    strict = plan_schema(registry, max_nodes=8, strict=True, previous=previous)
    assert not jsonschema.Draft202012Validator(strict).is_valid(json.loads(text))
    assert not compile_json_schema(strict, smollm2_tokenizer).accepts(text)


@pytest.mark.parametrize("case", list(GOOD_PLANS))
def test_strict_accepts_plans_with_fitting_refs(registry: ToolRegistry, smollm2_tokenizer: Any, case: str) -> None:
    tools, nodes = GOOD_PLANS[case]
    previous = _nodes(*tools)
    text = _text(nodes)
    assert _validates(text, registry, previous)
    strict = plan_schema(registry, max_nodes=8, strict=True, previous=previous)
    jsonschema.validate(json.loads(text), strict, cls=jsonschema.Draft202012Validator)
    assert compile_json_schema(strict, smollm2_tokenizer).accepts(text)


def test_refs_to_this_plan_take_paths_every_tool_has_or_with_union_some_tool_has(registry: ToolRegistry) -> None:
    # node 1's tool is not known when the schema is built: "close" exists only in stock_price's output
    plan = [{"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT"}}, {"id": 2, **CHART_OF}]
    wrong_tool = [{"id": 1, "tool": "calculator", "args": {"expression": "1"}}, {"id": 2, **CHART_OF}]
    intersection = jsonschema.Draft202012Validator(plan_schema(registry, max_nodes=4, strict=True))
    union = jsonschema.Draft202012Validator(plan_schema(registry, max_nodes=4, strict=True, unknown_tool_paths="union"))
    assert not intersection.is_valid({"nodes": plan}) and not intersection.is_valid({"nodes": wrong_tool})
    assert union.is_valid({"nodes": plan}) and union.is_valid({"nodes": wrong_tool})
    assert not _validates(_text(wrong_tool), registry, {})  # what "union" gives up
    # once node 1 is decoded, its tool is known and its paths are exact
    narrowed = jsonschema.Draft202012Validator(plan_schema(registry, max_nodes=4, strict=True, decoded=["stock_price"]))
    assert narrowed.is_valid({"nodes": plan})
    assert not jsonschema.Draft202012Validator(plan_schema(registry, max_nodes=4, strict=True, decoded=["calculator"])).is_valid({"nodes": plan})


def test_lookahead_keeps_the_decoded_positions_and_the_next_ones(registry: ToolRegistry) -> None:
    schema = plan_schema(registry, strict=True, max_nodes=16, decoded=["search", "calculator"], lookahead=2)
    nodes = schema["properties"]["nodes"]
    assert len(nodes["prefixItems"]) == nodes["maxItems"] == 4
    assert [p["properties"]["tool"] for p in nodes["prefixItems"][:2]] == [{"const": "search"}, {"const": "calculator"}]
    assert all(len(p["oneOf"]) == len(registry) for p in nodes["prefixItems"][2:])
    near_the_end = plan_schema(registry, strict=True, max_nodes=3, decoded=["search", "calculator"], lookahead=2)
    assert near_the_end["properties"]["nodes"]["maxItems"] == 3


@pytest.mark.parametrize("example", range(len(DEMO_EXAMPLES)))
def test_the_demo_examples_fit_union_and_renarrowed_schemas(demo_registry: ToolRegistry, smollm2_tokenizer: Any, example: int) -> None:
    text = DEMO_EXAMPLES[example][1]
    plan = Plan.from_json(text)
    validate(plan, demo_registry)
    chained = any(ref.node >= 1 for node in plan for _, ref in iter_refs(node.args))
    union = plan_schema(demo_registry, max_nodes=16, max_string=96, strict=True, unknown_tool_paths="union")
    assert compile_json_schema(union, smollm2_tokenizer).accepts(text)
    # a single strict schema cannot know node 2's tool: refs inside the plan need a rebuild as nodes close
    intersection = plan_schema(demo_registry, max_nodes=16, max_string=96, strict=True)
    assert jsonschema.Draft202012Validator(intersection).is_valid(json.loads(text)) is not chained
    # rebuilt as each node closes, the schema takes node k+1 with exact refs to nodes 1..k
    for k in range(len(plan)):
        decoded = [node.tool for node in plan.nodes[:k]]
        renarrowed = plan_schema(demo_registry, max_nodes=16, max_string=96, strict=True, decoded=decoded, lookahead=2)
        matcher = compile_json_schema(renarrowed, smollm2_tokenizer).matcher()
        prefix = Plan(plan.nodes[: k + 1]).to_json()[:-2]  # through node k+1's closing brace
        assert text.startswith(prefix)
        for token in smollm2_tokenizer.encode(prefix, add_special_tokens=False):
            matcher.advance(token)  # raises GrammarError if the grammar refuses it
    final = plan_schema(demo_registry, max_nodes=16, max_string=96, strict=True, decoded=[node.tool for node in plan], lookahead=2)
    assert compile_json_schema(final, smollm2_tokenizer).accepts(text)


def test_a_position_without_any_fitting_path_has_no_ref_alternative(registry: ToolRegistry) -> None:
    # chart's output is a string: no number position can ref it, a string position can
    schema = plan_schema(registry, max_nodes=2, strict=True, previous=_nodes("chart"))
    chart_at_2 = next(b for b in schema["properties"]["nodes"]["prefixItems"][0]["oneOf"] if b["properties"]["tool"] == {"const": "chart"})
    chart_at_2 = {**chart_at_2, "$defs": schema.get("$defs", {})}
    paths = {json.dumps(ref["properties"]["path"]) for ref in _refs(chart_at_2)}
    assert len(paths) == 1  # only the string positions (title, style.color) ref node 1, with path ""
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"nodes": [{"id": 2, "tool": "chart", "args": {"values": [], "title": {"$ref": 1, "path": ""}}}]})
    assert not validator.is_valid({"nodes": [{"id": 2, "tool": "chart", "args": {"values": [{"$ref": 1, "path": ""}]}}]})


SOME: Any = "some"  # not a choice (typed Any to get past the type checker)


def test_strict_usage_errors(registry: ToolRegistry) -> None:
    with pytest.raises(UsageError, match="starts at id 3"):
        plan_schema(registry, strict=True, previous=_nodes("search", "echo"), first_id=5)
    with pytest.raises(UsageError, match="starts at id 1"):
        plan_schema(registry, strict=True, first_id=4)
    with pytest.raises(UsageError, match="'nope' is not a registered tool"):
        plan_schema(registry, strict=True, decoded=["search", "nope"])
    with pytest.raises(UsageError, match="pass strict=True"):
        plan_schema(registry, decoded=["search"])
    with pytest.raises(UsageError, match="lookahead=0"):
        plan_schema(registry, strict=True, lookahead=0)
    with pytest.raises(UsageError, match="choose 'intersection' or 'union'"):
        plan_schema(registry, strict=True, unknown_tool_paths=SOME)


# ---- accepted implies valid (and valid refs to known tools are accepted) ------------


def _mutate(draw: st.DrawFn, nodes: list[dict[str, Any]], first_id: int) -> None:
    """One random edit that may or may not break the plan."""
    refs = [(node, where) for node in nodes for where, _ in iter_refs(Node.from_dict(node).args)]
    kind = draw(st.sampled_from(["target", "path", "id"] if refs else ["id"]))
    if kind == "id":
        node = draw(st.sampled_from(nodes))
        node["id"] = draw(st.integers(0, first_id + len(nodes) + 1))
        return
    node, where = draw(st.sampled_from(refs))
    holder: Any = node["args"]
    for key in where[:-1]:
        holder = holder[key]
    ref = holder[where[-1]]
    if kind == "target":
        ref["$ref"] = draw(st.integers(0, first_id + len(nodes)))
    else:
        ref["path"] = draw(st.sampled_from(["", "close", "currency", "0.title", "0.score", "3.tickers.1", "0", "a..b", "volume", "8.title"]))


def _completeness_applies(plan: Plan, first_id: int) -> bool:
    """Refs that the strict schema must accept: to previous nodes, with paths it enumerates."""
    for node in plan:
        for _, ref in iter_refs(node.args):
            segments = ref.segments()
            if ref.node >= first_id or len(segments) > 4 or any(s.isdigit() and int(s) >= 8 for s in segments):
                return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_plans_the_strict_schema_accepts_pass_validate(
    registry: ToolRegistry, valid_plans: st.SearchStrategy[Plan], smollm2_tokenizer: Any, data: st.DataObject
) -> None:
    whole = data.draw(valid_plans)
    split = data.draw(st.integers(0, len(whole) - 1))
    previous = {node.id: node for node in whole.nodes[:split]}
    nodes = [node.to_dict() for node in whole.nodes[split:]]
    mutated = data.draw(st.booleans())
    if mutated:
        data.draw(st.composite(lambda draw: _mutate(draw, nodes, split + 1))())
    text = _text(nodes)
    schema = plan_schema(registry, max_nodes=8, strict=True, previous=previous)
    by_schema = jsonschema.Draft202012Validator(schema).is_valid(json.loads(text))
    encodable = text.encode("utf-8", errors="ignore").decode("utf-8") == text  # a lone surrogate is no model's output
    by_grammar = encodable and compile_json_schema(schema, smollm2_tokenizer).accepts(text)
    valid = _validates(text, registry, previous)
    assert not by_schema or valid, f"the strict schema accepts an invalid plan: {text}"
    assert not by_grammar or valid, f"the strict grammar accepts an invalid plan: {text}"
    if not mutated and _completeness_applies(Plan.from_json(text, first_id=split + 1), split + 1):
        assert by_schema, f"the strict schema refuses a valid plan: {text}"


# ---- random walks through the grammar -----------------------------------------------

_STRUCTURAL = frozenset('{}[]",:-0123456789tfn')
_CLOSING = frozenset('"}]')


class _Walker:
    """Random decoding under a grammar: uniform over tokens, or over the first characters of structural tokens."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        self.tokenizer = tokenizer
        texts = [tokenizer.decode([i]) for i in range(vocab_size)]
        first = [t[0] if t else "" for t in texts]
        self.first = np.array([ord(c) if c else -1 for c in first])
        self.structural = np.array([c in _STRUCTURAL for c in first])
        self.closing = np.array([c in _CLOSING for c in first])
        self.eos = tokenizer.eos_token_id

    def step(self, matcher: Any, mask: Any, rng: random.Random, late: bool) -> int:
        matcher.fill_bitmask(mask)
        bits = np.unpackbits(mask.numpy().view(np.uint8), bitorder="little")[: len(self.first)]
        allowed = np.flatnonzero(bits)
        allowed = allowed[allowed != self.eos]
        assert allowed.size, "the grammar allows no token before the plan is complete"
        pool = allowed
        if late and self.closing[allowed].any():
            pool = allowed[self.closing[allowed]]
        elif late or rng.random() < 0.7:
            pool = allowed[self.structural[allowed]] if self.structural[allowed].any() else allowed
        firsts = sorted(set(self.first[pool].tolist()))
        chosen = rng.choice(firsts)
        candidates = pool[self.first[pool] == chosen].tolist()
        return int(rng.choice(candidates))

    def walk(self, grammar: Callable[[Sequence[int]], tuple[Any, Any]], rng: random.Random, budget: int = 600) -> str:
        """Decode one instance; ``grammar(tokens)`` gives (matcher, mask) positioned after ``tokens``."""
        tokens: list[int] = []
        matcher, mask = grammar(tokens)
        while not matcher.is_accepting():
            assert len(tokens) < 3 * budget, "the walk did not terminate"
            forced = matcher.forced_tokens()
            for token in forced or [self.step(matcher, mask, rng, late=len(tokens) > budget)]:
                matcher.advance(token)
                tokens.append(token)
            matcher, mask = grammar(tokens)
        return str(self.tokenizer.decode(tokens))


@pytest.fixture(scope="module")
def walker(smollm2_tokenizer: Any) -> _Walker:
    return _Walker(smollm2_tokenizer, len(smollm2_tokenizer))


def _fixed(grammar: CompiledGrammar) -> Callable[[Sequence[int]], tuple[Any, Any]]:
    state: list[Any] = []

    def positioned(tokens: Sequence[int]) -> tuple[Any, Any]:
        if not state:
            state.extend([grammar.matcher(), allocate_token_bitmask(grammar.vocab_size)])
        return state[0], state[1]

    return positioned


def _renarrowing(registry: ToolRegistry, tokenizer: Any, previous: Mapping[int, Node]) -> tuple[Callable[[Sequence[int]], tuple[Any, Any]], list[int]]:
    """A decoder that rebuilds the strict schema with ``decoded=`` (and ``lookahead=2``) as each node closes and replays its tokens."""
    parser = PlanStreamParser(previous=previous)
    decoded: list[str] = []
    replays = [0]
    state: dict[str, Any] = {"text": ""}

    def positioned(tokens: Sequence[int]) -> tuple[Any, Any]:
        text = tokenizer.decode(list(tokens))
        closed = [] if text.endswith("\ufffd") else parser.feed(text[len(state["text"]):])
        if not text.endswith("\ufffd"):
            state["text"] = text
        if closed or "matcher" not in state:
            decoded.extend(node.tool for node in closed)
            schema = plan_schema(registry, strict=True, previous=previous, decoded=decoded, lookahead=2, **SMALL)
            grammar = compile_json_schema(schema, tokenizer)
            matcher = grammar.matcher()
            for token in tokens:  # never raises: each rebuild keeps the language of the decoded nodes
                matcher.advance(token)
            replays[0] += bool(tokens)
            state["matcher"], state["mask"] = matcher, allocate_token_bitmask(grammar.vocab_size)
        return state["matcher"], state["mask"]

    return positioned, replays


PREVIOUS_TOOLS = st.lists(st.sampled_from(DEMO_TOOLS), max_size=3)
SEEDS = st.integers(0, 2**32 - 1)  # a seeded walk explores more than hypothesis' own (shrink-friendly) choices


def test_random_walks_through_the_strict_grammar_give_valid_plans(demo_registry: ToolRegistry, smollm2_tokenizer: Any, walker: _Walker) -> None:
    seen = {"previous refs": 0, "plans": 0}

    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(tools=PREVIOUS_TOOLS, seed=SEEDS)
    def walk(tools: list[str], seed: int) -> None:
        rng = random.Random(seed)
        previous = _nodes(*tools)
        grammar = compile_json_schema(plan_schema(demo_registry, strict=True, previous=previous, **SMALL), smollm2_tokenizer)
        text = walker.walk(_fixed(grammar), rng)
        plan = Plan.from_json(text, first_id=len(tools) + 1)
        validate(plan, demo_registry, previous=previous)
        seen["plans"] += 1
        seen["previous refs"] += sum(1 for node in plan for _, ref in iter_refs(node.args) if ref.node in previous)

    walk()
    assert seen["plans"] >= 40 and seen["previous refs"] > 0, seen


def test_random_walks_with_renarrowing_give_valid_plans_with_refs_inside_the_plan(demo_registry: ToolRegistry, smollm2_tokenizer: Any, walker: _Walker) -> None:
    seen = {"in-plan refs": 0, "replays": 0}

    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(tools=PREVIOUS_TOOLS, seed=SEEDS)
    def walk(tools: list[str], seed: int) -> None:
        rng = random.Random(seed)
        previous = _nodes(*tools)
        positioned, replays = _renarrowing(demo_registry, smollm2_tokenizer, previous)
        text = walker.walk(positioned, rng)
        plan = Plan.from_json(text, first_id=len(tools) + 1)
        validate(plan, demo_registry, previous=previous)
        seen["replays"] += replays[0]
        seen["in-plan refs"] += sum(1 for node in plan for _, ref in iter_refs(node.args) if ref.node not in previous)

    walk()
    assert seen["replays"] > 0 and seen["in-plan refs"] > 0, seen


def test_union_walks_only_fail_validate_on_paths_of_another_tool(demo_registry: ToolRegistry, smollm2_tokenizer: Any, walker: _Walker) -> None:
    schema = plan_schema(demo_registry, strict=True, unknown_tool_paths="union", **SMALL)
    grammar = compile_json_schema(schema, smollm2_tokenizer)
    outcomes = {"valid": 0, "path of another tool": 0}
    for seed in range(15):
        text = walker.walk(_fixed(grammar), random.Random(seed))
        plan = Plan.from_json(text)
        try:
            validate(plan, demo_registry)
            outcomes["valid"] += 1
        except PlanError as exc:
            # ids, targets and argument types are right; only the producer's output may lack the path
            assert "has no" in str(exc) or "gives" in str(exc), str(exc)
            outcomes["path of another tool"] += 1
        assert all(ref.node < node.id for node in plan for _, ref in iter_refs(node.args)), text
    assert outcomes["valid"] > 0, outcomes

