"""Schemas no value can satisfy, found before a backend is asked, so the refusal names
the keyword and where it is (a backend says only "unsatisfiable", or fails to read it).

Only what is certain is reported: ``false`` where a value must exist (the root, a
required property, an item below ``minItems``), a required property that
``additionalProperties: false`` forbids, ``allOf`` branches with no type in common,
an empty ``enum``, ``enum``/``const`` with no value of the declared type, inverted bounds, and ``anyOf``/
``oneOf`` whose every branch is one of these; object and array constraints count only
where the type is that alone (a string satisfies ``required`` vacuously). Anything subtler
is left to the backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reasoner.grammars._jsonschema import resolve_pointer

__all__ = ["Unsatisfiable", "unsatisfiable"]


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """Why no value fits: ``keyword`` (``"false"`` for a ``false`` subschema) in the
    subschema at ``pointer``, and a message that names both."""

    keyword: str
    pointer: str
    message: str

_MAX_DEPTH = 64
_TYPES = ("null", "boolean", "object", "array", "number", "string")
# bounds that contradict each other rule out every value only where the type is theirs
_BOUNDS = (("minimum", "maximum", "number"), ("minLength", "maxLength", "string"), ("minItems", "maxItems", "array"), ("minProperties", "maxProperties", "object"))


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    """The JSON types ``schema`` admits by its ``type`` (None: any); integer counts as number."""
    declared = schema.get("type")
    if declared is None:
        return None
    names = declared if isinstance(declared, list) else [declared]
    return {"number" if t == "integer" else t for t in names if isinstance(t, str)}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "?"


def unsatisfiable(schema: Any, root: Any = None, pointer: str = "#", depth: int = 0) -> Unsatisfiable | None:
    """Why no JSON value satisfies ``schema``, for a reason this module can prove, else None."""
    root = schema if root is None else root
    if schema is False:
        return Unsatisfiable("false", pointer, f"the schema at {pointer} is false: no value is valid there")
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return None
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        target = resolve_pointer(root, schema["$ref"])
        if target is not None:
            found = unsatisfiable(target, root, schema["$ref"], depth + 1)
            if found is not None:
                return found
    types = _types(schema)
    for low, high, kind in _BOUNDS:
        a, b = schema.get(low), schema.get(high)
        if types == {kind} and isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > b:
            return Unsatisfiable(low, pointer, f"{pointer} has {low} {a} above {high} {b}: no value is valid there")
    if schema.get("enum") == []:
        return Unsatisfiable("enum", pointer, f"{pointer} has an empty enum: no value is valid there")
    for keyword, values in (("enum", schema.get("enum")), ("const", [schema["const"]] if "const" in schema else None)):
        if isinstance(values, list) and types is not None and not any(_type_of(v) in types or (_type_of(v) == "number" and "number" in types) for v in values):
            why = f"{pointer} has {keyword} values none of which is of its type {schema.get('type')!r}: no value is valid there"
            return Unsatisfiable(keyword, pointer, why)
    branches = [b for b in schema.get("allOf", ()) if isinstance(b, Mapping)]
    declared = [t for t in (_types(b) for b in [schema, *branches]) if t is not None]
    if declared and not set.intersection(*declared) & set(_TYPES):
        listed = ", ".join(str(sorted(t)) for t in declared)
        return Unsatisfiable("allOf", pointer, f"{pointer}: the types its allOf requires have nothing in common ({listed})")
    for i, branch in enumerate(schema.get("allOf", ())):
        found = unsatisfiable(branch, root, f"{pointer}/allOf/{i}", depth + 1)
        if found is not None:
            return found
    for keyword in ("anyOf", "oneOf"):
        options = schema.get(keyword)
        if isinstance(options, list) and options:
            found_all = [unsatisfiable(b, root, f"{pointer}/{keyword}/{i}", depth + 1) for i, b in enumerate(options)]
            first = found_all[0]
            if first is not None and all(f is not None for f in found_all):
                return Unsatisfiable(keyword, pointer, f"{pointer}: no branch of its {keyword} can be satisfied ({first.message}, ...)")
    if types == {"object"}:  # (required and items constrain only objects and arrays)
        properties: Mapping[str, Any] = schema["properties"] if isinstance(schema.get("properties"), Mapping) else {}
        for name in schema.get("required", ()) if isinstance(schema.get("required"), list) else ():
            if not isinstance(name, str):
                continue
            where = f"{pointer}/properties/{_escape(name)}"
            if name in properties:
                found = unsatisfiable(properties[name], root, where, depth + 1)
                if found is not None and found.keyword == "false":
                    return Unsatisfiable("required", pointer, f"required property {name!r}: {found.message}")
                if found is not None:
                    return found
            elif schema.get("additionalProperties") is False and not schema.get("patternProperties"):
                why = f"{pointer} requires property {name!r}, which its additionalProperties: false forbids"
                return Unsatisfiable("required", pointer, why)
    if types == {"array"}:
        least = schema.get("minItems", 0)
        prefix: list[Any] = schema["prefixItems"] if isinstance(schema.get("prefixItems"), list) else []
        for i, item in enumerate(prefix[: least if isinstance(least, int) else 0]):
            found = unsatisfiable(item, root, f"{pointer}/prefixItems/{i}", depth + 1)
            if found is not None:
                return found
        if isinstance(least, int) and least > len(prefix) and "items" in schema:
            found = unsatisfiable(schema["items"], root, f"{pointer}/items", depth + 1)
            if found is not None and found.keyword == "false":
                return Unsatisfiable("items", pointer, f"{pointer} needs at least {least} item(s): {found.message}")
            if found is not None:
                return found
    return None
