"""Training data: seeds expanded over tool values and executed; finished runs' traces as examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from reasoner import Engine
from reasoner._tune_data import (
    complete,
    demo_pools,
    examples_from_trace,
    expand_seeds,
    load_seeds,
    resolve_registry,
)
from reasoner.errors import UsageError
from reasoner.events import load_trace, save_trace
from reasoner.models import ScriptedModel
from reasoner.planner._examples import role_samples
from reasoner.tools import ToolRegistry, tool

Colour = Literal["red", "green"]


@pytest.fixture(scope="module")
def demo() -> ToolRegistry:
    return resolve_registry("demo")


SEED = {
    "id": "shares",
    "question": "What do {{n}} shares of {{co.name}} cost?",
    "plan": {"nodes": [
        {"id": 1, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}"}},
        {"id": 2, "tool": "calculator", "args": {"expression": "p * {{n}}", "variables": {"p": {"$ref": 1, "path": "close"}}}},
    ]},
    "values": {"n": [2, 5]},
    "answer": "{{n}} x {{$1.close}} = {{$2.text}}",
}  # fmt: skip


async def test_seeds_are_filled_from_pools_and_answers_from_executed_outputs(demo: ToolRegistry) -> None:
    raws = expand_seeds([SEED], demo, per_seed=6, seed=1, pools=demo_pools())
    assert len(raws) == 6 and len({r["question"] for r in raws}) == 6
    assert raws[0]["plan"]["nodes"][1]["args"]["expression"] in ("p * 2", "p * 5")
    example = await complete(raws[0], demo)
    assert example is not None and example.join is not None and example.join.action == "finish"
    price = example.observations[0].output if example.observations else None
    n = int(example.plan["nodes"][1]["args"]["expression"].split()[-1])
    assert example.answer == f"{n} x {price['close']} = {example.observations[1].output['text']}"  # type: ignore[index]
    assert example.observations[1].output["value"] == pytest.approx(price["close"] * n)  # type: ignore[index]
    assert [s.role for s in role_samples(example, demo)] == ["planner", "joiner", "answerer"]


async def test_plans_that_fail_or_do_not_fit_are_dropped(demo: ToolRegistry) -> None:
    bad_ticker = {"question": "q", "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "ZZZZ"}}]}}
    bad_tool = {"question": "q", "plan": {"nodes": [{"id": 1, "tool": "weather", "args": {"city": "Oslo"}}]}}
    bad_slot = {"question": "q", "plan": {"nodes": [{"id": 1, "tool": "calculator", "args": {"expression": "1"}}]}, "answer": "{{$1.nope}}"}
    assert [await complete(raw, demo) for raw in (bad_ticker, bad_tool, bad_slot)] == [None, None, None]


async def test_a_replan_continues_the_ids_and_sees_the_first_results(demo: ToolRegistry) -> None:
    raw = {
        "question": "How many feet high is Mont Blanc?",
        "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "Mont Blanc height"}}]},
        "join": {"action": "replan", "reason": "convert 4806 m to feet"},
        "replan": {"plan": {"nodes": [{"id": 2, "tool": "convert_units", "args": {"value": 4806, "from_unit": "m", "to_unit": "ft"}}]}},
        "answer": "{{$2.result}} feet",
    }
    example = await complete(raw, demo)
    assert example is not None and example.replan is not None and example.replan.observations is not None
    assert example.answer == f"{example.replan.observations[0].output['result']:.12g} feet"
    assert [s.role for s in role_samples(example, demo)] == ["planner", "joiner", "planner", "joiner", "answerer"]


def test_slots_without_values_and_small_pools_are_refused(demo: ToolRegistry) -> None:
    with pytest.raises(UsageError, match=r"no values for slot \{\{city\}\}"):
        expand_seeds([{"question": "{{city}}?", "plan": {"nodes": []}}], demo, per_seed=1)
    with pytest.raises(UsageError, match="pool 'n' has too few values"):
        expand_seeds([{"question": "{{n1}} {{n2}}", "plan": {"nodes": []}, "values": {"n": [1]}}], demo, per_seed=1)


def test_enum_values_of_a_parameter_fill_a_slot_of_its_name() -> None:
    @tool
    def paint(colour: Colour) -> str:
        """Paint.

        Args:
            colour: Which colour.
        """
        return colour

    raws = expand_seeds([{"question": "Paint it {{colour}}", "plan": {"nodes": [{"id": 1, "tool": "paint", "args": {"colour": "{{colour}}"}}]}}], ToolRegistry([paint]), per_seed=5)
    assert sorted(r["question"] for r in raws) == ["Paint it green", "Paint it red"]


async def test_a_finished_runs_trace_becomes_an_example(demo: ToolRegistry, tmp_path: Path) -> None:
    plan = '{"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"MSFT"}},{"id":2,"tool":"stock_price","args":{"ticker":"ZZZZ"}}]}'
    engine = Engine(
        tools=demo,
        planner=ScriptedModel([plan]),
        joiner=ScriptedModel(['{"action":"finish"}']),
        answerer=ScriptedModel(["Microsoft closed at 413.62 (sample data)."]),
    )
    result = await engine.reason("Microsoft's close, and ZZZZ's?")
    save_trace(result.trace, tmp_path / "run.jsonl")
    example = examples_from_trace(load_trace(tmp_path / "run.jsonl"))
    assert example is not None
    assert example.question == "Microsoft's close, and ZZZZ's?" and example.answer == "Microsoft closed at 413.62 (sample data)."
    assert json.dumps(example.plan, separators=(",", ":")) == plan
    assert example.observations is not None and example.observations[0].output["close"] == 413.62  # type: ignore[index]
    assert example.observations[1].error is not None and "ZZZZ" in example.observations[1].error
    assert example.source == f"trace:{result.run_id}"
    unfinished = [e for e in result.trace if e.type != "run.completed"]
    assert examples_from_trace(unfinished) is None


def test_registry_references(tmp_path: Path) -> None:
    assert resolve_registry("reasoner.evals.unseen_tools:TOOLS").names() == ["weather", "exchange_rate", "population", "calculator"]
    with pytest.raises(UsageError, match='use "demo" or module:attr'):
        resolve_registry("nonsense")
    with pytest.raises(UsageError, match="cannot import"):
        resolve_registry("no_such_module_here:tools")


def test_seed_files_are_read_with_line_numbers(tmp_path: Path) -> None:
    file = tmp_path / "seeds.jsonl"
    file.write_text("# a comment\n" + json.dumps(SEED) + "\n{oops\n")
    with pytest.raises(UsageError, match=r"seeds\.jsonl:3: not JSON"):
        load_seeds(file)
    file.write_text(json.dumps(SEED) + "\n")
    assert load_seeds(file) == [SEED]


