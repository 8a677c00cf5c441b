"""demo_tools(): five small, registrable tools whose outputs a plan can reference."""

from __future__ import annotations

from pathlib import Path

import reasoner.tools.demo as demo
from reasoner.tools import ToolRegistry, ToolSpec
from reasoner.tools.demo import demo_tools

NAMES = ["search", "stock_price", "chart", "calculator", "convert_units"]


def _specs(**options: object) -> list[ToolSpec]:
    return [fn.__reasoner_tool__ for fn in demo_tools(**options)]  # type: ignore[attr-defined, arg-type]


def test_exported_surface() -> None:
    assert demo.__all__ == sorted(demo.__all__)
    assert set(demo.__all__) == {
        "CalcResult", "ChartResult", "Conversion", "DEMO_EXAMPLES", "Price", "SearchHit", "SearchResults",
        "calculator", "chart", "convert_units", "default_chart_dir", "demo_tools", "make_chart",
        "sample_tickers", "search", "stock_price",
    }  # fmt: skip
    assert all(hasattr(demo, name) for name in demo.__all__)


def test_demo_tools_are_the_five_offline_tools_and_register_together() -> None:
    specs = _specs()
    assert [spec.name for spec in specs] == NAMES
    registry = ToolRegistry()
    for spec in specs:
        registry.register(spec)
    assert len(registry) == 5
    assert "http_get" not in registry  # the network tool is opt-in


def test_tools_stay_small_enough_for_a_tiny_planner() -> None:
    for spec in _specs():
        assert "\n" not in spec.description and len(spec.description) <= 100, spec.name
        assert len(spec.input_schema["properties"]) <= 3, spec.name
        assert spec.input_schema["additionalProperties"] is False
        assert all(prop.get("description") for prop in spec.input_schema["properties"].values()), spec.name
        assert spec.output_schema is not None and spec.output_schema["type"] == "object", spec.name


def test_price_output_fields_are_referenceable_by_path() -> None:
    spec = _specs()[1]
    assert spec.output_schema is not None
    properties = spec.output_schema["properties"]
    assert {"ticker", "close", "currency", "date", "source"} <= set(properties)
    assert properties["close"]["type"] == "number"


async def test_search_output_chains_into_stock_price_through_invoke() -> None:
    search, stock_price = _specs()[:2]
    found = await search.invoke({"query": "largest cloud providers"})
    assert found["tickers"][:3] == ["AMZN", "MSFT", "GOOGL"]
    prices = [await stock_price.invoke({"ticker": ticker}) for ticker in found["tickers"][:3]]
    assert [p["close"] for p in prices] == [203.7, 413.62, 176.28]
    assert {p["source"] for p in prices} == {"sample data"}


async def test_chart_dir_moves_the_chart_tool_only(tmp_path: Path) -> None:
    chart = _specs(chart_dir=tmp_path)[2]
    result = await chart.invoke({"values": [1.0, 2.0], "labels": ["a", "b"]})
    assert Path(result["path"]).parent == tmp_path
    assert _specs(chart_dir=tmp_path)[0] is _specs()[0]


def test_planner_examples_are_valid_plans_for_the_demo_toolkit_and_not_eval_questions() -> None:
    import json
    from pathlib import Path

    from reasoner.planner import Plan, validate
    from reasoner.tools import ToolRegistry
    from reasoner.tools.demo import DEMO_EXAMPLES, demo_tools

    registry = ToolRegistry.of(demo_tools())
    dataset = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "demo.jsonl"
    questions = {json.loads(line)["question"] for line in dataset.read_text().splitlines() if line.strip()}
    for question, plan in DEMO_EXAMPLES:
        validate(Plan.from_json(plan), registry)
        assert question not in questions
