from __future__ import annotations

import json
from typing import Any

import pytest

import reasoner.planner
from reasoner.errors import PlanError
from reasoner.planner import Node, Plan, Ref

DESIGN_EXAMPLE = (
    '{"nodes":['
    '{"id":1,"tool":"search","args":{"query":"largest cloud providers 2024"}},'
    '{"id":2,"tool":"stock_price","args":{"ticker":"MSFT"}},'
    '{"id":3,"tool":"stock_price","args":{"ticker":"AMZN"}},'
    '{"id":4,"tool":"chart","args":{"values":[{"$ref":2,"path":"close"},{"$ref":3,"path":"close"}]}}'
    "]}"
)


def test_exported_surface_is_sorted_and_complete() -> None:
    expected = ["Node", "Plan", "PlanStreamParser", "Ref", "iter_plan_nodes", "plan_schema", "resolve_args", "validate", "validate_node"]
    assert reasoner.planner.__all__ == expected
    for name in expected:
        assert getattr(reasoner.planner, name).__module__.startswith("reasoner.planner.")


def test_design_example_round_trips_to_the_same_compact_text() -> None:
    plan = Plan.from_json(DESIGN_EXAMPLE)
    assert [node.tool for node in plan] == ["search", "stock_price", "stock_price", "chart"]
    assert plan.node(4).args == {"values": [Ref(2, "close"), Ref(3, "close")]}
    assert plan.to_json() == DESIGN_EXAMPLE
    assert Plan.from_json(plan.to_dict()) == plan
    assert list(plan.to_dict()["nodes"][0]) == ["id", "tool", "args"]


def test_from_json_accepts_whitespace_bytes_and_dicts() -> None:
    pretty = json.dumps(json.loads(DESIGN_EXAMPLE), indent=2)
    expected = Plan.from_json(DESIGN_EXAMPLE)
    assert Plan.from_json(pretty) == expected
    assert Plan.from_json(DESIGN_EXAMPLE.encode()) == expected
    assert Plan.from_json(json.loads(DESIGN_EXAMPLE)) == expected


def test_ref_without_path_means_the_whole_output_and_is_written_with_one() -> None:
    plan = Plan.from_json('{"nodes":[{"id":1,"tool":"a","args":{}},{"id":2,"tool":"b","args":{"x":{"$ref":1}}}]}')
    assert plan.node(2).args["x"] == Ref(1, "")
    assert Ref(1).segments() == ()
    assert Ref(1, "results.0.title").segments() == ("results", "0", "title")
    assert '"x":{"$ref":1,"path":""}' in plan.to_json()


def test_refs_are_found_at_any_depth_and_strings_are_never_refs() -> None:
    node = Node(5, "t", {"a": {"b": [1, {"c": Ref(2, "x")}, [Ref(4)]]}, "d": Ref(2, "y"), "s": "$1 and {\"$ref\": 3}"})
    assert node.refs() == frozenset({2, 4})
    assert Node(1, "t", {"q": "$1"}).refs() == frozenset()


def test_nested_refs_decode_from_json() -> None:
    text = '{"nodes":[{"id":1,"tool":"a","args":{}},{"id":2,"tool":"b","args":{"m":{"k":[{"$ref":1,"path":"0"}]}}}]}'
    assert Plan.from_json(text).node(2).args == {"m": {"k": [Ref(1, "0")]}}
    assert Plan.from_json(text).to_json() == text


def test_node_lookup_and_tuple_storage() -> None:
    plan = Plan(nodes=[Node(1, "a", {}), Node(2, "b", {})])  # type: ignore[arg-type]
    assert isinstance(plan.nodes, tuple)
    assert plan.node(2).tool == "b"
    assert len(plan) == 2
    with pytest.raises(KeyError, match="no node 7"):
        plan.node(7)


