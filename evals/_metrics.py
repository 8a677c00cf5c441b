"""Metrics that score one run against one dataset item; pure functions on plain data.

A plan is the JSON of DESIGN.md section 3 as a dict (or its text):
``{"nodes": [{"id": 1, "tool": "search", "args": {...}}, ...]}``; an answer is a string.
A dataset item (``evals/datasets/*.jsonl``) has ``expected_tools`` (names, any order),
``expected_args`` (``[{"tool", "args": {subset that must match}}]``) and
``expected_facts`` (strings or numbers the answer must contain).

- :func:`plan_valid`: the plan is well formed (ids 1..n in order, a tool name and an
  args object per node, refs only to earlier nodes, optionally only known tools).
- :func:`tool_selection`: F1 between the *sets* of tool names used and expected
  (calling ``stock_price`` three times counts once). F1 rather than Jaccard because
  it is the usual harmonic mean of precision and recall; both are 1.0 exactly when
  the sets are equal.
- :func:`argument_accuracy`: the fraction of expected calls matched by some node of
  that tool whose args contain the expected subset, values compared leniently:
  strings ignoring case and runs of whitespace, numbers within 1e-6 relative.
- :func:`answer_accuracy`: the fraction of expected facts found in the answer.
  Strings match case-insensitively as whole words; numbers (and strings that are
  numbers, such as "1,234.5") match any number in the answer, whatever its formatting
  (``1,234.50``, ``$1234.5``), within 1e-6 relative, or when the answer shows the fact
  rounded to fewer decimals and stays within 0.1% (1609.344 is found in "1,609.34 m").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ItemScore",
    "answer_accuracy",
    "argument_accuracy",
    "numbers_in",
    "plan_valid",
    "score_item",
    "tool_selection",
]

REL_TOL = 1e-6
ROUNDED_REL_TOL = 1e-3
# a number starts a word (so "H100" holds none) but may run into a unit ("12km", "30%")
_NUMBER = re.compile(
    r"(?<![\w.])([-−]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?(?!\d)"
    r"|(?<![\w.])([-−]?)\.(\d+)(?!\d)"
)

Plan = Mapping[str, Any] | str | None


@dataclass(frozen=True, slots=True)
class ItemScore:
    """All four metrics for one item."""

    plan_valid: bool
    tool_selection: float
    argument_accuracy: float
    answer_accuracy: float


def _nodes(plan: Plan) -> list[Mapping[str, Any]]:
    """The plan's nodes that are objects; an unreadable plan has none."""
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except ValueError:
            return []
    if not isinstance(plan, Mapping) or not isinstance(plan.get("nodes"), list):
        return []
    return [node for node in plan["nodes"] if isinstance(node, Mapping)]


def _refs(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        if "$ref" in value:
            return [value["$ref"]]
        return [r for item in value.values() for r in _refs(item)]
    if isinstance(value, list):
        return [r for item in value for r in _refs(item)]
    return []


def plan_valid(plan: Plan, tools: Collection[str] | None = None) -> bool:
    """True when ``plan`` is well formed: a ``nodes`` list (empty: no tool applies), ids 1,
    2, 3, ... in order, each node with a string ``tool`` (one of ``tools`` when given) and
    an object ``args``, and every ``{"$ref": k}`` pointing to an earlier node."""
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except ValueError:
            return False
    if not isinstance(plan, Mapping) or not isinstance(plan.get("nodes"), list):
        return False
    for position, node in enumerate(plan["nodes"], start=1):
        if not isinstance(node, Mapping):
            return False
        node_id, name, args = node.get("id"), node.get("tool"), node.get("args")
        if type(node_id) is not int or node_id != position or not isinstance(name, str) or not isinstance(args, Mapping):
            return False
        if tools is not None and name not in tools:
            return False
        if any(type(ref) is not int or not 1 <= ref < position for ref in _refs(args)):
            return False
    return True


def tool_selection(plan: Plan, expected_tools: Sequence[str]) -> float:
    """F1 between the set of tool names the plan calls and ``expected_tools`` (1.0 when both are empty)."""
    used = {node.get("tool") for node in _nodes(plan)} - {None}
    expected = set(expected_tools)
    if not used and not expected:
        return 1.0
    hits = len(used & expected)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(used), hits / len(expected)
    return 2 * precision * recall / (precision + recall)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)


