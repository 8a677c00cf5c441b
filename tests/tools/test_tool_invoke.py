from __future__ import annotations

import datetime
import enum
import json
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from reasoner.errors import ToolError, ToolRetry
from reasoner.tools import ToolSpec, tool


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


class Location(BaseModel):
    city: str
    country: str = "US"


class Price(BaseModel):
    ticker: str
    close: float
    date: datetime.date


@tool
def describe(
    place: Location,
    unit: Unit = Unit.C,
    days: int = 1,
    scale: float = 1.0,
    when: datetime.date | None = None,
    pair: tuple[int, int] = (0, 0),
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """Echo what the function received, with Python types."""
    return {
        "place": type(place).__name__,
        "city": place.city,
        "country": place.country,
        "unit": type(unit).__name__ + "." + unit.name,
        "days": days,
        "scale": scale,
        "when": repr(when),
        "pair": repr(pair),
        "tags": tags,
    }


async def test_arguments_are_coerced_from_json_into_the_annotated_types() -> None:
    spec = ToolSpec.from_function(describe)
    out = await spec.invoke(
        {"place": {"city": "Oslo"}, "unit": "fahrenheit", "scale": 2, "when": "2024-05-01", "pair": [1, 2]}
    )
    assert out == {
        "place": "Location",  # the dict became the nested model, with its default filled in
        "city": "Oslo",
        "country": "US",
        "unit": "Unit.F",  # the string became the enum member
        "days": 1,  # defaults reach the function
        "scale": 2.0,
        "when": "datetime.date(2024, 5, 1)",
        "pair": "(1, 2)",
        "tags": None,
    }


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"place": {"city": "Oslo"}, "days": "3"}, "argument 'days': Input should be a valid integer (got '3')"),
        ({"place": {"city": "Oslo"}, "days": 2.5}, "argument 'days': Input should be a valid integer"),
        ({"place": {"city": 7}}, "argument 'place.city': Input should be a valid string (got 7)"),
        ({"place": {"city": "Oslo"}, "unit": "kelvin"}, "argument 'unit': Input should be 'celsius' or 'fahrenheit'"),
        ({}, "argument 'place': missing required argument"),
        ({"place": {"city": "Oslo"}, "colour": "red"}, "argument 'colour': unexpected argument (accepted: place, unit"),
        ({"place": {"city": "Oslo"}, "tags": ["a", 1]}, "argument 'tags[1]': Input should be a valid string"),
    ],
)
async def test_invalid_arguments_raise_tool_error_naming_tool_argument_and_problem(
    args: dict[str, Any], fragment: str
) -> None:
    spec = ToolSpec.from_function(describe)
    with pytest.raises(ToolError) as info:
        await spec.invoke(args)
    assert info.value.tool == "describe"
    assert str(info.value).startswith("tool 'describe': invalid arguments: ")
    assert fragment in str(info.value)


async def test_arguments_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(ToolError, match="arguments must be a JSON object, got list"):
        await ToolSpec.from_function(describe).invoke([1, 2])  # type: ignore[arg-type]


async def test_sync_tools_run_in_a_worker_thread_and_async_tools_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    @tool
    def where_sync() -> int:
        return threading.get_ident()

    @tool
    async def where_async() -> int:
        return threading.get_ident()

    assert await ToolSpec.from_function(where_sync).invoke({}) != loop_thread
    assert await ToolSpec.from_function(where_async).invoke({}) == loop_thread


async def test_results_are_dumped_through_the_return_annotation_in_json_mode() -> None:
    @tool
    async def price(ticker: str) -> Price:
        return Price(ticker=ticker, close=3, date=datetime.date(2024, 1, 2))

    @tool
    def prices(tickers: list[str]) -> list[Price]:
        # a dict where a model is declared is validated into the model, then dumped
        return [{"ticker": t, "close": "1.5", "date": "2024-01-02"} for t in tickers]  # type: ignore[misc]

    one = await ToolSpec.from_function(price).invoke({"ticker": "MSFT"})
    assert one == {"ticker": "MSFT", "close": 3.0, "date": "2024-01-02"}
    many = await ToolSpec.from_function(prices).invoke({"tickers": ["A", "B"]})
    assert many == [{"ticker": t, "close": 1.5, "date": "2024-01-02"} for t in ("A", "B")]
    json.dumps(many)


async def test_results_without_an_annotation_become_jsonable_python() -> None:
    @tool
    def untyped(n: int):  # type: ignore[no-untyped-def]
        return {"when": datetime.date(2024, 1, 2), "items": (n, n), "price": Price(ticker="X", close=1, date="2024-01-02")}

    out = await ToolSpec.from_function(untyped).invoke({"n": 2})
    assert out == {"when": "2024-01-02", "items": [2, 2], "price": {"ticker": "X", "close": 1.0, "date": "2024-01-02"}}


async def test_a_result_that_does_not_fit_the_annotation_is_a_tool_error() -> None:
    @tool
    def broken(ticker: str) -> Price:
        return "not a price"  # type: ignore[return-value]

    with pytest.raises(ToolError, match="tool 'broken' returned a str that does not match its return annotation"):
        await ToolSpec.from_function(broken).invoke({"ticker": "X"})


async def test_what_the_tool_raises_propagates_unchanged() -> None:
    class Boom(RuntimeError):
        pass

    @tool
    def fails(x: int) -> int:
        raise Boom("kaput")

    @tool
    async def retry_me(x: int) -> int:
        raise ToolRetry("try MSFT")

    with pytest.raises(Boom, match="kaput"):
        await ToolSpec.from_function(fails).invoke({"x": 1})
    with pytest.raises(ToolRetry, match="try MSFT"):
        await ToolSpec.from_function(retry_me).invoke({"x": 1})


async def test_a_renamed_spec_names_itself_in_errors() -> None:
    renamed = ToolSpec.from_function(ToolSpec.from_function(describe), name="describe2")
    assert renamed.name == "describe2"
    with pytest.raises(ToolError, match="^tool 'describe2': invalid arguments") as info:
        await renamed.invoke({})
    assert info.value.tool == "describe2"


async def test_parameter_names_that_clash_with_pydantic_internals_still_work() -> None:
    @tool
    def odd(json: int, _private: str, model_config: bool = False) -> list[Any]:
        return [json, _private, model_config]

    spec = ToolSpec.from_function(odd)
    assert list(spec.input_schema["properties"]) == ["json", "_private", "model_config"]
    assert await spec.invoke({"json": 1, "_private": "p", "model_config": True}) == [1, "p", True]
