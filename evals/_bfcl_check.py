"""BFCL's AST checker for Python function calls, mirrored: :func:`check_calls`.

The Berkeley Function Calling Leaderboard scores a model's calls against "possible
answers": per call, the function name and, per argument, a list of acceptable values
(``""`` in the list marks the argument optional). Its checker
(``bfcl_eval/eval_checker/ast_eval/ast_checker.py``) cannot be imported offline: the
module imports every model handler (anthropic, openai, cohere, ...) for one name
mapping. This is the same algorithm, kept line for line where it decides (quirks
included), for Python, the only language our plans call:

- *simple*: exactly one call; *multiple*: one call, checked against the one expected
  function; *parallel* / *parallel_multiple*: as many calls as expected, matched in any
  order (each expected call takes the first unmatched call that passes).
- A call passes when its name is the expected one, every ``required`` parameter is
  there, every argument is a declared parameter the answer lists, its type fits the
  declared type (``int`` is accepted for ``float``; a value of the answer's type is a
  "variable"), its value is acceptable after normalisation (strings lower-cased with
  spaces and ``,./-_*^`` removed and ``'`` read as ``"``, also inside lists and dicts),
  and every argument the answer does not mark optional is given.

``tests/evals/test_bfcl_check.py`` runs this mirror and BFCL's own checker (loaded with
its model table stubbed out) on every answer of BFCL's possible-answer files and on
perturbations of them, and requires the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["CheckResult", "check_calls", "standardize_string"]

_PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}  # fmt: skip
_NESTED = ("array", "tuple")
_PUNCTUATION = re.compile(r"[ \,\.\/\-\_\*\^]")

Call = Mapping[str, Mapping[str, Any]]  # {"function_name": {"param": value, ...}}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on one item's calls: ``valid``, else ``error`` and ``error_type`` (BFCL's)."""

    valid: bool
    error: str = ""
    error_type: str = ""


_OK = CheckResult(True)


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: no spaces or ``,./-_*^``, lower case, ``'`` as ``"``."""
    return _PUNCTUATION.sub("", text).lower().replace("'", '"')


def check_calls(functions: Sequence[Mapping[str, Any]], calls: Sequence[Call], answer: Sequence[Call], category: str) -> CheckResult:
    """Score ``calls`` (``[{name: {param: value}}]``, in the order the model made them)
    against BFCL's possible ``answer`` for an item of ``category`` (``simple``,
    ``multiple``, ``parallel``, ``parallel_multiple`` or their ``live_`` variants).

    ``functions`` are the item's function descriptions (BFCL's dialect: ``parameters``
    with ``type: dict``, ``properties``, ``required``). Irrelevance is not scored here:
    there, any call is wrong.
    """
    if "parallel" in category:
        return _parallel_no_order(functions, calls, answer)
    if "multiple" in category:
        if len(calls) != len(answer):
            return CheckResult(False, "Wrong number of functions.", "multiple_function_checker:wrong_count")
        expected = next(iter(answer[0]))
        return _simple(_find(functions, expected), calls[0], answer[0])
    if len(calls) != 1:
        return CheckResult(False, "Wrong number of functions.", "simple_function_checker:wrong_count")
    return _simple(functions[0], calls[0], answer[0])


