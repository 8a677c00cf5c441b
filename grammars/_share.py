"""Sharing repeated subschemas through ``$defs`` before a backend builds its grammar."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from reasoner.grammars._support import LIST, MAP, ONE

__all__ = ["share_repeated"]

_SHARE_MIN_SIZE: Final = 6  # keywords and subschemas below a shared subschema
_DEF_REF: Final = re.compile(r"#/(\$defs|definitions)/[^/]+")


def share_repeated(schema: dict[str, Any] | bool) -> dict[str, Any] | bool:
    """Move subschemas that occur more than once into ``$defs`` and ``$ref`` them.

    A plan schema repeats the ref alternative and the free-form value schema at every
    value position; backends build a ``$ref`` target once, so sharing them cuts llguidance's
    grammar construction about threefold on a 50-tool plan. Schemas with a ``$ref`` that is
    not ``#/$defs/<name>`` are returned as they are (moving subschemas would break it).
    """
    if not isinstance(schema, dict):
        return schema
    interned: dict[tuple[Any, ...], int] = {}  # structure (children as node numbers) -> node number
    number_of: dict[int, int] = {}  # id(subschema) -> node number
    sizes: list[int] = []
    counts: list[int] = []
    refs_ok = True

    def weight(number: int) -> int:
        return sizes[number] if number >= 0 else 1

    def intern(sub: Any) -> int:
        nonlocal refs_ok
        if not isinstance(sub, dict):
            return -2 if sub else -1  # boolean schemas
        ref = sub.get("$ref")
        if ref is not None and not (isinstance(ref, str) and _DEF_REF.fullmatch(ref)):
            refs_ok = False
        parts: list[tuple[str, Any]] = []
        size = 1
        for name, value in sub.items():
            if name in ONE:
                child: Any = intern(value)
                size += weight(child)
            elif name in LIST and isinstance(value, list):
                child = tuple(intern(v) for v in value)
                size += sum(weight(c) for c in child)
            elif name in MAP and isinstance(value, dict):
                child = tuple((k, intern(v)) for k, v in value.items())
                size += sum(weight(c) for _, c in child)
            else:
                child = _data_key(value)
                size += 1
            parts.append((name, child))
        key = tuple(parts)
        number = interned.get(key)
        if number is None:
            number = interned[key] = len(sizes)
            sizes.append(size)
            counts.append(0)
        counts[number] += 1
        number_of[id(sub)] = number
        return number

    intern(schema)
    if not refs_ok or not any(n > 1 and sizes[i] >= _SHARE_MIN_SIZE for i, n in enumerate(counts)):
        return schema
    original = schema.get("$defs", {})
    shared: dict[str, Any] = {}
    names: dict[int, str] = {}

    def rewrite(sub: Any) -> Any:
        if not isinstance(sub, dict):
            return sub
        number = number_of[id(sub)]
        if counts[number] > 1 and sizes[number] >= _SHARE_MIN_SIZE:
            if number not in names:
                name = f"_shared{len(names)}"
                while name in original:
                    name += "_"
                names[number] = name
                shared[name] = _map_subschemas(sub, rewrite)
            return {"$ref": f"#/$defs/{names[number]}"}
        return _map_subschemas(sub, rewrite)

    out = _map_subschemas({k: v for k, v in schema.items() if k != "$defs"}, rewrite)
    kept = {name: rewrite(sub) for name, sub in original.items()} if isinstance(original, dict) else {}
    out["$defs"] = {**kept, **shared}
    return out


def _data_key(value: Any) -> Any:
    """A hashable stand-in for a JSON value (true, 1 and 1.0 kept apart: sharing less is safe)."""
    if isinstance(value, dict):
        return ("{", *((k, _data_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[", *(_data_key(v) for v in value))
    return (type(value).__name__, value)


def _map_subschemas(sub: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sub.items():
        if key in ONE:
            out[key] = fn(value)
        elif key in LIST and isinstance(value, list):
            out[key] = [fn(v) for v in value]
        elif key in MAP and isinstance(value, dict):
            out[key] = {name: fn(v) for name, v in value.items()}
        else:
            out[key] = value
    return out
