"""The ref alternatives of the strict plan schema: which node a ref may name, with which paths.

:func:`~reasoner.planner.plan_schema` with ``strict=True`` puts at every argument value
position the refs that :func:`~reasoner.planner.validate` would accept there, and only
those. :func:`validate` checks a ref's path by walking the producing tool's output schema
with :class:`SchemaWalker` and then asks :func:`fits` of the path's JSON types and the
types the argument accepts; this module enumerates paths with that same walker and filters
them with that same test, so the two cannot drift apart.

* :func:`output_paths` lists a tool's output paths: ``""`` (the whole output), declared
  object properties (``"a"``, ``"a.b"``), list indices ``"a.0"`` .. ``"a.{N-1}"`` with
  ``N = min(maxItems, 8)``, at most 4 segments deep and 256 paths per tool (shallow paths
  first). The enumeration is narrower than validate, never wider: keys of free-form
  objects, indices past 7 and deeper paths are valid refs the grammar does not offer.
* :class:`RefTargets` groups the nodes a ref may name by their tool, so that a ref to a
  node whose tool is known (a finished node of an earlier plan, or a node of this plan
  already decoded) gets exactly that tool's paths. For a node whose tool is not known when
  the schema is built, a path must fit every registered tool (``"intersection"``: sound) or
  some registered tool (``"union"``: wider, and then :func:`validate` may reject a path that
  belongs to another tool's output). A target whose tool declares no output schema takes
  any well-formed path (non-empty dot-separated segments), as validate does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from reasoner.planner._navigate import ALL_TYPES, SchemaWalker, fits, own_types

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry

__all__ = ["OutputPath", "RefTargets", "UnknownToolPaths", "accepted_types", "output_paths"]

UnknownToolPaths = Literal["intersection", "union"]
Schema = dict[str, Any]

_NUMBERS = frozenset({"number", "integer"})
MAX_INDEX = 8
MAX_DEPTH = 4
MAX_PATHS = 256
# a well-formed path: "" or non-empty segments joined by dots (validate rejects "a..b", ".a")
FREE_PATH_PATTERN = r"^([^.]+(\.[^.]+)*)?$"


@dataclass(frozen=True, slots=True)
class OutputPath:
    """A ref path that exists in an output schema, with the JSON types found there."""

    path: str
    types: frozenset[str]


def output_paths(schema: Any, *, max_index: int = MAX_INDEX, max_depth: int = MAX_DEPTH, limit: int = MAX_PATHS) -> tuple[OutputPath, ...]:
    """The paths of ``schema`` (an output schema), breadth first, ``""`` first.

    Each path is one :func:`validate` accepts: every segment is a step of
    :class:`SchemaWalker` from the root, and ``types`` is what the walker reports there.
    """
    walker = SchemaWalker(schema)
    out = [OutputPath("", walker.types([schema]))]
    frontier: list[tuple[tuple[str, ...], list[Any]]] = [((), [schema])]
    for _ in range(max_depth):
        deeper: list[tuple[tuple[str, ...], list[Any]]] = []
        for segments, found in frontier:
            for segment in _segments(walker, found, max_index):
                step = walker.step(found, segment)
                if not step:
                    continue
                path = (*segments, segment)
                out.append(OutputPath(".".join(path), walker.types(step)))
                if len(out) >= limit:
                    return tuple(out)
                deeper.append((path, step))
        frontier = deeper
    return tuple(out)


_output_paths: dict[int, tuple[Any, tuple[OutputPath, ...]]] = {}


def _cached_output_paths(schema: Any) -> tuple[OutputPath, ...]:
    # keyed by identity (a registered spec keeps its schema object), the schema kept alive
    cached = _output_paths.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_output_paths) >= 1024:
        _output_paths.clear()
    paths = output_paths(schema)
    _output_paths[id(schema)] = (schema, paths)
    return paths


def _segments(walker: SchemaWalker, found: list[Any], max_index: int) -> list[str]:
    names = [name for name in walker.fields(found) if name and "." not in name]
    count = 0
    for schema in (c for s in found for c in walker.expand(s)):
        if not isinstance(schema, dict):
            continue
        types = own_types(schema)
        if "array" in types and types != ALL_TYPES:  # an explicit list, not an untyped value
            bound = schema.get("maxItems")
            count = max(count, min(bound, max_index) if isinstance(bound, int) else max_index)
    return list(dict.fromkeys([*names, *(str(i) for i in range(count))]))


def accepted_types(schema: Any) -> frozenset[str]:
    """The JSON types an argument schema accepts, widened so that integer and number go together.

    Computed on the subschema at the value position; :func:`validate` walks the whole input
    schema to the same place and unions every alternative it meets there, so this set is
    never wider than the one validate checks against.
    """
    types: frozenset[str] = SchemaWalker(schema).types([schema])
    return types | _NUMBERS if types & _NUMBERS else types


def type_class(types: frozenset[str]) -> str:
    """A short name for a set of accepted types, for ``$defs`` keys."""
    return "any" if types >= ALL_TYPES else "-".join(sorted(types)) or "none"


class RefTargets:
    """The nodes a ref may name at each plan position, grouped by what their paths may be.

    ``known`` maps node ids whose tool is known to that tool's name (finished nodes of
    earlier plans, and nodes of this plan already decoded); ``first_unknown`` is the id of
    the first node whose tool is not known yet.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        known: Mapping[int, str],
        first_unknown: int,
        unknown_tool_paths: UnknownToolPaths,
        max_string: int,
    ) -> None:
        self.first_unknown = first_unknown
        self.unknown_tool_paths = unknown_tool_paths
        self.free_path: Schema = {"type": "string", "maxLength": max_string, "pattern": FREE_PATH_PATTERN}
        self._paths: dict[str, tuple[OutputPath, ...] | None] = {}
        for spec in registry:
            self._paths[spec.name] = None if spec.output_schema is None else _cached_output_paths(spec.output_schema)
        self._registered = tuple(self._paths)
        by_tool: dict[str, list[int]] = {}
        for node_id in sorted(known):
            by_tool.setdefault(known[node_id], []).append(node_id)
        self._groups = tuple((tool, tuple(ids)) for tool, ids in by_tool.items())
        self._cache: dict[tuple[frozenset[str], int], list[Schema]] = {}
        self._fits: dict[tuple[str, frozenset[str]], list[str] | None] = {}
        self._unknowns: dict[frozenset[str], list[str] | None] = {}
        self._names: dict[tuple[frozenset[str], int], str | None] = {}
        self._by_content: dict[str, str] = {}
        self.defs: dict[str, Schema] = {}  # path enums and ref schemas, shared wherever they recur

    def ref_name(self, accepted: frozenset[str], below: int) -> str | None:
        """The ``$defs`` name of the refs allowed where ``accepted`` types are taken in node ``below``.

        None when no ref fits there. Positions whose refs are the same share one name
        (and so, through it, identical argument schemas), whatever their node.
        """
        key = (accepted, below)
        if key in self._names:
            return self._names[key]
        alternatives = self.alternatives(accepted, below)
        name = None
        if alternatives:
            schema = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
            content = json.dumps(schema, sort_keys=True)
            name = self._by_content.get(content)
            if name is None:
                name = self._by_content[content] = f"refs_{type_class(accepted)}_{len(self._by_content)}"
                self.defs[name] = schema
        self._names[key] = name
        return name

    def alternatives(self, accepted: frozenset[str], below: int) -> list[Schema]:
        """The ref schemas allowed where ``accepted`` types are taken, in the node with id ``below``.

        Empty when no ref fits there (the first node of a first plan, or no path of a
        fitting type). Each is ``{"$ref": <id schema>, "path": <path schema>}``, closed.
        """
        key = (accepted, below)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(accepted, below)
        return cached

    def _build(self, accepted: frozenset[str], below: int) -> list[Schema]:
        out: list[Schema] = []
        for tool, ids in self._groups:
            earlier = [i for i in ids if i < below]
            path = self._path_schema(f"paths_{self._index(tool)}_{type_class(accepted)}", self._fitting(tool, accepted))
            if earlier and path is not None:
                target: Schema = {"const": earlier[0]} if len(earlier) == 1 else {"enum": earlier}
                out.append(_ref(target, path))
        if below > self.first_unknown:
            path = self._path_schema(f"paths_{self.unknown_tool_paths}_{type_class(accepted)}", self._unknown(accepted))
            if path is not None:
                lo, hi = self.first_unknown, below - 1
                target = {"const": lo} if lo == hi else {"type": "integer", "minimum": lo, "maximum": hi}
                out.append(_ref(target, path))
        return out

    def _path_schema(self, name: str, paths: Sequence[str] | None) -> Schema | None:
        if paths is None:
            return dict(self.free_path)
        if not paths:
            return None
        self.defs.setdefault(name, {"enum": list(paths)})
        return {"$ref": f"#/$defs/{name}"}

    def _index(self, tool: str) -> str:
        return str(self._registered.index(tool)) if tool in self._paths else "unregistered"

    def _fitting(self, tool: str, accepted: frozenset[str]) -> list[str] | None:
        """Paths of ``tool``'s output that fit ``accepted``; None when any well-formed path goes."""
        key = (tool, accepted)
        if key not in self._fits:
            paths = self._paths.get(tool)  # a tool no longer registered is unchecked, like in validate
            self._fits[key] = None if paths is None else [p.path for p in paths if fits(p.types, accepted)]
        return self._fits[key]

    def _unknown(self, accepted: frozenset[str]) -> list[str] | None:
        if accepted not in self._unknowns:
            self._unknowns[accepted] = self._unknown_paths(accepted)
        return self._unknowns[accepted]

    def _unknown_paths(self, accepted: frozenset[str]) -> list[str] | None:
        declared = [tool for tool in self._registered if self._paths[tool] is not None]
        if not declared:
            return None
        fitting = [self._fitting(tool, accepted) or [] for tool in declared]
        if self.unknown_tool_paths == "union":
            return list(dict.fromkeys(p for paths in fitting for p in paths))
        common = set(fitting[0]).intersection(*fitting[1:])
        return [p for p in fitting[0] if p in common]


def _ref(target: Schema, path: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {"$ref": target, "path": path},
        "required": ["$ref", "path"],
        "additionalProperties": False,
    }

