from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import BaseModel

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.tools import ToolRegistry, ToolSpec, tool


class Price(BaseModel):
    ticker: str
    close: float


@tool(timeout=5, cache=True)
async def stock_price(ticker: str) -> Price:
    """Latest closing price for a ticker.

    Args:
        ticker: Exchange symbol, e.g. "MSFT".
    """
    return Price(ticker=ticker, close=1.0)


def search(query: str, limit: int = 3) -> list[str]:
    """Search the corpus."""
    return [query] * limit


def test_of_builds_a_registry_from_functions_and_specs_in_order() -> None:
    spec = ToolSpec.from_schema({"name": "math.add", "parameters": {"type": "object"}}, lambda: 0)
    registry = ToolRegistry.of([stock_price, search, spec])
    assert registry.names() == ["stock_price", "search", "math.add"]
    assert len(registry) == 3
    assert [s.name for s in registry] == registry.names()
    assert registry["stock_price"] is stock_price.__reasoner_tool__  # type: ignore[attr-defined]
    assert registry["search"].fn is search  # undecorated functions are accepted too
    assert "math.add" in registry and "nope" not in registry


def test_of_accepts_none_a_registry_or_a_single_tool() -> None:
    registry = ToolRegistry.of([search])
    assert ToolRegistry.of(registry) is registry
    assert len(ToolRegistry.of(None)) == 0
    assert ToolRegistry.of(search).names() == ["search"]
    with pytest.raises(UsageError, match="tools= takes functions"):
        ToolRegistry.of("search")  # type: ignore[arg-type]


def test_lookup_of_an_unknown_name() -> None:
    registry = ToolRegistry.of([search])
    assert registry.get("missing") is None
    with pytest.raises(KeyError, match="no tool named 'missing'; registered tools: search"):
        registry["missing"]


def test_a_duplicate_name_is_a_usage_error() -> None:
    registry = ToolRegistry.of([search])
    with pytest.raises(UsageError, match="a tool named 'search' is already registered"):
        registry.add(search)
    renamed = registry.add(ToolSpec.from_function(search, name="search2"))
    assert registry.names() == ["search", "search2"] and renamed.fn is search


def test_add_refuses_what_cannot_be_a_tool() -> None:
    registry = ToolRegistry()
    with pytest.raises(UsageError, match="a tool must be a function or a ToolSpec"):
        registry.add(42)  # type: ignore[arg-type]

    def bad(*args: int) -> int:
        return 0

    with pytest.raises(ToolDefinitionError, match="parameter 'args'"):
        registry.add(bad)
    assert len(registry) == 0


def test_to_json_is_openai_style_plus_output_schema_and_metadata() -> None:
    exported = ToolRegistry.of([stock_price, search]).to_json()
    json.dumps(exported)  # plain JSON
    first = exported[0]
    assert first["type"] == "function"
    assert first["function"]["name"] == "stock_price"
    assert first["function"]["description"] == "Latest closing price for a ticker."
    params = first["function"]["parameters"]
    assert params["properties"]["ticker"] == {"type": "string", "description": 'Exchange symbol, e.g. "MSFT".'}
    jsonschema.Draft202012Validator.check_schema(params)
    assert first["output_schema"]["properties"]["close"] == {"type": "number"}
    assert first["metadata"] == {
        "timeout": 5,
        "retries": 0,
        "cache": True,
        "max_concurrency": None,
        "requires_approval": False,
    }
    assert exported[1]["function"]["parameters"]["properties"]["limit"] == {"type": "integer", "default": 3}
    assert ToolSpec.from_function(search).to_openai() == {"type": "function", "function": exported[1]["function"]}


def test_directly_constructed_specs_are_checked_too() -> None:
    def f() -> None:
        return None

    kwargs = {"description": "", "input_schema": {"type": "object"}, "output_schema": None, "fn": f, "is_async": False}
    ToolRegistry().register(ToolSpec(name="ok", **kwargs))  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="option retries=-1"):
        ToolSpec(name="f", retries=-1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="invalid tool name 'a b'"):
        ToolSpec(name="a b", **kwargs)  # type: ignore[arg-type]
