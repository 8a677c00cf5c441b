"""Eval metrics: pure functions scoring a plan and an answer against a dataset item."""

from __future__ import annotations

import json

import pytest

from reasoner.evals._metrics import (
    ItemScore,
    answer_accuracy,
    argument_accuracy,
    numbers_in,
    plan_valid,
    score_item,
    tool_selection,
)

PLAN = {
    "nodes": [
        {"id": 1, "tool": "search", "args": {"query": "largest cloud providers"}},
        {"id": 2, "tool": "stock_price", "args": {"ticker": "MSFT"}},
        {"id": 3, "tool": "stock_price", "args": {"ticker": "AMZN", "date": "2024-12-06"}},
        {"id": 4, "tool": "chart", "args": {"values": [{"$ref": 2, "path": "close"}, {"$ref": 3, "path": "close"}]}},
    ]
}


def test_a_well_formed_plan_is_valid_as_a_dict_or_as_json_text() -> None:
    assert plan_valid(PLAN)
    assert plan_valid(json.dumps(PLAN))
    assert plan_valid(PLAN, tools={"search", "stock_price", "chart"})
    assert plan_valid({"nodes": []})  # no tool applies: well formed (and scored by tool selection)


@pytest.mark.parametrize(
    "plan",
    [
        None,
        "",
        "{not json",
        {"steps": []},
        {"nodes": [{"id": 2, "tool": "search", "args": {}}]},  # ids start at 1
        {"nodes": [{"id": 1, "tool": "search", "args": {}}, {"id": 3, "tool": "search", "args": {}}]},  # gap
        {"nodes": [{"id": "1", "tool": "search", "args": {}}]},
        {"nodes": [{"id": 1, "tool": 7, "args": {}}]},
        {"nodes": [{"id": 1, "tool": "search", "args": []}]},
        {"nodes": [{"id": 1, "tool": "search", "args": {"q": {"$ref": 1, "path": ""}}}]},  # refers to itself
        {"nodes": [{"id": 1, "tool": "a", "args": {}}, {"id": 2, "tool": "b", "args": {"x": [{"$ref": 3}]}}]},  # forward
        {"nodes": [{"id": 1, "tool": "search", "args": {"q": {"$ref": "1"}}}]},
        {"nodes": ["search"]},
    ],
)
def test_malformed_plans_are_invalid(plan: object) -> None:
    assert not plan_valid(plan)  # type: ignore[arg-type]


def test_a_plan_calling_an_unknown_tool_is_invalid_when_tools_are_given() -> None:
    assert not plan_valid(PLAN, tools={"search", "stock_price"})


def test_tool_selection_is_f1_over_the_sets_of_tool_names() -> None:
    assert tool_selection(PLAN, ["search", "stock_price", "chart"]) == 1.0
    assert tool_selection(PLAN, ["chart", "stock_price", "search"]) == 1.0  # any order
    assert tool_selection(PLAN, ["stock_price"]) == pytest.approx(0.5)  # precision 1/3, recall 1
    assert tool_selection(PLAN, ["stock_price", "calculator"]) == pytest.approx(0.4)  # precision 1/3, recall 1/2
    assert tool_selection(PLAN, ["calculator"]) == 0.0
    assert tool_selection(None, ["search"]) == 0.0
    assert tool_selection({"nodes": []}, []) == 1.0


def test_argument_accuracy_counts_expected_calls_matched_by_some_node() -> None:
    expected = [
        {"tool": "stock_price", "args": {"ticker": "msft"}},  # case-insensitive
        {"tool": "stock_price", "args": {"ticker": "AMZN", "date": "2024-12-06"}},
        {"tool": "stock_price", "args": {"ticker": "GOOGL"}},  # missing from the plan
        {"tool": "search", "args": {"ticker": "MSFT"}},  # right value, wrong tool
    ]
    assert argument_accuracy(PLAN, expected) == 0.5
    assert argument_accuracy(PLAN, []) == 1.0
    assert argument_accuracy("{broken", expected) == 0.0


