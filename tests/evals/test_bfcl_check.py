"""The BFCL checker mirror gives BFCL's own verdicts, on every possible answer BFCL ships.

BFCL's checker (``bfcl_eval.eval_checker.ast_eval.ast_checker``) imports every model
handler through one module, ``bfcl_eval.constants.model_config``; with that module
stubbed out it runs offline, so each case below is judged by both and must agree.
Cases: the answer itself (the first acceptable value of each argument), and perturbations
of it a model might write (a missing, extra or wrong argument, another string case or
spacing, an int for a float, calls reordered, one call too few).
"""

from __future__ import annotations

import copy
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from reasoner.evals import check_calls, load_bfcl
from reasoner.evals._bfcl_check import standardize_string

pytest.importorskip("bfcl_eval", reason="bfcl-eval is installed by scripts/setup.sh (pip install --no-deps bfcl-eval)")

AST = ["simple", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"]


@pytest.fixture(scope="module")
def bfcl_checker() -> Iterator[Any]:
    """BFCL's own ``ast_checker``, imported with its model table stubbed (our model keeps dotted names)."""
    config = types.ModuleType("bfcl_eval.constants.model_config")

    class _Table(dict[str, Any]):
        def __missing__(self, key: str) -> Any:
            return types.SimpleNamespace(underscore_to_dot=False)

    config.MODEL_CONFIG_MAPPING = _Table()  # type: ignore[attr-defined]
    saved = {name: module for name, module in sys.modules.items() if name.startswith("bfcl_eval")}
    sys.modules["bfcl_eval.constants.model_config"] = config
    sys.modules.pop("bfcl_eval.eval_checker.ast_eval.ast_checker", None)
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

        yield lambda functions, calls, answer, category: ast_checker(functions, calls, answer, Language.PYTHON, category, "reasoner")["valid"]
    finally:
        for name in [n for n in sys.modules if n.startswith("bfcl_eval")]:
            del sys.modules[name]
        sys.modules.update(saved)


def _first(values: list[Any]) -> Any:
    return next(v for v in values if v != "")


def canonical(answer: tuple[Mapping[str, Any], ...]) -> list[dict[str, dict[str, Any]]]:
    """The calls the answer describes: each argument's first acceptable value, optional ones left out."""
    return [{name: {p: _first(v) for p, v in params.items() if any(x != "" for x in v)}} for call in answer for name, params in call.items()]


def perturbations(calls: list[dict[str, dict[str, Any]]], functions: Any) -> Iterator[tuple[str, list[dict[str, dict[str, Any]]]]]:
    for index, call in enumerate(calls):
        name, args = next(iter(call.items()))
        for param, value in args.items():
            changed = copy.deepcopy(calls)
            del changed[index][name][param]
            yield f"drop {param}", changed
            changed = copy.deepcopy(calls)
            if isinstance(value, str):
                changed[index][name][param] = value.upper() + " "
                yield f"upper-case {param}", changed
                changed = copy.deepcopy(calls)
                changed[index][name][param] = value + "x"
                yield f"wrong {param}", changed
            elif isinstance(value, bool):
                changed[index][name][param] = not value
                yield f"flip {param}", changed
            elif isinstance(value, int):
                changed[index][name][param] = float(value)
                yield f"float {param}", changed
                changed = copy.deepcopy(calls)
                changed[index][name][param] = value + 1
                yield f"off by one {param}", changed
            elif isinstance(value, float) and value.is_integer():
                changed[index][name][param] = int(value)
                yield f"int for float {param}", changed
            elif isinstance(value, list):
                changed[index][name][param] = list(reversed(value)) if len(value) > 1 else [*value, *value]
                yield f"reorder {param}", changed
        changed = copy.deepcopy(calls)
        changed[index][name]["unexpected_argument"] = 1
        yield "extra argument", changed
    if len(calls) > 1:
        yield "reversed calls", list(reversed(calls))
        yield "one call too few", calls[:-1]
    yield "a call too many", [*calls, calls[0]]


@pytest.mark.parametrize("category", AST)
def test_the_mirror_agrees_with_bfcl_on_every_answer_and_its_perturbations(category: str, bfcl_checker: Any) -> None:
    items = load_bfcl(category).items
    cases = passed = 0
    for item in items:
        assert item.answer is not None
        calls = canonical(item.answer)
        for what, changed in [("answer", calls), *perturbations(calls, item.functions)]:
            theirs = bfcl_checker(list(item.functions), copy.deepcopy(changed), copy.deepcopy(list(item.answer)), category)
            ours = check_calls(item.functions, changed, item.answer, category)
            assert ours.valid == theirs, f"{item.id}, {what}: BFCL says {theirs}, the mirror {ours} for {changed}"
            cases += 1
            passed += what == "answer" and ours.valid
    assert passed >= 0.9 * len(items), f"only {passed}/{len(items)} of BFCL's own answers pass: the canonical calls are wrong"
    assert cases > 3 * len(items)


def test_normalisation_and_verdicts_on_hand_written_cases() -> None:
    assert standardize_string("April 1, 2024") == standardize_string("april 1 2024") == "april12024"
    functions = [
        {"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "float"}, "city": {"type": "string"}}, "required": ["x"]}}
    ]
    answer = ({"f": {"x": [2.0], "city": ["New York", ""]}},)
    assert check_calls(functions, [{"f": {"x": 2}}], answer, "simple").valid  # int for float, optional left out
    assert check_calls(functions, [{"f": {"x": 2.0, "city": "new-york"}}], answer, "simple").valid
    wrong = check_calls(functions, [{"f": {"x": 2.0, "city": "Boston"}}], answer, "simple")
    assert not wrong.valid and wrong.error_type == "value_error:string"
    assert check_calls(functions, [{"f": {"city": "Boston"}}], answer, "simple").error_type == "simple_function_checker:missing_required"
    assert check_calls(functions, [{"f": {"x": 2.0}}, {"f": {"x": 2.0}}], answer, "simple").error_type == "simple_function_checker:wrong_count"
    assert check_calls(functions, [{"g": {"x": 2.0}}], answer, "simple").error_type == "simple_function_checker:wrong_func_name"