def test_a_replan_continues_the_numbering() -> None:
    text = '{"nodes":[{"id":4,"tool":"a","args":{"x":{"$ref":2,"path":""}}}]}'
    assert Plan.from_json(text, first_id=4).node(4).refs() == frozenset({2})
    with pytest.raises(PlanError, match="expected 1"):
        Plan.from_json(text)


def _plan(*nodes: Any) -> str:
    return json.dumps({"nodes": list(nodes)})


GOOD = {"id": 1, "tool": "a", "args": {}}
BAD_PLANS = [
    ('{"nodes":[{"id":1,"tool":"a","args":{}}', None, "the plan text is incomplete after 39 characters: expected ',' or ']' after a node"),
    ('{"nodes":[{"id":1,"tool":"a","args":{}},{"id":2,"tool":"a","args":{"x":tru}}]}', 2, "malformed JSON: Expecting value at character 31 of the node's text"),
    ('{"nodes":[{"id":1,"tool":"a","args":{}}]} x', None, "unexpected text after the end of the plan at character 42: 'x'"),
    ('{"nodes":[{"id":1,"tool":"a","args":{}}]', None, "expected '}' to close the plan"),
    (b'{"nodes":[\xff]}', None, "the plan text is not UTF-8"),
    ("[1, 2]", None, "a plan must be a JSON object"),
    ('{"steps":[]}', None, "missing key 'nodes'"),
    ('{"nodes":[{"id":1,"tool":"a","args":{}}],"plan":1}', None, "unexpected top-level key 'plan'"),
    ('{"nodes":{}}', None, "'nodes' must be an array"),
    (_plan(GOOD, 7), 2, "a node must be a JSON object"),
    (_plan({"tool": "a", "args": {}}), 1, "missing key 'id'"),
    (_plan({"id": 1, "args": {}}), 1, "missing key 'tool'"),
    (_plan({"id": 1, "tool": "a"}), 1, "missing key 'args'"),
    (_plan({"id": 1, "tool": "a", "args": {}, "deps": [2]}), 1, "unexpected key 'deps'"),
    (_plan({"id": "1", "tool": "a", "args": {}}), 1, "the id must be an integer, got \"1\""),
    (_plan({"id": True, "tool": "a", "args": {}}), 1, "the id must be an integer, got true"),
    (_plan(GOOD, {"id": 3, "tool": "a", "args": {}}), 3, "id 3 is out of order: expected 2"),
    (_plan(GOOD, GOOD), 1, "id 1 is out of order: expected 2"),
    (_plan({"id": 0, "tool": "a", "args": {}}), 0, "id 0 is out of order: expected 1"),
    (_plan({"id": 1, "tool": "", "args": {}}), 1, "'tool' must be a non-empty tool name"),
    (_plan({"id": 1, "tool": "a", "args": [1]}), 1, "'args' must be a JSON object of arguments, got an array"),
    (_plan(GOOD, {"id": 2, "tool": "a", "args": {"x": {"$ref": 1, "path": "", "as": "int"}}}), 2, "args.x: unexpected key 'as' in a ref"),
    (_plan(GOOD, {"id": 2, "tool": "a", "args": {"x": [{"$ref": "1"}]}}), 2, "args.x[0]: '$ref' must be the id of an earlier node"),
    (_plan(GOOD, {"id": 2, "tool": "a", "args": {"x": {"$ref": 0}}}), 2, "an integer >= 1), got 0"),
    (_plan(GOOD, {"id": 2, "tool": "a", "args": {"x": {"$ref": 1, "path": 3}}}), 2, "a ref's 'path' must be a string"),
]


@pytest.mark.parametrize(("text", "node_id", "problem"), BAD_PLANS)
def test_structural_errors_name_the_node_and_the_problem(text: str | bytes, node_id: int | None, problem: str) -> None:
    with pytest.raises(PlanError) as caught:
        Plan.from_json(text)
    assert caught.value.node_id == node_id
    assert problem in str(caught.value)
    if node_id is not None:
        assert str(caught.value).startswith(f"node {node_id}: ")
