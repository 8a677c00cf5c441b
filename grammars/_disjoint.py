"""When the branches of a ``oneOf`` are provably disjoint, so that generating it as ``anyOf``
(as every grammar backend does) is exact: different const/enum values or types, or objects
told apart by a required property's const/enum values or by ``additionalProperties: false``.
Only what is certain counts; ``resolve`` follows a ``$ref`` to the subschema it names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

__all__ = ["pairwise_disjoint"]

Resolve = Callable[[Any], Any]

_NUMBER_TYPES: Final = frozenset({"integer", "number"})
_OBJECT: Final = frozenset({"object"})


def pairwise_disjoint(branches: list[Any], resolve: Resolve) -> bool:
    if _discriminated(branches, resolve):
        return True
    return all(_disjoint(a, b, resolve) for i, a in enumerate(branches) for b in branches[i + 1 :])


def _discriminated(branches: list[Any], resolve: Resolve) -> bool:
    """One required property whose const/enum values no two branches share (linear time)."""
    if not branches or not all(
        isinstance(b, dict) and _types(b) == _OBJECT and isinstance(b.get("properties"), dict) for b in branches
    ):
        return False
    common = set.intersection(*(set(b.get("required", ())) for b in branches))
    for name in common:
        seen: set[str] = set()
        total = 0
        for branch in branches:
            values = _values(resolve(branch["properties"].get(name)))
            if values is None:
                break
            seen |= values
            total += len(values)
        else:
            if len(seen) == total:
                return True
    return False


def _disjoint(a: Any, b: Any, resolve: Resolve) -> bool:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return a is False or b is False
    values_a, values_b = _values(a), _values(b)
    if values_a is not None and values_b is not None and not (values_a & values_b):
        return True
    types_a, types_b = _types(a), _types(b)
    if types_a is not None and types_b is not None and not _types_overlap(types_a, types_b):
        return True
    if _types(a) != _OBJECT or _types(b) != _OBJECT:
        return False  # properties and required say nothing about other types
    props_a, props_b = a.get("properties", {}), b.get("properties", {})
    if not isinstance(props_a, dict) or not isinstance(props_b, dict):
        return False
    required_a, required_b = set(a.get("required", ())), set(b.get("required", ()))
    for name in required_a & required_b:
        va = _values(resolve(props_a.get(name)))
        vb = _values(resolve(props_b.get(name)))
        if va is not None and vb is not None and not (va & vb):
            return True
    # a closed object cannot hold a property the other one requires
    return (_closed(a) and bool(required_b - set(props_a))) or (_closed(b) and bool(required_a - set(props_b)))


def _closed(schema: dict[str, Any]) -> bool:
    return schema.get("additionalProperties") is False and "patternProperties" not in schema


def _values(schema: Any) -> frozenset[str] | None:
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return frozenset({_value_key(schema["const"])})
    if isinstance(schema.get("enum"), list):
        return frozenset(_value_key(v) for v in schema["enum"])
    return None


def _value_key(value: Any) -> str:
    # JSON Schema equality: 1 == 1.0, but true != 1
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int | float):
            return float(v)
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    return json.dumps(norm(value), sort_keys=True)


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    t = schema.get("type")
    if isinstance(t, str):
        return frozenset({t})
    if isinstance(t, list) and all(isinstance(x, str) for x in t):
        return frozenset(t)
    return None


def _types_overlap(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a & b) or (bool(a & _NUMBER_TYPES) and bool(b & _NUMBER_TYPES))
