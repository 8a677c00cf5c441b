"""A small registry shaped like the demo tools, with declared output schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from reasoner.planner import Node, Plan, Ref
from reasoner.tools import ToolRegistry, ToolSpec

CALLS: list[str] = []


def _never_called(**kwargs: Any) -> Any:
    CALLS.append("called")
    raise AssertionError("plan checks must never run a tool")


def _spec(name: str, input_schema: dict[str, Any], output_schema: dict[str, Any] | None) -> ToolSpec:
    return ToolSpec(name=name, description=f"{name} tool", input_schema=input_schema, output_schema=output_schema, fn=_never_called, is_async=False)


def _object(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False, **extra}


HIT = {"type": "object", "properties": {"title": {"type": "string"}, "score": {"type": "number"}, "tickers": {"type": "array", "items": {"type": "string"}}}, "required": ["title", "score", "tickers"], "additionalProperties": False}
PRICE = {"type": "object", "title": "Price", "properties": {"ticker": {"type": "string"}, "close": {"type": "number"}, "currency": {"type": "string"}, "date": {"type": "string", "format": "date"}, "volume": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, "required": ["ticker", "close", "currency", "date"], "additionalProperties": False}


def make_registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(_spec(
        "search",
        _object({"query": {"type": "string", "description": "what to look for"}, "k": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}}, ["query"]),
        {"type": "array", "maxItems": 10, "items": {"$ref": "#/$defs/Hit"}, "$defs": {"Hit": HIT}},
    ))
    registry.register(_spec("stock_price", _object({"ticker": {"type": "string", "maxLength": 8}}, ["ticker"]), PRICE))
    registry.register(_spec(
        "chart",
        _object(
            {"values": {"type": "array", "items": {"type": "number"}, "maxItems": 3}, "title": {"type": "string", "title": "Title"}, "style": {"$ref": "#/$defs/Style"}},
            ["values"],
            **{"$defs": {"Style": _object({"color": {"type": "string", "enum": ["red", "blue"]}, "width": {"type": "integer"}}, ["color"])}},
        ),
        {"type": "string"},
    ))
    registry.register(_spec("echo", _object({"value": {}, "extra": {"type": "object"}}, ["value"]), None))
    registry.register(_spec("calculator", _object({"expression": {"type": "string"}}, ["expression"]), {"type": "number"}))
    return registry


@pytest.fixture(scope="session")
def registry() -> ToolRegistry:
    return make_registry()


@pytest.fixture
def tool_calls() -> list[str]:
    CALLS.clear()
    return CALLS


# strings that stress a JSON scanner: brackets, quotes, backslashes, controls, non-ASCII
TRICKY = st.text(alphabet=st.sampled_from(list('ab {}[]",:\\/\n\t\x00\u00e9\u4e2d\U0001f600$')) | st.characters(), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False) | TRICKY
KEYS = TRICKY.filter(lambda key: key != "$ref")
ANY1 = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(KEYS, SCALARS, max_size=3)
ANY2 = SCALARS | st.lists(ANY1, max_size=3) | st.dictionaries(KEYS, ANY1, max_size=3)


@st.composite
def _plans(draw: st.DrawFn) -> Plan:
    """Plans that are valid for make_registry(): right argument types, refs to fitting fields."""
    nodes: list[Node] = []
    for node_id in range(1, draw(st.integers(1, 8)) + 1):
        by_tool: dict[str, list[int]] = {}
        for node in nodes:
            by_tool.setdefault(node.tool, []).append(node.id)

        def ref_to(tool: str, path: str, fallback: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
            ids = by_tool.get(tool)
            return st.sampled_from([Ref(i, path) for i in ids]) | fallback if ids else fallback

        tool = draw(st.sampled_from(["search", "stock_price", "chart", "echo", "calculator"]))
        args: dict[str, Any]
        if tool == "search":
            args = {"query": draw(TRICKY)}
            if draw(st.booleans()):
                args["k"] = draw(st.integers(1, 10))
        elif tool == "stock_price":
            args = {"ticker": draw(ref_to("search", f"{draw(st.integers(0, 9))}.tickers.{draw(st.integers(0, 3))}", TRICKY.map(lambda t: t[:8])))}
        elif tool == "chart":
            number = st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False)
            args = {"values": [draw(ref_to("stock_price", "close", ref_to("calculator", "", number))) for _ in range(draw(st.integers(0, 3)))]}
            if draw(st.booleans()):
                args["title"] = draw(ref_to("search", "0.title", TRICKY))
            if draw(st.booleans()):
                args["style"] = {"color": draw(ref_to("stock_price", "currency", st.sampled_from(["red", "blue"])))}
        elif tool == "echo":
            earlier = [Ref(n.id, "") for n in nodes]
            args = {"value": draw(st.sampled_from(earlier) | ANY2) if earlier else draw(ANY2)}
            if draw(st.booleans()):
                args["extra"] = draw(st.dictionaries(KEYS, ANY2, max_size=2))
        else:
            args = {"expression": draw(TRICKY)}
        nodes.append(Node(node_id, tool, args))
    return Plan(tuple(nodes))


@pytest.fixture(scope="session")
def valid_plans() -> st.SearchStrategy[Plan]:
    return _plans()
