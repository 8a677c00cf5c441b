from __future__ import annotations

import functools
import math

import pytest

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.tools import ToolSpec, tool


def test_bare_decorator_returns_the_function_itself_and_attaches_the_spec() -> None:
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    decorated = tool(add)

    assert decorated is add
    assert add(1) == 3  # still callable as before
    spec = add.__reasoner_tool__  # type: ignore[attr-defined]
    assert isinstance(spec, ToolSpec)
    assert (spec.name, spec.description, spec.fn, spec.is_async) == ("add", "Add two numbers.", add, False)
    assert (spec.timeout, spec.retries, spec.cache, spec.max_concurrency, spec.requires_approval) == (
        None,
        0,
        False,
        None,
        False,
    )


async def test_decorator_with_every_option_on_an_async_function() -> None:
    @tool(
        name="prices.latest",
        description="Latest price.",
        timeout=5,
        retries=2,
        cache=True,
        max_concurrency=4,
        requires_approval=True,
    )
    async def latest(ticker: str) -> float:
        """Ignored: description= wins."""
        return 1.5

    spec = latest.__reasoner_tool__  # type: ignore[attr-defined]
    assert spec.name == "prices.latest"
    assert spec.description == "Latest price."
    assert (spec.timeout, spec.retries, spec.cache, spec.max_concurrency, spec.requires_approval) == (5, 2, True, 4, True)
    assert spec.is_async
    assert await latest("MSFT") == 1.5  # the coroutine function is unchanged


def test_decorator_called_with_empty_parentheses() -> None:
    @tool()
    def ping() -> str:
        return "pong"

    assert ping() == "pong"
    assert ping.__reasoner_tool__.name == "ping"  # type: ignore[attr-defined]


def test_from_function_returns_the_attached_spec_and_options_override_it() -> None:
    @tool(timeout=3)
    def search(query: str) -> list[str]:
        return [query]

    attached = search.__reasoner_tool__  # type: ignore[attr-defined]
    assert ToolSpec.from_function(search) is attached
    retried = ToolSpec.from_function(search, retries=4)
    assert (retried.timeout, retried.retries, retried.name) == (3, 4, "search")
    assert attached.retries == 0  # the attached spec is not mutated


def test_a_wrapper_made_with_functools_wraps_gets_its_own_spec() -> None:
    @tool
    def inner(x: int) -> int:
        return x

    @functools.wraps(inner)
    def outer(x: int) -> int:
        return inner(x) + 1

    spec = ToolSpec.from_function(outer)
    assert spec.fn is outer  # not the wrapped function's copied __reasoner_tool__


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.5}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"retries": -1}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"cache": "yes"}, "cache"),
        ({"requires_approval": 1}, "requires_approval"),
    ],
)
def test_out_of_range_options_are_refused_naming_the_option(options: dict[str, object], option: str) -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match=rf"option {option}=") as info:
        tool(**options)(f)  # type: ignore[call-overload]
    assert info.value.tool == "f"


def test_an_unknown_option_is_refused_with_a_suggestion() -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="unknown tool option 'timout'; did you mean 'timeout'"):
        tool(timout=3)(f)  # type: ignore[call-overload]


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(ToolDefinitionError, match="lambda.*pass name="):
        tool(lambda x: x)

    named = ToolSpec.from_function(_annotated_lambda(), name="double")
    assert named.name == "double"


def _annotated_lambda() -> object:
    fn = lambda x: x * 2  # noqa: E731
    fn.__annotations__ = {"x": int, "return": int}
    return fn


@pytest.mark.parametrize("name", ["has space", "1st", "dash-name", "trailing.", "", "a..b"])
def test_names_must_be_identifiers_joined_by_dots(name: str) -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ToolDefinitionError, match="invalid tool name"):
        tool(name=name)(f)


def test_dotted_names_are_accepted() -> None:
    def f(x: int) -> int:
        return x

    assert tool(name="math.factorial")(f).__reasoner_tool__.name == "math.factorial"  # type: ignore[attr-defined]


def test_passing_the_name_positionally_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"@tool\(name='search'\)"):
        tool("search")  # type: ignore[call-overload]


def test_a_bound_method_cannot_carry_the_spec_but_from_function_works() -> None:
    class Quotes:
        def latest(self, ticker: str) -> float:
            """Latest quote."""
            return 2.0

    bound = Quotes().latest
    with pytest.raises(ToolDefinitionError, match="cannot attach the spec"):
        tool(bound)
    spec = ToolSpec.from_function(bound)
    assert list(spec.input_schema["properties"]) == ["ticker"]  # self is not a parameter
