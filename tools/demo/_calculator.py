"""calculator: arithmetic evaluated by walking the Python AST (never ``eval``).

Supported: numbers, ``+ - * / // % **`` (``^`` is read as power, as on a calculator),
unary ``+``/``-``, parentheses, ``sqrt log log10 exp round abs min max``, and the
constants ``pi`` and ``e``, and named variables given in ``variables`` (so a plan can bind
them to earlier results with refs: ``{"expression": "a*3", "variables": {"a": {"$ref": 1,
"path": "close"}}}``, instead of copying numbers into the string). Everything else (names, attributes, strings, comparisons,
comprehensions, ...) is refused with :class:`~reasoner.errors.ToolRetry`. Integer
powers and intermediate integers are bounded (``MAX_INT_BITS``) so no expression can
exhaust memory or time.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ToolRetry
from reasoner.tools import tool

__all__ = ["CalcResult", "calculator"]

MAX_EXPRESSION_CHARS = 500
MAX_INT_BITS = 4096  # about 1e1233: far past anything a float can hold
MAX_VARIABLES = 16
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_SUPPORTED = "numbers, + - * / // % ** (or ^), parentheses, sqrt, log, log10, exp, round, abs, min, max, pi, e, names bound in variables"

Number = int | float


def _log(x: Number, base: Number = math.e) -> float:
    return math.log(x, base)


def _round(x: Number, digits: Number = 0) -> Number:
    # half away from zero, on the shortest decimal form: round(2.5) == 3, round(2.675, 2) == 2.68
    if not isinstance(digits, int) or not -100 <= digits <= 100:
        raise ValueError("round(x, digits) needs a whole number of digits between -100 and 100")
    if not math.isfinite(x):
        raise ValueError("round() needs a finite number")
    exact = Decimal(repr(x))
    with localcontext() as ctx:  # digits enough for the result: round(1e20, 10) has 31
        ctx.prec = max(exact.adjusted() + 1, 1) + max(digits, 0) + 2
        rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(rounded) if digits <= 0 else float(rounded)


# name -> (function, fewest args, most args)
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    "sqrt": (math.sqrt, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "round": (_round, 1, 2),
    "abs": (abs, 1, 1),
    "min": (min, 1, 50),
    "max": (max, 1, 50),
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


class CalcResult(BaseModel):
    """The value of an arithmetic expression."""

    model_config = ConfigDict(frozen=True)

    expression: str
    value: float
    text: str


class _Refused(Exception):
    """An expression outside the supported subset; the message says which part."""


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0:
        if abs(base) > 1 and abs(base).bit_length() * exponent > MAX_INT_BITS:
            raise _Refused(f"{base} ** {exponent} is too large (more than {MAX_INT_BITS} bits)")
        result: int = base**exponent
        return result
    return math.pow(base, exponent)  # ValueError for (-8) ** 0.5 instead of a complex number


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _Refused(f"an intermediate result is too large (more than {MAX_INT_BITS} bits)")
    return value


def _evaluate(node: ast.AST, names: Mapping[str, Number]) -> Number:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
        given = f"the variables given are {', '.join(sorted(set(names) - set(_CONSTANTS)))}" if len(names) > len(_CONSTANTS) else "no variables were given"
        raise _Refused(f"{node.id!r} is not a known name ({given}); bind it in variables")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        function = _BINARY.get(type(node.op))
        if function is not None:
            return _checked(function(left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        name = node.func.id
        function, low, high = _FUNCTIONS[name]
        if node.keywords or not low <= len(node.args) <= high:
            raise _Refused(f"{name}() takes {low} to {high} plain arguments" if low != high else f"{name}() takes {low} argument")
        return function(*(_evaluate(arg, names) for arg in node.args))
    if isinstance(node, ast.Tuple):
        raise _Refused("a comma outside a function call (write 1234, not 1,234)")
    raise _Refused(f"{ast.unparse(node)!r} is not supported")


def _format(value: float) -> str:
    if value.is_integer() and abs(value) <= 2**53:  # exact integers print without ".0"
        return str(int(value))
    return format(value, ".12g")


def _names(variables: Mapping[str, float] | None) -> dict[str, Number]:
    names: dict[str, Number] = dict(_CONSTANTS)
    if not variables:
        return names
    if len(variables) > MAX_VARIABLES:
        raise ToolRetry(f"calculator: {len(variables)} variables given, more than {MAX_VARIABLES}; combine steps")
    for name, value in variables.items():
        if not _VARIABLE.fullmatch(name) or name in _FUNCTIONS or name in _CONSTANTS:
            raise ToolRetry(
                f"calculator: variable name {name!r} is not allowed; use a short name of letters, digits and _ "
                f"(not {', '.join(sorted({*_FUNCTIONS, *_CONSTANTS}))})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ToolRetry(f"calculator: variable {name!r} is {value!r}, not a finite number")
        names[name] = value
    return names


@tool(timeout=10, cache=True)
def calculator(expression: str, variables: dict[str, float] | None = None) -> CalcResult:
    """Evaluate arithmetic such as "(3 + 4) * 2 ** 3", or "a * 3" with variables {"a": 2.5}.

    Args:
        expression: Math over numbers and variables. Supports + - * / // % ** ^, parentheses, sqrt, log, round, abs, min, max, pi, e.
        variables: Numbers by name; a value may be a ref to an earlier result.

    Raises:
        ToolRetry: the expression is malformed, uses anything else (an unbound name), divides by
            zero, or is too large; a variable is misnamed or not a finite number.
    """
    names = _names(variables)
    text = expression.strip()
    if not text:
        raise ToolRetry(f"calculator: the expression is empty; write arithmetic using {_SUPPORTED}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolRetry(f"calculator: the expression has {len(text)} characters, more than {MAX_EXPRESSION_CHARS}; split it up")
    source = text.replace("^", "**").replace("×", "*").replace("÷", "/").replace("−", "-")
    try:
        tree = ast.parse(source, mode="eval")
        value = _evaluate(tree, names)
        result = float(value)
    except SyntaxError:
        raise ToolRetry(f"calculator: {expression!r} is not a well-formed expression; use {_SUPPORTED}") from None
    except _Refused as exc:
        raise ToolRetry(f"calculator: in {expression!r}, {exc}; use only {_SUPPORTED}") from None
    except ZeroDivisionError:
        raise ToolRetry(f"calculator: {expression!r} divides by zero") from None
    except OverflowError:
        raise ToolRetry(f"calculator: the result of {expression!r} is too large for a floating-point number") from None
    except (ValueError, TypeError) as exc:  # math domain errors: sqrt(-1), log(0), round(2, 0.5)
        raise ToolRetry(f"calculator: {expression!r} cannot be evaluated: {exc}") from None
    except (RecursionError, MemoryError):
        raise ToolRetry(f"calculator: {expression!r} is nested too deeply; simplify it") from None
    if not math.isfinite(result):
        raise ToolRetry(f"calculator: {expression!r} does not have a finite value")
    return CalcResult(expression=expression, value=result, text=_format(result))
