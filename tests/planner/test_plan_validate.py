from __future__ import annotations

import json
from typing import Any

import pytest

from reasoner.errors import PlanError
from reasoner.planner import Node, Plan, Ref, resolve_args, validate, validate_node
from reasoner.tools import ToolRegistry

SEARCH = {"id": 1, "tool": "search", "args": {"query": "cloud providers"}}
PRICE = {"id": 2, "tool": "stock_price", "args": {"ticker": "MSFT"}}
CALC = {"id": 3, "tool": "calculator", "args": {"expression": "1+1"}}
ECHO = {"id": 4, "tool": "echo", "args": {"value": None}}


def _plan(*last: dict[str, Any]) -> Plan:
    """The four nodes above, then ``last`` (ids 5, 6, ...)."""
    nodes = [SEARCH, PRICE, CALC, ECHO]
    nodes += [{"id": 5 + i, **node} for i, node in enumerate(last)]
    return Plan.from_json({"nodes": nodes})


def _ref(node: int, path: str = "") -> dict[str, Any]:
    return {"$ref": node, "path": path}


def test_a_plan_with_fitting_refs_passes_without_running_anything(registry: ToolRegistry, tool_calls: list[str]) -> None:
    plan = _plan(
        {"tool": "stock_price", "args": {"ticker": _ref(1, "3.tickers.0")}},
        {"tool": "chart", "args": {"values": [_ref(2, "close"), _ref(3), _ref(2, "volume")], "title": _ref(1, "0.title"),
                                   "style": {"color": _ref(2, "currency"), "width": _ref(3)}}},
        {"tool": "echo", "args": {"value": [_ref(4, "anything.at.all"), _ref(1)], "extra": {"k": _ref(6)}}},
        {"tool": "calculator", "args": {"expression": _ref(6)}},
    )
    validate(plan, registry)
    assert tool_calls == []


CASES = [
    ({"tool": "stonks", "args": {}}, "unknown tool 'stonks'; the tools are: search, stock_price, chart, echo, calculator"),
    ({"tool": "stock_price", "args": {"ticker": 5}}, "wrong arguments for tool 'stock_price': argument ticker: 5 is not of type 'string'"),
    ({"tool": "stock_price", "args": {}}, "wrong arguments for tool 'stock_price': arguments: 'ticker' is a required property"),
    ({"tool": "stock_price", "args": {"ticker": "A", "date": "x"}}, "arguments: Additional properties are not allowed ('date' was unexpected)"),
    ({"tool": "search", "args": {"query": "q", "k": 0}}, "argument k: 0 is less than the minimum of 1"),
    ({"tool": "chart", "args": {"values": [1, "2"]}}, "argument values[1]: '2' is not of type 'number'"),
    ({"tool": "chart", "args": {"values": [], "style": {"color": "green"}}}, "argument style.color: 'green' is not one of ['red', 'blue']"),
    ({"tool": "chart", "args": {"values": [], "style": {"color": _ref(2, "currency"), "dash": 1}}}, "argument style: Additional properties are not allowed"),
    ({"tool": "echo", "args": {"value": _ref(9)}}, "argument value: ref to node 9 points forward; a ref may only point to an earlier node (below 5)"),
    ({"tool": "echo", "args": {"value": {"a": [_ref(5)]}}}, "argument value.a[0]: ref to node 5 points to the node itself"),
    ({"tool": "echo", "args": {"value": _ref(2, "closing")}}, "argument value: ref to node 2 path 'closing': the output of tool 'stock_price' has no 'closing' at the top (fields there: ticker, close, currency, date, volume)"),
    ({"tool": "echo", "args": {"value": _ref(2, "close.usd")}}, "path 'close.usd': the output of tool 'stock_price' has no 'usd' under 'close' (the value there is number)"),
    ({"tool": "echo", "args": {"value": _ref(1, "0.author")}}, "has no 'author' under '0' (fields there: title, score, tickers)"),
    ({"tool": "echo", "args": {"value": _ref(1, "title")}}, "path 'title': the output of tool 'search' has no 'title' at the top (the value there is array)"),
    ({"tool": "echo", "args": {"value": _ref(1, "10.title")}}, "has no '10' at the top"),  # search declares maxItems 10
    ({"tool": "echo", "args": {"value": _ref(3, "0")}}, "has no '0' at the top (the value there is number)"),
    ({"tool": "echo", "args": {"value": _ref(1, "0..title")}}, "ref path '0..title' is malformed"),
    ({"tool": "chart", "args": {"values": [_ref(2, "ticker")]}}, "argument values[0]: ref to node 2 path 'ticker' gives string, but tool 'chart' takes number there"),
    ({"tool": "chart", "args": {"values": _ref(2)}}, "argument values: ref to node 2 path '' gives object, but tool 'chart' takes array there"),
    ({"tool": "calculator", "args": {"expression": _ref(1, "0.score")}}, "gives number, but tool 'calculator' takes string there"),
    ({"tool": "chart", "args": {"values": [], "style": {"color": _ref(3)}}}, "argument style.color: ref to node 3 path '' gives number, but tool 'chart' takes string there"),
    ({"tool": "chart", "args": {"values": [], "title": _ref(1, "0.tickers")}}, "gives array, but tool 'chart' takes string there"),
]


