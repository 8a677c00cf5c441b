"""Structural JSON Schema rewrites shared by both tool constructors.

Every function walks schema positions only (``properties`` values, ``items``, ``anyOf``
members, ...), never data positions (``default``, ``enum``, ``const``, ``examples``), so a
property that happens to be called ``title`` or ``$ref`` is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reasoner.grammars._jsonschema import DEFAULT_LIMITS, SchemaLimits, SchemaProblem, resolve_pointer

__all__ = [
    "RecursiveSchema",
    "SchemaProblem",
    "check_expansion",
    "close_objects",
    "inline_refs",
    "map_subschemas",
    "strip_titles",
]

Schema = dict[str, Any]

# keyword -> how its value holds subschemas
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "additionalItems")  # fmt: skip
_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


class RecursiveSchema(Exception):
    """A ``$ref`` cycle: the schema cannot be inlined. ``name`` is the definition on the cycle."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def map_subschemas(schema: Schema, fn: Callable[[Schema], Schema]) -> Schema:
    """A copy of ``schema`` with ``fn`` applied to each direct subschema."""
    out: Schema = {}
    for key, value in schema.items():
        if key in _ONE and isinstance(value, dict):
            out[key] = fn(value)
        elif key in _LIST and isinstance(value, list):
            out[key] = [fn(v) if isinstance(v, dict) else v for v in value]
        elif key == "items" and isinstance(value, list):  # draft-04 tuple form
            out[key] = [fn(v) if isinstance(v, dict) else v for v in value]
        elif key in _MAP and isinstance(value, dict):
            out[key] = {k: fn(v) if isinstance(v, dict) else v for k, v in value.items()}
        else:
            out[key] = value
    return out


def strip_titles(schema: Schema) -> Schema:
    """Drop the ``title`` pydantic puts on every model and field (noise for a small planner)."""
    return map_subschemas({k: v for k, v in schema.items() if k != "title"}, strip_titles)


def close_objects(schema: Schema) -> Schema:
    """Set ``additionalProperties: false`` on every object schema that lists ``properties``
    and says nothing about extra keys (grammar backends otherwise invent keys)."""
    out = map_subschemas(schema, close_objects)
    if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
        out["additionalProperties"] = False
    return out


def inline_refs(
    schema: Schema,
    defs: Mapping[str, Schema],
    *,
    limits: SchemaLimits = DEFAULT_LIMITS,
    copy: bool = True,
    root: Schema | None = None,
) -> Schema:
    """Replace every local ``$ref`` (``#/$defs/X`` or ``#/definitions/X``) by its definition.

    With ``root`` (the whole schema as written), any other local JSON pointer
    (``#/properties/a/items``) is followed into it too. Keywords beside a ``$ref`` apply
    too: annotations (``description``, ``default``) replace the definition's, a keyword that
    disagrees with the definition's makes an ``allOf`` of both; in a schema whose
    ``$schema`` is draft 7 or older (``root``'s) they are ignored, as those drafts say;
    a ``discriminator`` with a ``mapping`` (OpenAPI, pointing at definitions) is dropped.
    Each definition is inlined once and shared, and the size of the result is counted
    before it is built, so the work is linear in the schema as written: a schema that
    would expand past ``limits.max_expanded`` subschemas or ``limits.max_depth`` levels
    (definitions that each refer twice to the next double at every level) raises
    :class:`SchemaProblem` instead. Raises :class:`RecursiveSchema` for a cycle and
    ``KeyError`` for a ref to a missing or non-local definition. With ``copy=False`` an
    inlined definition is one object shared by every place that refers to it (for a caller
    that copies the result anyway, e.g. through :func:`close_objects`).
    """
    done: dict[str, tuple[Schema, int, int]] = {}  # definition -> (inlined, subschemas, depth)
    old_draft = root is not None and _ignores_ref_siblings(root.get("$schema"))

    def lookup(ref: str) -> tuple[str, Schema]:
        try:
            name = _local_name(ref)
            return name, defs[name]
        except KeyError:
            if root is None:
                raise
        return ref, _pointer(root, ref)

    def visit(node: Schema, stack: tuple[str, ...], depth: int) -> tuple[Schema, int, int]:
        if depth > limits.max_depth:
            raise SchemaProblem(f"the schema nests deeper than {limits.max_depth} subschemas once its $refs are inlined")
        ref = node.get("$ref")
        if isinstance(ref, str):
            name, definition = lookup(ref)
            if name in stack:
                raise RecursiveSchema(name)
            if name not in done:
                done[name] = visit(definition, (*stack, name), depth + 1)
            target, size, height = done[name]
            rest = {} if old_draft else {k: v for k, v in node.items() if k != "$ref"}
            siblings, more, high = _children(rest, lambda c: visit(c, stack, depth + 1))
            return _count(_merge(target, siblings), size + more, max(height, high), limits, ref)
        # definitions are inlined where they are used, never walked where they are kept
        own = {k: v for k, v in node.items() if k not in ("$defs", "definitions")}
        out, size, height = _children(own, lambda child: visit(child, stack, depth + 1))
        if isinstance(out.get("discriminator"), dict) and "mapping" in out["discriminator"]:
            # OpenAPI's discriminator maps to #/$defs/... names that no longer exist; the
            # oneOf members' `const` tags constrain the value on their own
            del out["discriminator"]
        members = out.get("allOf")
        if isinstance(members, list) and len(members) == 1 and not set(members[0]) & (set(out) - {"allOf"}):
            # pydantic's older `allOf: [{$ref}]` wrapper around a described field: flatten it
            out = {**members[0], **{k: v for k, v in out.items() if k != "allOf"}}
        return _count(out, size + 1, height + 1, limits, None)

    shared, _, _ = visit(schema, (), 0)
    inlined: Schema = _unshare(shared) if copy else dict(shared)
    inlined.pop("$defs", None)
    inlined.pop("definitions", None)
    return inlined