@pytest.mark.parametrize(
    ("actual", "expected", "match"),
    [
        ("  Largest   Cloud providers ", "largest cloud providers", True),
        (10.0000000001, 10, True),
        (10.001, 10, False),
        (0, 0.0, True),
        (True, 1, False),
        (1, True, False),
        ([1.0, "A"], [1, "a"], True),
        ([1.0], [1, 2], False),
        ({"$ref": 2, "path": "close"}, {"$ref": 2, "path": "close"}, True),
        ({"$ref": 2, "path": "close"}, 413.62, False),
        (None, None, True),
        ("10", 10, False),
    ],
)
def test_argument_values_are_compared_leniently(actual: object, expected: object, match: bool) -> None:
    plan = {"nodes": [{"id": 1, "tool": "t", "args": {"x": actual}}]}
    assert argument_accuracy(plan, [{"tool": "t", "args": {"x": expected}}]) == (1.0 if match else 0.0)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("1,234.50 and $1234.5", [(1234.5, 2), (1234.5, 1)]),
        ("closed at 248.12 USD on 2024-12-06", [(248.12, 2), (2024.0, 0), (12.0, 0), (6.0, 0)]),
        ("-40 °F is −40 °C", [(-40.0, 0), (-40.0, 0)]),
        ("an H100 at 8,849m", [(8849.0, 0)]),
        ("12km, 30%, 1.5e3, .5", [(12.0, 0), (30.0, 0), (1500.0, 0), (0.5, 1)]),
        ("1,2,3", [(1.0, 0), (2.0, 0), (3.0, 0)]),
        ("version 1.2.3 shipped.", [(1.2, 1)]),
    ],
)
def test_numbers_are_read_whatever_their_formatting(text: str, numbers: list[tuple[float, int]]) -> None:
    assert numbers_in(text) == numbers


@pytest.mark.parametrize(
    ("answer", "fact", "found"),
    [
        ("Microsoft closed at 413.62 USD (sample data).", 413.62, True),
        ("Microsoft closed at $413.620.", 413.62, True),
        ("The total is 1,234.50 dollars.", 1234.5, True),
        ("The total is 1234.5 dollars.", "1,234.50", True),
        ("10 miles is 16.09 km.", 16.09344, True),  # rounded to what the answer shows
        ("10 miles is 16.1 km.", 16.09344, True),
        ("10 miles is 16 km.", 16.09344, False),  # 0.6% off: not a rounding of the fact
        ("It is 0.", 0.5, False),
        ("It fell by 3.78.", 3.78, True),
        ("It changed by -3.78.", 3.78, False),
        ("-40 degrees", -40, True),
        ("Everest is 8,849 metres tall.", 8849, True),
        ("in 2024-12-06", -12, False),
        ("The capital is canberra.", "Canberra", True),
        ("AMZNX is not it", "AMZN", False),
        ("prices: AMZN, MSFT", "AMZN", True),
        ("Values are sample data.", "Sample  Data", True),
        ("31% share", "31%", True),
    ],
)
def test_answer_facts(answer: str, fact: str | float, found: bool) -> None:
    assert answer_accuracy(answer, [fact]) == (1.0 if found else 0.0)


def test_answer_accuracy_is_the_fraction_of_facts_found() -> None:
    answer = "AMZN 203.70, MSFT 413.62 (sample data)"
    assert answer_accuracy(answer, ["AMZN", 203.7, 176.28, "GOOGL"]) == 0.5
    assert answer_accuracy("", []) == 1.0


def test_score_item_combines_the_four_metrics() -> None:
    item = {
        "id": "x",
        "question": "q",
        "expected_tools": ["search", "stock_price", "chart"],
        "expected_args": [{"tool": "stock_price", "args": {"ticker": "MSFT"}}],
        "expected_facts": [413.62, "sample data"],
    }
    assert score_item(item, PLAN, "MSFT: 413.62 (sample data)") == ItemScore(True, 1.0, 1.0, 1.0)
    assert score_item(item, None, "no idea") == ItemScore(False, 0.0, 0.0, 0.0)