def _find(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for function in functions:
        if function["name"] == name:
            return function
    raise KeyError(f"the item's functions have no {name!r}, which its possible answer calls")


def _answer_type(possible: Sequence[Any]) -> type | None:
    for value in possible:
        if value != "":
            return type(value)
    return None


def _type_check(param: str, value: Any, possible: Sequence[Any], described: str, expected: type, nested: type | None) -> tuple[CheckResult, bool]:
    """``(result, is_variable)`` as BFCL's ``type_checker``: nested types one level deep."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    result = _OK
    if type(value) == expected:  # noqa: E721 - BFCL compares exact types (bool is not int)
        if nested is None:
            return _OK, is_variable
        for item in possible:
            fits = True
            if type(item) == list:  # noqa: E721
                for element in cast("list[Any]", value):  # the declared type is a list (nested is set)
                    inner, _ = _type_check(param, element, item, str(nested), nested, None)
                    if not inner.valid:
                        fits = False
                        break
            if fits:
                return _OK, is_variable
        result = CheckResult(
            False,
            f"Nested type checking failed for parameter {param!r}. Expected outer type {described} with inner type {nested}. Parameter value: {value!r}.",
            "type_error:nested",
        )
    if answer_type is not None and type(value) == answer_type:  # noqa: E721 - a variable stands for the value
        return result, True
    return CheckResult(
        False,
        f"Incorrect type for parameter {param!r}. Expected type {described}, got {type(value).__name__}. Parameter value: {value!r}.",
        "type_error:simple",
    ), False


def _standardized(values: Sequence[Any]) -> list[Any]:
    return [standardize_string(v) if type(v) == str else v for v in values]  # noqa: E721


def _string_check(param: str, value: str, possible: Sequence[Any]) -> CheckResult:
    if standardize_string(value) not in [standardize_string(v) for v in possible if type(v) == str]:  # noqa: E721
        return CheckResult(False, f"Invalid value for parameter {param!r}: {value!r}. Expected one of {list(possible)}. Case insensitive.", "value_error:string")
    return _OK


def _list_check(param: str, value: list[Any], possible: Sequence[Any]) -> CheckResult:
    if _standardized(value) not in [_standardized(v) for v in possible]:
        return CheckResult(False, f"Invalid value for parameter {param!r}: {value!r}. Expected one of {list(possible)}.", "value_error:list/tuple")
    return _OK


def _dict_check(value: Mapping[str, Any], possible: Sequence[Any]) -> CheckResult:
    result = CheckResult(False, "", "dict_checker:unclear")
    for option in possible:
        if option == "":
            continue
        result = CheckResult(False, "", "dict_checker:unclear")
        fits = True
        for key, item in value.items():
            if key not in option:
                result, fits = CheckResult(False, f"Unexpected dict key parameter: '{key}'.", "value_error:dict_key"), False
                break
            acceptable = _standardized(option[key])
            if (standardize_string(item) if type(item) == str else item) not in acceptable:  # noqa: E721
                result = CheckResult(False, f"Invalid value for parameter {key!r}: {item!r}. Expected one of {acceptable}.", "value_error:dict_value")
                fits = False
                break
        for key, item in option.items():
            if key not in value and "" not in item:
                result, fits = CheckResult(False, f"Missing dict key parameter: '{key}'.", "value_error:dict_key"), False
                break
        if fits:
            return _OK
    return result


def _list_dict_check(value: list[Any], possible: Sequence[Any]) -> CheckResult:
    result = CheckResult(False, "", "list_dict_checker:unclear")
    for option in possible:
        if len(value) != len(option):
            result = CheckResult(False, "Wrong number of dictionaries in the list.", "value_error:list_dict_count")
            continue
        fits = True
        for index, item in enumerate(value):
            result = _dict_check(item, [option[index]])
            if not result.valid:
                fits = False
                break
        if fits:
            return _OK
    return result


def _simple(function: Mapping[str, Any], call: Call, answer: Call) -> CheckResult:
    """One call against one expected call (BFCL's ``simple_function_checker``, Python)."""
    possible = next(iter(answer.values()))
    name = function["name"]
    details = function["parameters"]["properties"]
    if name not in call:
        return CheckResult(False, f"Function name {name!r} not found in model output.", "simple_function_checker:wrong_func_name")
    args = call[name]
    for param in function["parameters"].get("required", []):
        if param not in args:
            return CheckResult(False, f"Missing required parameter: {param!r}.", "simple_function_checker:missing_required")
    for param, value in args.items():
        if param not in details or param not in possible:
            return CheckResult(False, f"Unexpected parameter: {param!r}.", "simple_function_checker:unexpected_param")
        described = details[param]["type"]
        expected = _PYTHON_TYPES[described]
        nested = _PYTHON_TYPES[details[param]["items"]["type"]] if described in _NESTED else None
        if described == "tuple" and type(value) == tuple:  # noqa: E721
            value = list(value)
        if described == "float" and type(value) == int:  # noqa: E721 - Python's int-to-float promotion
            value = float(value)
        typed, is_variable = _type_check(param, value, possible[param], described, expected, nested)
        if not typed.valid:
            return typed
        if not is_variable:
            if expected is dict:
                checked = _dict_check(value, possible[param])
            elif expected is list and nested is dict:
                checked = _list_dict_check(value, possible[param])
            elif expected is str:
                checked = _string_check(param, value, possible[param])
            elif expected is list:
                checked = _list_check(param, value, possible[param])
            else:
                checked = None
            if checked is not None:
                if not checked.valid:
                    return checked
                continue
        if value not in possible[param]:
            return CheckResult(False, f"Invalid value for parameter {param!r}: {value!r}. Expected one of {possible[param]}.", "value_error:others")
    for param in possible:
        if param not in args and "" not in possible[param]:
            return CheckResult(False, f"Optional parameter {param!r} not provided and not marked as optional.", "simple_function_checker:missing_optional")
    return _OK


def _parallel_no_order(functions: Sequence[Mapping[str, Any]], calls: Sequence[Call], answer: Sequence[Call]) -> CheckResult:
    if len(calls) != len(answer):
        return CheckResult(False, "Wrong number of functions.", "parallel_function_checker_no_order:wrong_count")
    matched: list[int] = []
    for index, expected in enumerate(answer):
        function = _find(functions, next(iter(expected)))
        result = _OK
        for position, call in enumerate(calls):
            if position in matched:
                continue
            result = _simple(function, call, expected)
            if result.valid:
                matched.append(position)
                break
        if not result.valid:
            left = [i for i in range(len(calls)) if i not in matched]
            return CheckResult(
                False,
                f"Could not find a matching function among index {left} of model output for index {index} of possible answers.",
                "parallel_function_checker_no_order:cannot_find_match",
            )
    return _OK