def check_expansion(schema: Schema, *, limits: SchemaLimits = DEFAULT_LIMITS) -> None:
    """Check, without building anything, that ``schema`` would stay within ``limits`` if its
    local ``$ref``s were inlined (a cycle counts once: a reader such as the planner's schema
    walker stops there), so that a walk which follows refs does linear work.

    Raises :class:`SchemaProblem` past ``limits.max_expanded`` subschemas or
    ``limits.max_depth`` levels, ``KeyError`` for a ref that names nothing local. Each
    definition is counted once (memoized), so the check itself is linear.
    """
    done: dict[str, tuple[int, int]] = {}  # ref -> (subschemas, depth) once inlined

    def visit(node: Any, stack: tuple[str, ...], depth: int) -> tuple[int, int]:
        if depth > limits.max_depth:
            raise SchemaProblem(f"the schema nests deeper than {limits.max_depth} subschemas once its $refs are inlined")
        if not isinstance(node, dict):
            return 1, 1
        size, height = 1, 0
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in stack:
            if ref not in done:
                target = _pointer(schema, ref)
                done[ref] = visit(target, (*stack, ref), depth + 1)
            size, height = done[ref]
        for key, value in node.items():
            if key in _ONE and isinstance(value, dict):
                children: Any = (value,)
            elif (key in _LIST or key == "items") and isinstance(value, list):
                children = value
            elif key in _MAP and key not in ("$defs", "definitions") and isinstance(value, dict):
                children = value.values()
            else:
                continue
            for child in children:
                more, high = visit(child, stack, depth + 1)
                size, height = size + more, max(height, high)
        _count({}, size, height + 1, limits, ref if isinstance(ref, str) else None)
        return size, height + 1

    visit(schema, (), 0)


# keywords beside a $ref that only describe: they replace the definition's own
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly"})


def _merge(target: Schema, siblings: Schema) -> Schema:
    """``{"$ref": target, **siblings}`` as one schema: both apply (2020-12), so keywords that
    disagree become an ``allOf`` of the two instead of one silently replacing the other."""
    clash = [k for k in siblings if k in target and k not in _ANNOTATIONS and siblings[k] != target[k]]
    if clash:
        return {"allOf": [target, siblings]}
    return {**target, **siblings}


def _children(node: Schema, fn: Callable[[Schema], tuple[Schema, int, int]]) -> tuple[Schema, int, int]:
    sizes = [0]
    heights = [0]

    def each(child: Schema) -> Schema:
        out, size, height = fn(child)
        sizes.append(size)
        heights.append(height)
        return out

    return map_subschemas(node, each), sum(sizes), max(heights)


def _count(out: Schema, size: int, height: int, limits: SchemaLimits, ref: str | None) -> tuple[Schema, int, int]:
    if size > limits.max_expanded:
        where = f" (through $ref {ref!r})" if ref else ""
        raise SchemaProblem(
            f"the schema expands to more than {limits.max_expanded:,} subschemas once its $refs are inlined{where}; "
            "refer to each definition fewer times"
        )
    if height > limits.max_depth:
        raise SchemaProblem(f"the schema nests deeper than {limits.max_depth} subschemas once its $refs are inlined")
    return out, size, height


def _unshare(node: Any) -> Any:
    """A tree copy of a result whose inlined definitions are shared (bounded by the caps)."""
    if isinstance(node, dict):
        return {k: _unshare(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unshare(v) for v in node]
    return node


_OLD_DRAFTS = ("draft-03", "draft-04", "draft-06", "draft-07")


def _ignores_ref_siblings(dialect: Any) -> bool:
    return isinstance(dialect, str) and any(d in dialect for d in _OLD_DRAFTS)


def _pointer(root: Schema, ref: str) -> Schema:
    """The subschema at a local JSON pointer (``#/properties/a``); ``KeyError`` if none."""
    node = resolve_pointer(root, ref)
    if not isinstance(node, dict):
        raise KeyError(ref)
    return node


def _local_name(ref: str) -> str:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
    raise KeyError(ref)
