"""calculator: safe arithmetic by AST walk; everything else is refused with a clear message."""

from __future__ import annotations

import math
import re

import pytest

from reasoner.errors import ToolRetry
from reasoner.tools.demo import calculator


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("(3 + 4) * 2 ** 3", 56),
        ("2^10", 1024),  # ^ is power, as on a calculator
        ("2^3 + 1", 9),  # ... with power's precedence, not XOR's
        ("-2 ** 2", -4),
        ("10 / 4", 2.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("sqrt(2) * pi", math.sqrt(2) * math.pi),
        ("log(100, 10)", 2),
        ("log(e)", 1),
        ("log10(1000)", 3),
        ("exp(0)", 1),
        ("abs(-3.5)", 3.5),
        ("min(4, 2, 8) + max(1, 9)", 11),
        ("round(2.5)", 3),  # half away from zero, not banker's rounding
        ("round(2.675, 2)", 2.68),
        ("round(1234.5678, -2)", 1200),
        ("3 × 4 − 1 ÷ 2", 11.5),
        ("2 ** -1", 0.5),
        ("1e3 + .5", 1000.5),
    ],
)
def test_arithmetic(expression: str, value: float) -> None:
    result = calculator(expression)
    assert result.value == pytest.approx(value)
    assert result.expression == expression


def test_text_prints_whole_numbers_without_a_decimal_point() -> None:
    assert calculator("6 * 7").text == "42"
    assert calculator("1 / 3").text == "0.333333333333"


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('echo hacked')",
        "open('/etc/passwd')",
        "x + 1",
        "(1).real",
        "[1, 2][0]",
        "lambda: 1",
        "[i for i in range(3)]",
        "'a' * 3",
        "1 < 2",
        "True + 1",
        "1j * 2",
        "max(*[1, 2])",
        "round(x=2)",
    ],
)
def test_anything_but_arithmetic_is_refused_without_running_it(expression: str) -> None:
    with pytest.raises(ToolRetry, match="not supported|takes|well-formed|not a known name"):
        calculator(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("1 / 0", "divides by zero"),
        ("5 % 0", "divides by zero"),
        ("sqrt(-1)", "math domain error"),
        ("(-8) ** (1 / 3)", "math domain error"),
        ("9 ** 9 ** 9", "too large"),
        ("2 ** 10000", "too large"),
        ("10.0 ** 400", "too large"),
        ("1e308 * 10", "finite"),
        ("1,234 + 1", "write 1234, not 1,234"),
        ("(1 + 2", "well-formed"),
        ("", "empty"),
        ("1+" * 300 + "1", "more than 500"),
    ],
)
def test_impossible_or_unbounded_expressions_say_why(expression: str, reason: str) -> None:
    with pytest.raises(ToolRetry, match=reason):
        calculator(expression)


def test_variables_bind_names_in_the_expression() -> None:
    result = calculator("(a - b) / b * 100", variables={"a": 930.1, "b": 878.57})
    assert result.value == pytest.approx((930.1 - 878.57) / 878.57 * 100)
    assert calculator("price * 3", variables={"price": 2.5}).text == "7.5"


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"sqrt": 2.0}, "variable name 'sqrt' is not allowed"),
        ({"pi": 3.0}, "variable name 'pi' is not allowed"),
        ({"a b": 1.0}, "variable name 'a b' is not allowed"),
        ({"a": float("nan")}, "not a finite number"),
        ({f"v{i}": 1.0 for i in range(17)}, "more than 16"),
    ],
)
def test_bad_variables_are_refused_with_the_reason(variables: dict[str, float], reason: str) -> None:
    with pytest.raises(ToolRetry, match=re.escape(reason)):
        calculator("1", variables=variables)


def test_an_unbound_name_says_which_variables_exist() -> None:
    with pytest.raises(ToolRetry, match=r"'c' is not a known name \(the variables given are a, b\)"):
        calculator("a + c", variables={"a": 1.0, "b": 2.0})
    with pytest.raises(ToolRetry, match="no variables were given"):
        calculator("x * 2")


async def test_a_plan_binds_variables_to_earlier_results_with_refs() -> None:
    from reasoner import Engine
    from reasoner.planner import Plan
    from reasoner.tools.demo import demo_tools

    plan = Plan.from_json(
        '{"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"NFLX"}},'
        '{"id":2,"tool":"calculator","args":{"expression":"a*3","variables":{"a":{"$ref":1,"path":"close"}}}}]}'
    )
    result = await Engine(tools=demo_tools()).execute(plan)
    assert result.outputs[2]["value"] == pytest.approx(930.1 * 3)


def test_variables_in_the_plan_schema_take_numbers_or_refs() -> None:
    import jsonschema

    from reasoner.planner import plan_schema
    from reasoner.tools import ToolRegistry
    from reasoner.tools.demo import demo_tools

    schema = plan_schema(ToolRegistry(demo_tools()), strict=True, unknown_tool_paths="union")  # as the loop builds it
    ok = {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "NFLX"}},
                    {"id": 2, "tool": "calculator", "args": {"expression": "a*3", "variables": {"a": {"$ref": 1, "path": "close"}}}}]}
    jsonschema.validate(ok, schema)
    bad = {"nodes": [{"id": 1, "tool": "calculator", "args": {"expression": "a*3", "variables": {"a": "ten"}}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
