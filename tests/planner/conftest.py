"""A small registry shaped like the demo tools, with declared output schemas."""

from __future__ import annotations

from typing import Any

import pytest

from reasoner.tools import ToolRegistry, ToolSpec

CALLS: list[str] = []


def _never_called(**kwargs: Any) -> Any:
    CALLS.append("called")
    raise AssertionError("plan checks must never run a tool")


def _spec(name: str, input_schema: dict[str, Any], output_schema: dict[str, Any] | None) -> ToolSpec:
    return ToolSpec(name=name, description=f"{name} tool", input_schema=input_schema, output_schema=output_schema, fn=_never_called, is_async=False)


def _object(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False, **extra}


HIT = {"type": "object", "properties": {"title": {"type": "string"}, "score": {"type": "number"}, "tickers": {"type": "array", "items": {"type": "string"}}}, "required": ["title", "score", "tickers"]}
PRICE = {"type": "object", "title": "Price", "properties": {"ticker": {"type": "string"}, "close": {"type": "number"}, "currency": {"type": "string"}, "date": {"type": "string", "format": "date"}, "volume": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, "required": ["ticker", "close", "currency", "date"]}


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


@pytest.fixture
def registry() -> ToolRegistry:
    CALLS.clear()
    return make_registry()


@pytest.fixture
def tool_calls() -> list[str]:
    return CALLS
