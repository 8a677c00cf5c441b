"""Training examples: the JSONL format, per-line errors, and role samples built by the loop's prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoner.errors import PlanError
from reasoner.planner import Plan
from reasoner.planner._examples import (
    ExampleError,
    canonical_plan,
    check_example,
    load_examples,
    parse_examples,
    role_samples,
)
from reasoner.planner._prompts import (
    Observation,
    answer_messages,
    join_messages,
    plan_messages,
)
from reasoner.tools import ToolRegistry
from reasoner.tools.demo import demo_tools

PRICE = {"ticker": "NFLX", "name": "Netflix, Inc.", "close": 930.1, "currency": "USD", "date": "2024-12-06", "source": "sample data"}
EXAMPLE = {
    "question": "What is 3 times Netflix's close?",
    "plan": {"nodes": [
        {"id": 1, "tool": "stock_price", "args": {"ticker": "NFLX"}},
        {"id": 2, "tool": "calculator", "args": {"variables": {"p": {"$ref": 1, "path": "close"}}, "expression": "p * 3"}},
    ]},
    "observations": [{"id": 1, "output": PRICE}, {"id": 2, "output": {"expression": "p * 3", "value": 2790.3, "text": "2790.3"}}],
    "join": {"action": "finish"},
    "answer": "3 times 930.1 is 2790.3.",
}  # fmt: skip
REPLAN = {
    "question": "How many feet high is Mont Blanc?",
    "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "Mont Blanc height"}}]},
    "observations": [{"id": 1, "output": {"query": "Mont Blanc height", "results": [], "tickers": []}}],
    "join": {"action": "replan", "reason": "convert 4806 m to feet"},
    "replan": {
        "plan": {"nodes": [{"id": 2, "tool": "convert_units", "args": {"value": 4806, "from_unit": "m", "to_unit": "ft"}}]},
        "observations": [{"id": 2, "output": {"value": 4806, "from_unit": "m", "to_unit": "ft", "result": 15767.7, "quantity": "length"}}],
        "join": {"action": "finish"},
    },
    "answer": "About 15767.7 feet.",
}


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return ToolRegistry(demo_tools())


def test_each_role_is_prompted_exactly_as_the_loop_prompts_it(registry: ToolRegistry) -> None:
    [example] = parse_examples([json.dumps(EXAMPLE)])
    planner, joiner, answerer = role_samples(example, registry)
    plan = canonical_plan(Plan.from_json(EXAMPLE["plan"]), registry)  # as the grammar makes a model write it
    seen = [Observation(plan.nodes[0], PRICE), Observation(plan.nodes[1], EXAMPLE["observations"][1]["output"])]
    assert list(planner.messages) == plan_messages(EXAMPLE["question"], registry)
    assert list(joiner.messages) == join_messages(EXAMPLE["question"], seen)
    assert list(answerer.messages) == answer_messages(EXAMPLE["question"], seen)
    # arguments in the order the plan grammar makes a model write them (the tool's parameters)
    assert planner.output.endswith('"args":{"expression":"p * 3","variables":{"p":{"$ref":1,"path":"close"}}}}]}')
    assert joiner.output == '{"action":"finish"}' and answerer.output == EXAMPLE["answer"]


def test_a_replan_is_prompted_with_the_results_and_the_reason(registry: ToolRegistry) -> None:
    [example] = parse_examples([json.dumps(REPLAN)])
    roles = [s.role for s in role_samples(example, registry)]
    assert roles == ["planner", "joiner", "planner", "joiner", "answerer"]
    second = role_samples(example, registry)[2]
    first_obs = [Observation(Plan.from_json(REPLAN["plan"]).nodes[0], REPLAN["observations"][0]["output"])]
    assert list(second.messages) == plan_messages(REPLAN["question"], registry, observations=first_obs, replan_reason="convert 4806 m to feet", first_id=2)
    assert second.output.startswith('{"nodes":[{"id":2,"tool":"convert_units"')
    check_example(example, registry)


def test_only_the_parts_present_make_samples(registry: ToolRegistry) -> None:
    [example] = parse_examples([json.dumps({"question": "Microsoft's close?", "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT"}}]}})])
    assert [s.role for s in role_samples(example, registry)] == ["planner"]
    assert example.tools == "demo"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"ex\.jsonl:2: not JSON"),
        ("[1, 2]", r"ex\.jsonl:2: expected a JSON object, got list"),
        ('{"question": "q"}', r"ex\.jsonl:2: plan: Field required"),
        ('{"question": "q", "plan": {"nodes": []}, "colour": 1}', r"ex\.jsonl:2: colour: Extra inputs are not permitted"),
        ('{"question": "q", "plan": {"nodes": [{"id": 2, "tool": "search", "args": {}}]}}', r"ex\.jsonl:2: plan: .*id 2 is out of order"),
        ('{"question": "q", "plan": {"nodes": [{"id": 1, "tool": "search", "args": {}}]}, "observations": [{"id": 5, "output": 1}]}',
         r"ex\.jsonl:2: plan: an observation names node 5"),
        ('{"question": "q", "plan": {"nodes": [{"id": 1, "tool": "search", "args": {}}]}, "join": {"action": "replan", "reason": "x"}}',
         r'ex\.jsonl:2: join says replan, but there is no "replan"'),
        ('{"question": "q", "plan": {"nodes": [{"id": 1, "tool": "search", "args": {}}]}, "join": {"action": "stop"}}', r"ex\.jsonl:2: join\.action"),
    ],
)
def test_a_bad_line_is_named_with_its_problem(tmp_path: Path, line: str, message: str) -> None:
    file = tmp_path / "ex.jsonl"
    file.write_text(json.dumps(EXAMPLE) + "\n" + line + "\n")
    with pytest.raises(ExampleError, match=message) as caught:
        load_examples(file)
    assert caught.value.line == 2


def test_an_empty_or_missing_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ExampleError, match="no examples"):
        load_examples(tmp_path / "empty.jsonl")
    with pytest.raises(ExampleError, match="cannot read"):
        load_examples(tmp_path / "missing.jsonl")


def test_a_plan_that_does_not_fit_the_registry_is_a_plan_error(registry: ToolRegistry) -> None:
    [example] = parse_examples([json.dumps({"question": "q", "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"symbol": "MSFT"}}]}})])
    with pytest.raises(PlanError, match="ticker.* is a required property"):
        check_example(example, registry)
