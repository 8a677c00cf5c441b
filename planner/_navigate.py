"""Walking a JSON Schema along an instance path, and the JSON types a schema admits.

Used to type-check refs at plan time: where does ``results.0.title`` lead in the
producing tool's output schema, and which JSON types may the consuming argument take?
The walk is lenient where the schema is (``anyOf`` branches are a union, an untyped
schema admits everything), and strict where it is explicit: an object schema with
``additionalProperties: false`` has only the fields it lists; one silent about other
fields allows them, as JSON Schema says (tool output schemas are often incomplete).
"""

from __future__ import annotations

from typing import Any

from reasoner.grammars._jsonschema import linear_search, resolve_pointer

__all__ = ["ALL_TYPES", "SchemaWalker", "describe_types", "fits", "json_type"]

ALL_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
_COMBINATORS = ("anyOf", "oneOf", "allOf")
_OBJECT_WORDS = frozenset({"properties", "patternProperties", "additionalProperties", "required"})
_ARRAY_WORDS = frozenset({"items", "prefixItems"})


def json_type(value: Any) -> str:
    """The JSON type name of a JSON-compatible Python value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, (list, tuple)) else "object"


def fits(produced: frozenset[str], accepted: frozenset[str]) -> bool:
    """Whether some value of the produced types could be one of the accepted types.

    ``integer`` and ``number`` fit each other (``3.0`` is a valid integer in JSON Schema).
    """
    return bool(_widen(produced) & _widen(accepted))


def describe_types(types: frozenset[str]) -> str:
    """``{"number", "null"}`` -> ``"null or number"``; every type -> ``"any JSON value"``."""
    if types >= ALL_TYPES - {"integer"}:
        return "any JSON value"
    names = sorted(types - {"integer"} if "number" in types else types)
    return " or ".join(names) if names else "nothing (the schema admits no value)"


def _widen(types: frozenset[str]) -> frozenset[str]:
    if "number" in types or "integer" in types:
        return types | {"number", "integer"}
    return types


class SchemaWalker:
    """Navigates one schema document (its own ``#/$defs/...`` references resolved)."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def step(self, schemas: list[Any], segment: str | int) -> list[Any]:
        """The subschemas that ``segment`` (an object key, or a list index) leads to from ``schemas``.

        A string made of digits is tried both as an object key and as a list index.
        An empty list means the segment cannot exist in any value of ``schemas``.
        """
        found: list[Any] = []
        for schema in (c for s in schemas for c in self.expand(s)):
            if schema is True:
                found.append(True)
                continue
            if not isinstance(schema, dict):
                continue
            types = own_types(schema)
            if "array" in types:
                index = segment if isinstance(segment, int) else int(segment) if segment.isdigit() else None
                if index is not None:
                    found.extend(_array_step(schema, index))
            if "object" in types and isinstance(segment, str):
                found.extend(_object_step(schema, segment))
        return found

    def types(self, schemas: list[Any]) -> frozenset[str]:
        """Every JSON type some value of ``schemas`` may have."""
        out: set[str] = set()
        for schema in (c for s in schemas for c in self.expand(s)):
            if schema is True:
                return ALL_TYPES
            if isinstance(schema, dict):
                out |= own_types(schema)
        return frozenset(out)

    def fields(self, schemas: list[Any]) -> list[str]:
        """The declared property names of ``schemas`` (for error messages)."""
        names: dict[str, None] = {}
        for schema in (c for s in schemas for c in self.expand(s)):
            if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
                names.update(dict.fromkeys(schema["properties"]))
        return list(names)

    def expand(self, schema: Any, seen: tuple[str, ...] = ()) -> list[Any]:
        """The concrete alternatives of ``schema``: references followed, combinators flattened.

        ``allOf`` branches are treated like ``anyOf`` ones: lenient, so a field or type
        that some branch allows is never reported missing.
        """
        if isinstance(schema, bool):
            return [schema]
        if not isinstance(schema, dict):
            return [True]
        out: list[Any] = []
        pointer = schema.get("$ref")
        if isinstance(pointer, str):
            target = self._lookup(pointer)
            out.extend([True] if target is None or pointer in seen else self.expand(target, (*seen, pointer)))
        branches = [sub for word in _COMBINATORS for sub in schema.get(word, ())]
        for sub in branches:
            out.extend(self.expand(sub, seen))
        own = {k: v for k, v in schema.items() if k != "$ref" and k not in _COMBINATORS}
        if not out or own_types(own) != ALL_TYPES:
            out.append(own)
        return out

    def _lookup(self, pointer: str) -> Any:
        return resolve_pointer(self.root, pointer)


def own_types(schema: dict[str, Any]) -> frozenset[str]:
    """The JSON types one schema object admits by its own keywords (combinators aside)."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(t for t in declared if isinstance(t, str))
    if "const" in schema:
        return frozenset({json_type(schema["const"])})
    if isinstance(schema.get("enum"), list):
        return frozenset(json_type(v) for v in schema["enum"])
    if _OBJECT_WORDS & schema.keys():
        return frozenset({"object"})
    if _ARRAY_WORDS & schema.keys():
        return frozenset({"array"})
    return ALL_TYPES


def _array_step(schema: dict[str, Any], index: int) -> list[Any]:
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and index >= max_items:
        return []
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and index < len(prefix):
        return [prefix[index]]
    items = schema.get("items", True)
    return [] if items is False else [items]


def _object_step(schema: dict[str, Any], key: str) -> list[Any]:
    properties = schema.get("properties")
    if isinstance(properties, dict) and key in properties:
        return [properties[key]]
    patterns = schema.get("patternProperties")
    matched = [sub for pattern, sub in patterns.items() if linear_search(pattern, key)] if isinstance(patterns, dict) else []
    if matched:
        return matched
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        return [] if extra is False else [extra]
    # silent about other fields: JSON Schema allows them (a tool's output schema is open
    # unless it says additionalProperties: false; Python tools' schemas say so)
    return [True]
