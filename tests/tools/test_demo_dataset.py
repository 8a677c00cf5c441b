"""evals/datasets/demo.jsonl: well formed, and every expected fact follows from the bundled data.

Each item carries a ``reference_plan`` that a correct planner could emit (its last
iteration: numbers computed from earlier results appear as literals in calculator
expressions). Running it through the demo tools must produce every expected fact, and
the metrics must give it full marks; otherwise the item or the data is wrong.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from reasoner.evals._metrics import ItemScore, score_item
from reasoner.tools.demo import demo_tools

FIELDS = {"id", "question", "expected_tools", "expected_args", "expected_facts", "reference_plan"}


def _items() -> list[dict[str, Any]]:
    text = resources.files("reasoner.evals").joinpath("datasets", "demo.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


ITEMS = _items()


def _at(value: Any, path: str) -> Any:
    for segment in filter(None, path.split(".")):
        value = value[int(segment)] if isinstance(value, list) else value[segment]
    return value


def _resolve(value: Any, outputs: dict[int, Any]) -> Any:
    if isinstance(value, dict) and "$ref" in value:
        return _at(outputs[value["$ref"]], value.get("path", ""))
    if isinstance(value, dict):
        return {key: _resolve(item, outputs) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, outputs) for item in value]
    return value


def test_at_least_forty_items_with_unique_ids_and_questions() -> None:
    assert len(ITEMS) >= 40
    assert len({item["id"] for item in ITEMS}) == len(ITEMS)
    assert len({item["question"].casefold() for item in ITEMS}) == len(ITEMS)


def test_items_name_only_demo_tools_and_their_real_parameters() -> None:
    specs = {fn.__reasoner_tool__.name: fn.__reasoner_tool__ for fn in demo_tools()}  # type: ignore[attr-defined]
    for item in ITEMS:
        assert set(item) == FIELDS, item["id"]
        assert item["expected_tools"] and set(item["expected_tools"]) <= set(specs), item["id"]
        assert item["expected_facts"], item["id"]
        for call in item["expected_args"]:
            assert call["tool"] in item["expected_tools"], item["id"]
            assert set(call["args"]) <= set(specs[call["tool"]].input_schema["properties"]), item["id"]


def test_every_tool_is_exercised() -> None:
    used = {tool for item in ITEMS for tool in item["expected_tools"]}
    assert used == {"search", "stock_price", "chart", "calculator", "convert_units"}


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
async def test_reference_plan_yields_every_expected_fact(item: dict[str, Any], tmp_path: Path) -> None:
    specs = {fn.__reasoner_tool__.name: fn.__reasoner_tool__ for fn in demo_tools(chart_dir=tmp_path)}  # type: ignore[attr-defined]
    outputs: dict[int, Any] = {}
    for node in item["reference_plan"]["nodes"]:
        outputs[node["id"]] = await specs[node["tool"]].invoke(_resolve(node["args"], outputs))
    evidence = json.dumps(outputs, ensure_ascii=False)
    score = score_item(item, item["reference_plan"], evidence, tools=list(specs))
    assert score == ItemScore(plan_valid=True, tool_selection=1.0, argument_accuracy=1.0, answer_accuracy=1.0)