@pytest.mark.parametrize(("node", "problem"), CASES)
def test_each_problem_is_a_plan_error_naming_the_node(registry: ToolRegistry, tool_calls: list[str], node: dict[str, Any], problem: str) -> None:
    with pytest.raises(PlanError) as caught:
        validate(_plan(node, {"tool": "calculator", "args": {"expression": "1"}}), registry)
    assert caught.value.node_id == 5
    assert str(caught.value).startswith("node 5: ")
    assert problem in str(caught.value)
    assert tool_calls == []


def test_ids_are_checked_for_plans_built_in_code(registry: ToolRegistry) -> None:
    calc = {"expression": "1"}
    with pytest.raises(PlanError, match="node 2: id 2 is out of order: expected 1"):
        validate(Plan((Node(2, "calculator", calc),)), registry)
    with pytest.raises(PlanError, match="node 1: duplicate id 1"):
        validate(Plan((Node(1, "calculator", calc), Node(1, "calculator", calc))), registry)
    with pytest.raises(PlanError, match="node 3: id 3 is out of order: expected 2"):
        validate(Plan((Node(1, "calculator", calc), Node(3, "calculator", calc))), registry)
    validate(Plan(()), registry)  # an empty plan: no tool applies
    with pytest.raises(PlanError, match="node 2: argument expression: ref to node 0, which does not exist"):
        validate(Plan((Node(1, "calculator", calc), Node(2, "calculator", {"expression": Ref(0)}))), registry)


def test_a_replan_continues_after_the_finished_nodes_and_may_ref_them(registry: ToolRegistry) -> None:
    first = _plan()
    replan = Plan.from_json('{"nodes":[{"id":5,"tool":"chart","args":{"values":[{"$ref":2,"path":"close"}]}}]}', first_id=5)
    validate(replan, registry, previous={node.id: node for node in first})
    with pytest.raises(PlanError, match="node 5: id 5 is out of order: expected 1"):
        validate(replan, registry)
    wrong = Plan.from_json('{"nodes":[{"id":5,"tool":"chart","args":{"values":[{"$ref":2,"path":"ticker"}]}}]}', first_id=5)
    with pytest.raises(PlanError, match="node 5: .*gives string"):
        validate(wrong, registry, previous={node.id: node for node in first})


def test_validate_node_checks_one_node_against_the_ones_before(registry: ToolRegistry) -> None:
    previous = {node.id: node for node in _plan()}
    validate_node(Node(5, "chart", {"values": [Ref(2, "close")]}), previous, registry)
    with pytest.raises(PlanError, match="node 5: argument values\\[0\\]: ref to node 2 path 'date' gives string"):
        validate_node(Node(5, "chart", {"values": [Ref(2, "date")]}), previous, registry)
    with pytest.raises(PlanError, match="node 4: duplicate id 4"):
        validate_node(Node(4, "calculator", {"expression": "1"}), previous, registry)


def test_refs_into_outputs_with_anyof_and_defs_follow_every_branch(registry: ToolRegistry) -> None:
    # volume is integer-or-null; integer fits a number parameter
    validate(_plan({"tool": "chart", "args": {"values": [_ref(2, "volume")]}}), registry)
    # search's output items are a $defs reference
    validate(_plan({"tool": "chart", "args": {"values": [_ref(1, "9.score")]}}), registry)


def test_resolve_args_substitutes_refs_at_any_depth() -> None:
    outputs = {1: [{"title": "AWS", "tickers": ["AMZN"]}], 2: {"close": 187.5}, 3: 42}
    args = {"values": [Ref(2, "close"), Ref(3), 1], "meta": {"who": Ref(1, "0.tickers.0"), "all": Ref(1)}, "s": "$1"}
    assert resolve_args(args, outputs, 4) == {
        "values": [187.5, 42, 1],
        "meta": {"who": "AMZN", "all": [{"title": "AWS", "tickers": ["AMZN"]}]},
        "s": "$1",
    }


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        (Ref(2, "open"), "node 4: ref to node 2 path 'open': the output has no 'open' at run time (its keys are close)"),
        (Ref(1, "3.title"), "node 4: ref to node 1 path '3.title': the output has no '3' at run time (it is a list of 1 items)"),
        (Ref(1, "0.tickers.x"), "path '0.tickers.x': 0.tickers has no 'x' at run time (it is a list of 1 items)"),
        (Ref(3, "value"), "node 4: ref to node 3 path 'value': the output has no 'value' at run time (it is 42)"),
        (Ref(9), "node 4: ref to node 9: that node has no output"),
    ],
)
def test_resolve_args_names_the_node_ref_and_path_when_a_value_is_missing(ref: Ref, problem: str) -> None:
    outputs = {1: [{"title": "AWS", "tickers": ["AMZN"]}], 2: {"close": 187.5}, 3: 42}
    with pytest.raises(PlanError) as caught:
        resolve_args({"x": {"y": [ref]}}, outputs, 4)
    assert caught.value.node_id == 4
    assert problem in str(caught.value)


def test_plan_errors_render_as_json_friendly_text(registry: ToolRegistry) -> None:
    with pytest.raises(PlanError) as caught:
        validate(_plan({"tool": "stock_price", "args": {"ticker": "x" * 500}}), registry)
    message = str(caught.value)
    assert "is too long" in message and len(message) < 400
    json.dumps(message)
