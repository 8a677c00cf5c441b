"""The per-registry plan JSON Schema that the planner decodes under (DESIGN.md section 3).

The schema is built for grammar backends, so it sticks to what they all enforce:

* keys in ``properties`` are listed in the order the grammar emits them: ``nodes``;
  then ``id``, ``tool``, ``args`` in each node; a ref is ``$ref`` then ``path``;
* every object that lists ``properties`` has ``additionalProperties: false``;
* every string gets a ``maxLength`` and every array a ``maxItems`` (a tighter bound
  from the tool's own schema is kept; a looser one is lowered to the plan bound), so
  decoding always terminates;
* ``$defs`` references are inlined (no ``$ref`` is left, so no reference cycles); a
  recursive tool schema is refused with :class:`~reasoner.errors.ToolDefinitionError`;
* annotations the grammar does not need (``title``, ``default``, ``examples``,
  ``format``, ...) are dropped; ``format`` in particular is enforced differently by
  each backend and not at all by jsonschema by default, so it is left to the tool's
  own argument validation;
* an untyped value (``Any``, ``dict`` without value type, ``list`` without item type)
  becomes "any JSON value nested at most two levels deep, strings and arrays bounded".
  The keys of free-form objects are not bounded: llguidance does not implement
  ``propertyNames``, and a model closes an object long before that matters.

Node ids are bounded by ``first_id <= id < first_id + max_nodes``. That ids count up by
one and that refs point backwards cannot be said in JSON Schema; :func:`validate` checks
them (and every decoded plan is validated before anything runs).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from reasoner.errors import ToolDefinitionError, UsageError

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry

__all__ = ["plan_schema"]

_DROP = frozenset(
    {"title", "default", "examples", "format", "$comment", "$schema", "$id", "$anchor", "readOnly",
     "writeOnly", "deprecated", "contentEncoding", "contentMediaType", "contentSchema", "discriminator"}
)
_ANNOTATIONS = _DROP | {"description"}
# keywords whose value is a schema, a list of schemas, or a name -> schema mapping
_ONE = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "additionalItems")
_MANY = ("prefixItems", "anyOf", "oneOf", "allOf")
_NAMED = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
_ANY_DEPTH = 2

Schema = dict[str, Any]


def plan_schema(
    registry: ToolRegistry,
    *,
    max_nodes: int = 64,
    max_string: int = 512,
    max_array: int = 64,
    first_id: int = 1,
) -> Schema:
    """The JSON Schema (Draft 2020-12) of a plan that calls the tools of ``registry``.

    ``{"nodes": [...]}`` with ``1..max_nodes`` nodes, each a ``oneOf`` over the tools:
    ``{"id": int, "tool": {"const": name}, "args": <the tool's input schema with a ref
    alternative at every value position>}``. A ref is ``{"$ref": int, "path": str}``
    (``path`` is required here so decoding is deterministic; ``Plan.from_json`` also
    accepts a ref without it). ``first_id`` is the first node id (greater than 1 when
    replanning continues the numbering).

    Raises :class:`UsageError` for an empty registry or bounds below 1, and
    :class:`ToolDefinitionError` for a tool schema that cannot be made finite
    (recursive or non-local ``$ref``).
    """
    for name, bound in (("max_nodes", max_nodes), ("max_string", max_string), ("max_array", max_array), ("first_id", first_id)):
        if bound < 1:
            raise UsageError(f"plan_schema({name}={bound}): must be at least 1")
    tools = list(registry)
    if not tools:
        raise UsageError("plan_schema() needs a registry with at least one tool; register tools first")
    last_id = first_id + max_nodes - 1
    ref = {
        "type": "object",
        "properties": {
            "$ref": {"type": "integer", "minimum": 1, "maximum": last_id},
            "path": {"type": "string", "maxLength": max_string},
        },
        "required": ["$ref", "path"],
        "additionalProperties": False,
    }
    builder = _Builder(ref, max_string, max_array)
    branches = []
    for spec in tools:
        args = builder.body(_Inliner(spec.name, spec.input_schema).inline(spec.input_schema, ()))
        branches.append({
            "type": "object",
            "properties": {
                "id": {"type": "integer", "minimum": first_id, "maximum": last_id},
                "tool": {"const": spec.name},
                "args": args,
            },
            "required": ["id", "tool", "args"],
            "additionalProperties": False,
        })
    schema = {
        "type": "object",
        "properties": {
            "nodes": {"type": "array", "minItems": 1, "maxItems": max_nodes, "items": {"oneOf": branches}},
        },
        "required": ["nodes"],
        "additionalProperties": False,
    }
    # the ref schema is shared by every value position: hand out an unshared copy
    result: Schema = json.loads(json.dumps(schema))
    return result


def map_subschemas(schema: Schema, fn: Callable[[Any, str, str | int | None], Any], drop: frozenset[str] = frozenset()) -> Schema:
    """A copy of ``schema`` with ``fn(sub, keyword, key)`` applied to every direct subschema.

    Keywords whose values are data (``enum``, ``const``, ``required``, ...) are copied as
    they are, never walked; keywords in ``drop`` are left out.
    """
    out: Schema = {}
    for keyword, value in schema.items():
        if keyword in drop:
            continue
        if keyword in _ONE:
            out[keyword] = fn(value, keyword, None)
        elif keyword in _MANY and isinstance(value, list):
            out[keyword] = [fn(sub, keyword, i) for i, sub in enumerate(value)]
        elif keyword in _NAMED and isinstance(value, dict):
            out[keyword] = {name: fn(sub, keyword, name) for name, sub in value.items()}
        else:
            out[keyword] = value
    return out


class _Inliner:
    """Replaces every local ``$ref`` by (a copy of) its target; refuses cycles."""

    def __init__(self, tool: str, root: Any) -> None:
        self.tool = tool
        self.root = root

    def inline(self, schema: Any, stack: tuple[str, ...], where: tuple[str | int, ...] = ()) -> Any:
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema and isinstance(schema["$ref"], str):
            pointer = schema["$ref"]
            if pointer in stack:
                raise self._error(
                    f"its input schema is recursive through {pointer!r}; a plan schema must be finite "
                    "(grammar backends cannot compile recursive references), so give this parameter a "
                    "non-recursive type (e.g. a bounded nesting of models)",
                    where,
                )
            target = self.inline(self._lookup(pointer, where), (*stack, pointer), where)
            siblings = self.inline({k: v for k, v in schema.items() if k != "$ref"}, stack, where)
            return _merge(target, siblings)

        def child(sub: Any, keyword: str, key: str | int | None) -> Any:
            return self.inline(sub, stack, where + ((keyword,) if key is None else (keyword, key)))

        return map_subschemas(schema, child, drop=frozenset({"$defs", "definitions"}))

    def _lookup(self, pointer: str, where: tuple[str | int, ...]) -> Any:
        if not pointer.startswith("#"):
            raise self._error(f"{pointer!r} is not a local reference; only '#/$defs/...' references are supported", where)
        node: Any = self.root
        for raw in [part for part in unquote(pointer[1:]).split("/") if part]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise self._error(f"the reference {pointer!r} points to nothing in its input schema", where)
        return node

    def _error(self, problem: str, where: tuple[str | int, ...]) -> ToolDefinitionError:
        parameter = str(where[1]) if len(where) > 1 and where[0] == "properties" else None
        at = f" (parameter {parameter!r})" if parameter else ""
        return ToolDefinitionError(f"tool {self.tool!r}{at}: {problem}", tool=self.tool, parameter=parameter)


def _merge(target: Any, siblings: Schema) -> Any:
    """``{"$ref": t, **siblings}`` as one schema: a plain merge unless keywords disagree."""
    if not siblings:
        return target
    if not isinstance(target, dict):
        return {"allOf": [target, siblings]} if target is False else siblings
    clash = [k for k in siblings if k in target and k not in _ANNOTATIONS and siblings[k] != target[k]]
    if clash:
        return {"allOf": [target, siblings]}
    return {**target, **siblings}


class _Builder:
    """Adds the ref alternative at value positions and the string/array bounds."""

    def __init__(self, ref: Schema, max_string: int, max_array: int) -> None:
        self.ref = ref
        self.max_string = max_string
        self.max_array = max_array

    def value(self, schema: Any) -> Any:
        """A schema at a value position: the value itself, or a ref."""
        body = self.body(schema)
        if body is False:
            return False
        if isinstance(body, dict) and set(body) - {"description"} == {"anyOf"}:
            return {**body, "anyOf": [*body["anyOf"], self.ref]}
        return {"anyOf": [body, self.ref]}

    def body(self, schema: Any) -> Any:
        """The schema of a value (refs allowed below it, not in its place)."""
        if schema is True or (isinstance(schema, dict) and not set(schema) - _ANNOTATIONS):
            return self.any(_ANY_DEPTH)
        if not isinstance(schema, dict):
            return schema

        def child(sub: Any, keyword: str, key: str | int | None) -> Any:
            if keyword in ("properties", "patternProperties", "prefixItems", "items", "additionalProperties"):
                return sub if sub is False else self.value(sub)
            if keyword in ("anyOf", "oneOf", "allOf"):
                return self.body(sub)
            return sub

        out = map_subschemas(schema, child, drop=_DROP)
        types = out.get("type", [])
        types = [types] if isinstance(types, str) else types
        fixed = "enum" in out or "const" in out
        if "string" in types and not fixed:
            out["maxLength"] = _bound(out.get("maxLength"), out.get("minLength"), self.max_string)
        if "array" in types and not fixed:
            out["maxItems"] = _bound(out.get("maxItems"), out.get("minItems"), self.max_array)
            if "items" not in out and "prefixItems" not in out:
                out["items"] = self.value(True)
        listed = "properties" in out or "patternProperties" in out
        if ("object" in types or (listed and not types)) and not fixed and "additionalProperties" not in out:
            out["additionalProperties"] = False if listed else self.value(True)
        return out

    def any(self, depth: int) -> Schema:
        """Any JSON value, nested at most ``depth`` levels, strings and arrays bounded."""
        branches: list[Schema] = [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "maxLength": self.max_string},
        ]
        if depth > 0:
            inner = {"anyOf": [*self.any(depth - 1)["anyOf"], self.ref]}
            branches.append({"type": "array", "maxItems": self.max_array, "items": inner})
            branches.append({"type": "object", "additionalProperties": inner})
        return {"anyOf": branches}


def _bound(upper: Any, lower: Any, limit: int) -> int:
    bound = min(upper, limit) if isinstance(upper, int) else limit
    return max(bound, lower) if isinstance(lower, int) else bound
