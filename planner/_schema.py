"""The per-registry plan JSON Schema that the planner decodes under (DESIGN.md section 3).

The schema is built for grammar backends, so it sticks to what they all enforce:

* keys in ``properties`` are listed in the order the grammar emits them: ``nodes``;
  then ``id``, ``tool``, ``args`` in each node; a ref is ``$ref`` then ``path``;
* every object that lists ``properties`` has ``additionalProperties: false``;
* every string gets a ``maxLength`` and every array a ``maxItems``: the tool's own bound
  where its schema states one, else the plan bound (``max_string``, ``max_array``), so
  decoding always terminates;
* the tools' own ``$defs`` references are inlined (no cycles; the strict schema adds
  only its own, acyclic ``$defs``); a recursive tool schema is refused with
  :class:`~reasoner.errors.ToolDefinitionError`;
* annotations the grammar does not need (``title``, ``default``, ``examples``,
  ``format``, ...) are dropped; ``format`` in particular is enforced differently by
  each backend and not at all by jsonschema by default, so it is left to the tool's
  own argument validation;
* an untyped value (``Any``, ``dict`` without value type, ``list`` without item type)
  becomes "any JSON value nested at most two levels deep, strings and arrays bounded".
  The keys of free-form objects are not bounded: llguidance does not implement
  ``propertyNames``, and a model closes an object long before that matters.

By default node ids are bounded by ``first_id <= id < first_id + max_nodes`` and refs by
``1 <= $ref < first_id + max_nodes``; that ids count up by one, that refs point backwards
and that ref paths exist is left to :func:`validate` (every decoded plan is validated
before anything runs).

``strict=True`` says those too, so that every plan the schema accepts passes
:func:`validate`: one schema per position (``prefixItems``) with a ``const`` id, refs
limited to earlier nodes, ref paths enumerated from the producers' output schemas
(see :mod:`reasoner.planner._refpaths`), and no ``"$ref"`` key in free-form objects
(``Plan.from_json`` would read such an object as a ref). Its ref and path schemas, and
argument schemas that recur across positions, are shared through top-level ``$defs``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.planner._refpaths import RefTargets, UnknownToolPaths, accepted_types
from reasoner.tools._jsonschema import RecursiveSchema, SchemaProblem, inline_refs

if TYPE_CHECKING:
    from reasoner.planner._plan import Node
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
    first_id: int | None = None,
    strict: bool = False,
    previous: Mapping[int, Node] | None = None,
    decoded: Sequence[str] = (),
    lookahead: int | None = None,
    unknown_tool_paths: UnknownToolPaths = "intersection",
) -> Schema:
    """The JSON Schema (Draft 2020-12) of a plan that calls the tools of ``registry``.

    ``{"nodes": [...]}`` with ``1..max_nodes`` nodes, each a ``oneOf`` over the tools:
    ``{"id": int, "tool": {"const": name}, "args": <the tool's input schema with a ref
    alternative at every value position>}``. A ref is ``{"$ref": int, "path": str}``
    (``path`` is required here so decoding is deterministic; ``Plan.from_json`` also
    accepts a ref without it). ``first_id`` is the first node id: 1, or the id after the
    last of ``previous`` (the finished nodes of earlier plans) when replanning.

    By default ids lie in ``first_id .. first_id + max_nodes - 1`` and a ref is any id in
    ``1 ..`` that bound with any path; :func:`validate` checks the rest.

    ``strict=True`` makes every plan the schema accepts pass :func:`validate` (with the
    same ``previous``): ``nodes`` is a ``prefixItems`` list, position ``k`` with the id
    ``{"const": first_id + k}``, and a ref at each argument value names only an earlier
    node with a path that exists in that node's output and whose JSON type fits the
    argument (paths from :func:`~reasoner.planner._refpaths.output_paths`: declared fields,
    list indices 0-7, up to 4 segments). A ref to a node of ``previous`` gets its own
    tool's paths. A node of this plan has a tool the schema cannot know, so a ref to it
    takes the paths that fit in the output of every registered tool
    (``unknown_tool_paths="intersection"``, sound, and often only ``""``) or of some tool
    (``"union"``: more refs can be written, but a path of another tool's output then fails
    :func:`validate`). A target whose tool declares no output schema takes any
    well-formed path. Where no ref fits, the argument has no ref alternative at all.

    ``decoded`` (strict only) lists the tools of this plan's first nodes, already
    decoded: those positions keep only their tool, and refs to them get that tool's exact
    paths. A decoder that rebuilds the schema with ``decoded`` as each node closes, and
    replays the tokens so far into a fresh matcher, gets exact refs everywhere; with the
    intersection the replay always succeeds (each rebuild only widens positions not yet
    decoded and keeps the decoded ones' language). ``lookahead`` (strict only) leaves out
    the positions past ``len(decoded) + lookahead`` (so the plan cannot be longer): such a
    decoder needs ``lookahead=2`` (one token may close a node and open the next), and each
    rebuild then compiles a few positions instead of ``max_nodes``.

    The strict schema shares ref and path schemas through ``$defs`` (top level,
    ``#/$defs/...``), which llguidance compiles once.

    Raises :class:`UsageError` for an empty registry, bounds below 1, a ``first_id`` that
    does not follow ``previous`` (strict), ``decoded`` tools that are not registered, and
    :class:`ToolDefinitionError` for a tool schema that cannot be made finite
    (recursive or non-local ``$ref``).
    """
    known = dict(previous or {})
    if first_id is None:
        first_id = max(known, default=0) + 1
    for name, bound in (("max_nodes", max_nodes), ("max_string", max_string), ("max_array", max_array), ("first_id", first_id)):
        if bound < 1:
            raise UsageError(f"plan_schema({name}={bound}): must be at least 1")
    tools = list(registry)
    if not tools:
        raise UsageError("plan_schema() needs a registry with at least one tool; register tools first")
    inlined = [(spec.name, _inlined(spec.name, spec.input_schema)) for spec in tools]
    if not strict:
        if decoded or lookahead is not None or unknown_tool_paths != "intersection":
            raise UsageError("plan_schema(decoded=, lookahead=, unknown_tool_paths=) only apply to the strict schema; pass strict=True")
        return _loose(inlined, max_nodes, max_string, max_array, first_id)
    _check_strict(registry, known, first_id, decoded, max_nodes, unknown_tool_paths)
    if lookahead is not None:
        if lookahead < 1:
            raise UsageError(f"plan_schema(lookahead={lookahead}): must be at least 1 (2 for a decoder that rebuilds as each node closes)")
        max_nodes = min(max_nodes, len(decoded) + lookahead)
    targets = RefTargets(
        registry,
        {**{i: node.tool for i, node in known.items()}, **{first_id + k: tool for k, tool in enumerate(decoded)}},
        first_id + len(decoded),
        unknown_tool_paths,
        max_string,
    )
    return _strict(inlined, targets, max_nodes, max_string, max_array, first_id, decoded)


def _loose(inlined: list[tuple[str, Any]], max_nodes: int, max_string: int, max_array: int, first_id: int) -> Schema:
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
    builder = _Builder(lambda _: [ref], max_string, max_array)
    node_id = {"type": "integer", "minimum": first_id, "maximum": last_id}
    branches = [_node(node_id, name, builder.body(args)) for name, args in inlined]
    schema = {
        "type": "object",
        "properties": {
            "nodes": {"type": "array", "minItems": 0, "maxItems": max_nodes, "items": {"oneOf": branches}},
        },
        "required": ["nodes"],
        "additionalProperties": False,
    }
    # the ref schema is shared by every value position: hand out an unshared copy
    result: Schema = json.loads(json.dumps(schema))
    return result


def _check_strict(
    registry: ToolRegistry, known: Mapping[int, Node], first_id: int, decoded: Sequence[str], max_nodes: int, unknown_tool_paths: str
) -> None:
    if unknown_tool_paths not in ("intersection", "union"):
        raise UsageError(f"plan_schema(unknown_tool_paths={unknown_tool_paths!r}): choose 'intersection' or 'union'")
    expected = max(known, default=0) + 1
    if first_id != expected:
        after = f"after the previous nodes (the last is {expected - 1})" if known else "without previous= nodes"
        raise UsageError(
            f"plan_schema(strict=True, first_id={first_id}): a plan {after} starts at id {expected}, so no plan "
            f"with this first_id passes validate; pass previous= (the finished nodes) and leave first_id out"
        )
    if len(decoded) > max_nodes:
        raise UsageError(f"plan_schema(decoded=...) lists {len(decoded)} tools, more than max_nodes={max_nodes}")
    unknown = [tool for tool in decoded if tool not in registry]
    if unknown:
        raise UsageError(f"plan_schema(decoded=...): {unknown[0]!r} is not a registered tool; list the tools of the decoded nodes")


def _strict(
    inlined: list[tuple[str, Any]],
    targets: RefTargets,
    max_nodes: int,
    max_string: int,
    max_array: int,
    first_id: int,
    decoded: Sequence[str],
) -> Schema:
    # A tool's arguments differ between positions only in the refs allowed at its value
    # positions, so the argument schemas are built once per distinct list of ref names
    # and, where one recurs, shared through $defs (llguidance compiles a $def once).
    visited = [_value_types(args, max_string, max_array) for _, args in inlined]
    built: dict[tuple[int, tuple[str | None, ...]], Any] = {}
    layout: list[list[tuple[int, tuple[str | None, ...]]]] = []
    for k in range(max_nodes):
        node_id = first_id + k
        row = []
        for index, (name, args) in enumerate(inlined):
            if k < len(decoded) and name != decoded[k]:
                continue
            key = (index, tuple(targets.ref_name(accepted, node_id) for accepted in visited[index]))
            if key not in built:
                built[key] = _Builder(_named_refs(targets, node_id), max_string, max_array, no_ref_keys=True).body(args)
            row.append(key)
        layout.append(row)
    uses = Counter(key for row in layout for key in row)
    shared: dict[tuple[int, tuple[str | None, ...]], str] = {}
    defs = dict(targets.defs)
    for key, count in uses.items():
        if count > 1:
            shared[key] = f"args_{key[0]}_{sum(1 for other in shared if other[0] == key[0])}"
            defs[shared[key]] = built[key]
    positions: list[Schema] = []
    for k, row in enumerate(layout):
        branches = [
            _node({"const": first_id + k}, inlined[key[0]][0], {"$ref": f"#/$defs/{shared[key]}"} if key in shared else built[key])
            for key in row
        ]
        positions.append(branches[0] if len(branches) == 1 else {"oneOf": branches})
    schema: Schema = {
        "type": "object",
        "properties": {
            "nodes": {"type": "array", "minItems": 0, "maxItems": max_nodes, "prefixItems": positions, "items": False},
        },
        "required": ["nodes"],
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    result: Schema = json.loads(json.dumps(schema))
    return result


def _value_types(args: Any, max_string: int, max_array: int) -> list[frozenset[str]]:
    """The accepted types of every value position of ``args``, in the order the builder meets them."""
    seen: list[frozenset[str]] = []

    def record(schema: Any) -> list[Schema]:
        seen.append(accepted_types(schema))
        return []

    _Builder(record, max_string, max_array, no_ref_keys=True).body(args)
    return seen


def _named_refs(targets: RefTargets, node_id: int) -> Callable[[Any], list[Schema]]:
    def refs(schema: Any) -> list[Schema]:
        name = targets.ref_name(accepted_types(schema), node_id)
        return [] if name is None else [{"$ref": f"#/$defs/{name}"}]

    return refs


def _node(node_id: Schema, tool: str, args: Any) -> Schema:
    return {
        "type": "object",
        "properties": {"id": node_id, "tool": {"const": tool}, "args": args},
        "required": ["id", "tool", "args"],
        "additionalProperties": False,
    }


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


def _inlined(tool: str, schema: Schema) -> Schema:
    """``schema`` with every ``$ref`` inlined (:func:`~reasoner.tools._jsonschema.inline_refs`,
    the one inliner), or :class:`ToolDefinitionError` naming the tool and the parameter."""
    try:
        return _inline(tool, schema, schema, None)
    except ToolDefinitionError:
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict):  # again per property, so that the error names it
                _inline(tool, prop, schema, str(name))
        raise


def _inline(tool: str, schema: Schema, root: Schema, parameter: str | None) -> Schema:
    at = f" (parameter {parameter!r})" if parameter else ""
    try:
        return inline_refs(schema, {}, root=root)
    except RecursiveSchema as exc:
        problem = (
            f"its input schema is recursive through {exc.name!r}; a plan schema must be finite (grammar backends "
            "cannot compile recursive references), so give this parameter a non-recursive type (e.g. a bounded "
            "nesting of models)"
        )
    except KeyError as exc:
        ref = str(exc.args[0])
        problem = (
            f"the reference {ref!r} points to nothing in its input schema"
            if ref.startswith("#")
            else f"{ref!r} is not a local reference; only '#/$defs/...' references are supported"
        )
    except SchemaProblem as exc:
        problem = f"its input schema is too large: {exc}"
    raise ToolDefinitionError(f"tool {tool!r}{at}: {problem}", tool=tool, parameter=parameter)


class _Builder:
    """Adds the ref alternatives at value positions and the string/array bounds.

    ``refs(schema)`` gives the ref schemas allowed in place of a value of ``schema`` (the
    tool's own subschema there; ``True`` inside an untyped value): the same one ref for
    every position in the default schema, position-specific ones in the strict schema.
    """

    def __init__(self, refs: Callable[[Any], list[Schema]], max_string: int, max_array: int, *, no_ref_keys: bool = False) -> None:
        self.refs = refs
        self.max_string = max_string
        self.max_array = max_array
        # an object with a "$ref" key is read as a ref (Plan.from_json), so where refs are
        # checked by the schema, objects with free-form keys must not have that key
        self.no_ref_keys = no_ref_keys

    def value(self, schema: Any) -> Any:
        """A schema at a value position: the value itself, or a ref."""
        body = self.body(schema)
        if body is False:
            return False
        refs = self.refs(schema)
        if not refs:
            return body
        if isinstance(body, dict) and set(body) - {"description"} == {"anyOf"}:
            return {**body, "anyOf": [*body["anyOf"], *refs]}
        return {"anyOf": [body, *refs]}

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
        free_keys = out.get("additionalProperties", False) is not False or "patternProperties" in out
        if self.no_ref_keys and free_keys and not fixed:
            out["properties"] = {**out.get("properties", {}), "$ref": False}
        return out

    def any(self, depth: int) -> Schema:
        """Any JSON value, nested at most ``depth`` levels, strings and arrays bounded."""
        branches: list[Schema] = [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "maxLength": self.max_string},
        ]
        if depth > 0:
            inner = {"anyOf": [*self.any(depth - 1)["anyOf"], *self.refs(True)]}
            branches.append({"type": "array", "maxItems": self.max_array, "items": inner})
            free: Schema = {"type": "object", "additionalProperties": inner}
            branches.append({"type": "object", "properties": {"$ref": False}, "additionalProperties": inner} if self.no_ref_keys else free)
        return {"anyOf": branches}


def _bound(upper: Any, lower: Any, limit: int) -> int:
    # the tool's own bound wins (it knows its arguments); the plan bound fills in where it states none
    bound = upper if isinstance(upper, int) and not isinstance(upper, bool) else limit
    return max(bound, lower) if isinstance(lower, int) else bound
