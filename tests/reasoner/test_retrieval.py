"""Above the retrieval threshold the planner sees, and its grammar allows, only the top-k tools."""

from __future__ import annotations

from typing import Any

from reasoner import Engine
from reasoner.models import ScriptedModel
from reasoner.tools import ToolSpec
from reasoner.tools.demo import demo_tools

FINISH = '{"action":"finish"}'
PLAN = '{"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"MSFT"}}]}'


def _distractor(i: int) -> ToolSpec:
    topics = ["weather", "recipe", "flight", "hotel", "movie", "lyrics", "recycling", "parking", "yoga", "poetry"]
    topic = topics[i % len(topics)]
    schema = {"type": "object", "properties": {"name": {"type": "string", "description": f"The {topic} to look up."}}, "required": ["name"], "additionalProperties": False}
    return ToolSpec(name=f"{topic}_lookup_{i}", description=f"Look up {topic} details number {i}.", input_schema=schema, output_schema=None, fn=lambda **kw: kw, is_async=False)


TOOLS: list[Any] = [*demo_tools(), *[_distractor(i) for i in range(30)]]


async def test_the_planner_sees_and_may_call_only_the_retrieved_tools() -> None:
    planner = ScriptedModel([PLAN, FINISH, "413.62"])
    result = await Engine(TOOLS, planner=planner, retrieval_k=4).reason("What is Microsoft's latest stock price?")
    selected = next(e for e in result.trace if e.type == "retrieval.selected")
    assert selected.data["of"] == 35 and len(selected.data["tools"]) == 4 and selected.data["tools"][0] == "stock_price"
    prompt = planner.calls[0].messages[0].content
    assert prompt.count("\n- ") == 4 and "weather_lookup" not in prompt
    consts = {node["properties"]["tool"]["const"] for node in _nodes(planner.calls[0].schema)}
    assert consts == set(selected.data["tools"])


async def test_below_the_threshold_every_tool_is_shown() -> None:
    planner = ScriptedModel([PLAN, FINISH, "413.62"])
    result = await Engine(demo_tools(), planner=planner).reason("What is Microsoft's latest stock price?")
    assert not [e for e in result.trace if e.type == "retrieval.selected"]
    assert planner.calls[0].messages[0].content.count("\n- ") == 5


async def test_explain_shows_the_retrieved_tools() -> None:
    x = await Engine(TOOLS, planner=ScriptedModel([PLAN]), retrieval_k=3).explain("What is Microsoft's latest stock price?")
    assert x.retrieved is not None and x.retrieved.tools[0] == "stock_price" and x.retrieved.of == 35
    assert str(x).splitlines()[-1].startswith("retrieved 3 of 35 tools: stock_price (")


def _nodes(schema: Any) -> list[dict[str, Any]]:
    first = schema["properties"]["nodes"]["prefixItems"][0]
    defs = schema.get("$defs", {})
    branches = first.get("oneOf", [first])
    return [defs[b["$ref"].split("/")[-1]] if "$ref" in b else b for b in branches]