def _matches(actual: Any, expected: Any) -> bool:
    """Lenient equality: strings ignore case and whitespace runs, numbers a 1e-6 relative
    difference; dicts need the expected keys (a subset), lists the same length."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return _close(float(actual), float(expected))
    if isinstance(expected, str) and isinstance(actual, str):
        return " ".join(actual.casefold().split()) == " ".join(expected.casefold().split())
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return all(key in actual and _matches(actual[key], value) for key, value in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(_matches(a, e) for a, e in zip(actual, expected))
    return bool(actual is None and expected is None)


def argument_accuracy(plan: Plan, expected_args: Sequence[Mapping[str, Any]]) -> float:
    """Fraction of ``expected_args`` entries (``{"tool", "args"}``) matched by at least one
    node calling that tool with args that contain the expected ones (1.0 when none are expected)."""
    if not expected_args:
        return 1.0
    nodes = _nodes(plan)
    matched = sum(
        any(
            node.get("tool") == item["tool"] and isinstance(node.get("args"), Mapping) and _matches(node["args"], item["args"])
            for node in nodes
        )
        for item in expected_args
    )
    return matched / len(expected_args)


def numbers_in(text: str) -> list[tuple[float, int]]:
    """Every number written in ``text`` as ``(value, decimals shown)``: "1,234.50" is (1234.5, 2),
    "-40" is (-40.0, 0); a minus sign counts only at the start of a word, so dates stay positive."""
    found = []
    for m in _NUMBER.finditer(text):
        if m.group(2) is not None:
            sign, whole, fraction, exponent = m.group(1), m.group(2).replace(",", ""), m.group(3) or "", m.group(4)
        else:
            sign, whole, fraction, exponent = m.group(5), "0", m.group(6), None
        literal = f"{'-' if sign else ''}{whole}.{fraction or '0'}" + (f"e{exponent}" if exponent else "")
        decimals = len(fraction) - (int(exponent) if exponent else 0)
        found.append((float(literal), max(decimals, 0)))
    return found


def _number_fact(fact: str | int | float) -> float | None:
    if isinstance(fact, bool):
        return None
    if isinstance(fact, int | float):
        return float(fact)
    numbers = numbers_in(fact.strip())
    if len(numbers) == 1 and re.fullmatch(r"[-−]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?", fact.strip()):
        return numbers[0][0]
    return None


def _number_found(fact: float, numbers: list[tuple[float, int]]) -> bool:
    for value, decimals in numbers:
        if _close(value, fact):
            return True
        shown = round(fact, decimals)
        if _close(value, shown) and abs(value - fact) <= ROUNDED_REL_TOL * abs(fact):
            return True
    return False


def _text_found(fact: str, answer: str) -> bool:
    needle = " ".join(fact.casefold().split())
    if not needle:
        return True
    left = r"(?<!\w)" if needle[0].isalnum() else ""
    right = r"(?!\w)" if needle[-1].isalnum() else ""
    haystack = " ".join(answer.casefold().split())
    return re.search(left + re.escape(needle) + right, haystack) is not None


def answer_accuracy(answer: str, expected_facts: Sequence[str | int | float]) -> float:
    """Fraction of ``expected_facts`` found in ``answer`` (1.0 when none are expected)."""
    if not expected_facts:
        return 1.0
    numbers = numbers_in(answer)
    found = 0
    for fact in expected_facts:
        number = _number_fact(fact)
        if number is not None:
            found += _number_found(number, numbers)
        else:
            found += _text_found(str(fact), answer)
    return found / len(expected_facts)


def score_item(item: Mapping[str, Any], plan: Plan, answer: str, tools: Collection[str] | None = None) -> ItemScore:
    """Score one run (its plan and answer) against one dataset item."""
    return ItemScore(
        plan_valid=plan_valid(plan, tools),
        tool_selection=tool_selection(plan, item.get("expected_tools", [])),
        argument_accuracy=argument_accuracy(plan, item.get("expected_args", [])),
        answer_accuracy=answer_accuracy(answer, item.get("expected_facts", [])),
    )
