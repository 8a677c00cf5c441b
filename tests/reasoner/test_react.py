"""Engine(mode="react"): one tool call per model turn, each turn seeing the results so far,
until the model calls no further tool; the sequential baseline the evals compare against."""

from __future__ import annotations

import json

import anyio
import pytest

from reasoner import Budget, Engine, UsageError, tool
from reasoner.models import ScriptedModel

LOG: list[str] = []


@tool
async def price(ticker: str) -> float:
    """Latest price.

    Args:
        ticker: the symbol.
    """
    LOG.append(f"start {ticker}")
    await anyio.sleep(0.05)
    LOG.append(f"end {ticker}")
    return {"AAA": 1.5, "BBB": 2.5}.get(ticker, 0.0)


@pytest.fixture(autouse=True)
def _reset() -> None:
    LOG.clear()


def call(node_id: int, ticker: str) -> str:
    return json.dumps({"nodes": [{"id": node_id, "tool": "price", "args": {"ticker": ticker}}]}, separators=(",", ":"))


NONE = '{"nodes":[]}'


def react_engine(planner: ScriptedModel, answerer: ScriptedModel, **kwargs: object) -> Engine:
    joiner = ScriptedModel([], name="joiner")  # react mode never asks a joiner: a call would fail the run
    return Engine(tools=[price], planner=planner, joiner=joiner, answerer=answerer, mode="react", **kwargs)  # type: ignore[arg-type]


async def test_one_call_per_turn_each_turn_sees_the_results_and_an_empty_plan_ends() -> None:
    planner = ScriptedModel([call(1, "AAA"), call(2, "BBB"), NONE], name="planner")
    answerer = ScriptedModel(["AAA is 1.5 and BBB is 2.5."], name="answerer")
    result = await react_engine(planner, answerer).reason("Prices of AAA and BBB?")

    assert result.answer == "AAA is 1.5 and BBB is 2.5."
    assert [len(p.nodes) for p in result.plans] == [1, 1, 0]
    assert result.outputs == {1: 1.5, 2: 2.5}
    assert LOG == ["start AAA", "end AAA", "start BBB", "end BBB"]  # strictly one after the other
    # the grammar allows one node a turn, and each later turn is shown the results so far
    assert all(c.schema is not None and c.schema["properties"]["nodes"]["maxItems"] == 1 for c in planner.calls)
    assert "Results so far" not in planner.calls[0].messages[-1].content
    assert "1.5" in planner.calls[1].messages[-1].content and "its first id is 2" in planner.calls[1].messages[-1].content
    assert "2.5" in planner.calls[2].messages[-1].content
    types = [e.type for e in result.trace]
    assert "join.decision" in types and types[0] == "run.started" and types[-1] == "run.completed"
    assert result.trace[0].data["mode"] == "react"
    assert [e.iteration for e in result.trace if e.type == "plan.completed"] == [0, 1, 2]
    assert [e.data["by"] for e in result.trace if e.type == "join.decision"] == ["react"]


async def test_plan_mode_runs_the_same_calls_at_once() -> None:
    both = json.dumps({"nodes": [json.loads(call(1, "AAA"))["nodes"][0], json.loads(call(2, "BBB"))["nodes"][0]]})
    planner = ScriptedModel([both], name="planner")
    engine = Engine(tools=[price], planner=planner, joiner=ScriptedModel(['{"action":"finish"}']), answerer=ScriptedModel(["ok"]))
    await engine.reason("Prices of AAA and BBB?")
    assert LOG[:2] == ["start AAA", "start BBB"]


async def test_a_repeated_call_ends_the_turns_without_running_it_again() -> None:
    planner = ScriptedModel([call(1, "ZZZ"), call(2, "ZZZ"), call(3, "ZZZ")], name="planner")
    answerer = ScriptedModel(["No price found."], name="answerer")
    result = await react_engine(planner, answerer).reason("Price of ZZZ?")

    assert len(planner.calls) == 2  # the second turn repeated the first call: done
    assert LOG == ["start ZZZ", "end ZZZ"]
    assert result.partial is None and result.answer == "No price found."
    decision = [e for e in result.trace if e.type == "join.decision"][-1]
    assert decision.data["reason"] == "the model repeated a call it had made"


async def test_the_turn_budget_ends_the_run_with_a_partial_answer() -> None:
    planner = ScriptedModel([call(1, "AAA"), call(2, "BBB"), call(3, "CCC")], name="planner")
    answerer = ScriptedModel(["AAA 1.5, BBB 2.5"], name="answerer")
    result = await react_engine(planner, answerer, budget=Budget(iterations=2)).reason("Prices?")

    assert len(planner.calls) == 2
    assert result.partial == "the budget of 2 turn(s) ran out"
    assert result.outputs == {1: 1.5, 2: 2.5}


async def test_an_empty_first_turn_answers_directly() -> None:
    planner = ScriptedModel([NONE], name="planner")
    answerer = ScriptedModel(["Paris."], name="answerer")
    result = await react_engine(planner, answerer).reason("Capital of France?")
    assert result.answer == "Paris." and result.outputs == {} and LOG == []


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(UsageError, match="mode='parallel'"):
        Engine(tools=[price], mode="parallel")
    assert Engine(tools=[price]).mode == "plan"
