"""Plan, Node and Ref: the plan format of DESIGN.md section 3.

A plan is compact JSON::

    {"nodes":[{"id":1,"tool":"search","args":{"query":"cloud providers"}},
              {"id":2,"tool":"chart","args":{"values":[{"$ref":1,"path":"results.0.score"}]}}]}

Node ids are ``first_id, first_id + 1, ...`` in order (``first_id`` is 1 except for a
replan, whose nodes continue the numbering). Any argument value, at any depth, may be a
ref ``{"$ref": k, "path": "a.b.0"}`` to an earlier node's output; ``"path"`` may be left
out (or ``""``) to mean the whole output. Because refs are the only way to depend on
another node, the dependencies cannot disagree with the arguments and the plan is
acyclic by construction. A ref inside a string (``"$1"``) is just a string.

An object with a ``"$ref"`` key inside ``args`` is always read as a ref, so tool
arguments cannot themselves be objects that carry a ``"$ref"`` key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from reasoner.errors import PlanError

__all__ = ["Node", "Plan", "Ref"]

_NODE_KEYS = ("id", "tool", "args")


@dataclass(frozen=True, slots=True)
class Ref:
    """``{"$ref": node, "path": "a.b.0"}``: the output of an earlier node, or a part of it.

    ``path`` is dot-separated; a segment that is an integer indexes a list; ``""`` is the
    whole output. (A key that itself contains a dot cannot be addressed; ref its parent.)
    """

    node: int
    path: str = ""

    def segments(self) -> tuple[str, ...]:
        """The path split at dots; ``()`` for the whole output."""
        return tuple(self.path.split(".")) if self.path else ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, ``{"$ref": node, "path": path}`` (``path`` always present)."""
        return {"$ref": self.node, "path": self.path}


@dataclass(frozen=True, slots=True)
class Node:
    """One tool call. ``args`` values may be (or contain, at any depth) :class:`Ref` objects."""

    id: int
    tool: str
    args: dict[str, Any]

    def refs(self) -> frozenset[int]:
        """Ids of the nodes this node depends on: every :class:`Ref` in ``args``, at any depth."""
        return frozenset(ref.node for _, ref in iter_refs(self.args))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, keys in the order ``id``, ``tool``, ``args``; refs become ``{"$ref", "path"}``."""
        return {"id": self.id, "tool": self.tool, "args": _encode(self.args)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, expected_id: int | None = None) -> Node:
        """Build a node from its JSON form, turning ``{"$ref": k, "path": p}`` objects into :class:`Ref`.

        Raises :class:`PlanError` naming the node for a missing or unexpected key, an id
        that is not an integer (or not ``expected_id`` when given), an empty tool name,
        ``args`` that is not an object, or a malformed ref.
        """
        if not isinstance(data, Mapping):
            raise PlanError(f"a node must be a JSON object like {{\"id\":1,\"tool\":...,\"args\":{{...}}}}, got {_kind(data)}", node_id=expected_id)
        raw_id = data.get("id")
        node_id = raw_id if _is_int(raw_id) else expected_id
        if "id" not in data:
            raise PlanError("missing key 'id'; every node is {\"id\",\"tool\",\"args\"}", node_id=expected_id)
        if not _is_int(raw_id):
            raise PlanError(f"the id must be an integer, got {_short(raw_id)}", node_id=expected_id)
        if expected_id is not None and raw_id != expected_id:
            raise PlanError(
                f"id {raw_id} is out of order: expected {expected_id} here; "
                "node ids count up by one in order (1, 2, 3, ...)",
                node_id=raw_id,
            )
        for key in _NODE_KEYS:
            if key not in data:
                raise PlanError(f"missing key {key!r}; every node is {{\"id\",\"tool\",\"args\"}}", node_id=node_id)
        extra = [key for key in data if key not in _NODE_KEYS]
        if extra:
            raise PlanError(
                f"unexpected key {extra[0]!r}; a node has only \"id\", \"tool\" and \"args\" "
                "(dependencies come from refs, never from a separate field)",
                node_id=node_id,
            )
        tool = data["tool"]
        if not isinstance(tool, str) or not tool:
            raise PlanError(f"'tool' must be a non-empty tool name, got {_short(tool)}", node_id=node_id)
        args = data["args"]
        if not isinstance(args, Mapping):
            raise PlanError(f"'args' must be a JSON object of arguments, got {_kind(args)}", node_id=node_id)
        return cls(id=raw_id, tool=tool, args=_decode(args, "args", raw_id))


@dataclass(frozen=True, slots=True)
class Plan:
    """A DAG of tool calls, nodes in id order. ``Plan(nodes=[...])`` stores a tuple."""

    nodes: tuple[Node, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.nodes, tuple):
            object.__setattr__(self, "nodes", tuple(self.nodes))

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: int) -> Node:
        """The node with this id; ``KeyError`` if the plan has none."""
        if self.nodes:
            index = node_id - self.nodes[0].id
            if 0 <= index < len(self.nodes) and self.nodes[index].id == node_id:
                return self.nodes[index]
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(f"this plan has no node {node_id}; its ids are {[n.id for n in self.nodes]}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"nodes": [...]}``."""
        return {"nodes": [node.to_dict() for node in self.nodes]}

    def to_json(self) -> str:
        """Compact JSON (no whitespace, non-ASCII kept), the exact form the planner's grammar emits."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any], *, first_id: int = 1) -> Plan:
        """Parse a plan from JSON text (any whitespace) or from an already decoded dict.

        Checks the structure only (see :func:`reasoner.planner.validate` for the
        registry checks): a top-level object with just ``"nodes"``, a non-empty array of
        ``{"id","tool","args"}`` objects with ids ``first_id, first_id + 1, ...``, and
        well-formed refs. Raises :class:`PlanError` naming the node and the problem.
        """
        if isinstance(data, (bytes, bytearray)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PlanError(f"the plan text is not UTF-8 ({exc.reason} at byte {exc.start}); send JSON text") from exc
        if isinstance(data, str):
            data = _loads(data)
        if not isinstance(data, Mapping):
            raise PlanError(f"a plan must be a JSON object {{\"nodes\":[...]}}, got {_kind(data)}")
        if "nodes" not in data:
            raise PlanError("missing key 'nodes'; a plan is {\"nodes\":[...]}")
        extra = [key for key in data if key != "nodes"]
        if extra:
            raise PlanError(f"unexpected top-level key {extra[0]!r}; a plan has only \"nodes\"")
        raw_nodes = data["nodes"]
        if not isinstance(raw_nodes, list):
            raise PlanError(f"'nodes' must be an array of nodes, got {_kind(raw_nodes)}")
        try:
            return cls(tuple(Node.from_dict(raw, expected_id=first_id + i) for i, raw in enumerate(raw_nodes)))
        except RecursionError as exc:
            raise PlanError("the plan's arguments are nested too deeply; plans nest arguments a few levels at most") from exc


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # the streaming parser knows which node the bad character belongs to
        from reasoner.planner._stream import PlanStreamParser

        try:
            parser = PlanStreamParser()
            parser.feed(text)
            parser.finish()
        except PlanError as located:
            raise located from exc
        raise PlanError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise PlanError("the plan JSON is nested too deeply to parse; plans nest arguments a few levels at most") from exc


def iter_refs(value: Any, where: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Ref]]:
    """Every :class:`Ref` in ``value`` (dicts and lists, any depth) with its location (keys and indices)."""
    if isinstance(value, Ref):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_refs(item, (*where, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from iter_refs(item, (*where, index))


def format_location(where: tuple[str | int, ...]) -> str:
    """``("values", 0, "x")`` -> ``"values[0].x"``."""
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _encode(value: Any) -> Any:
    if isinstance(value, Ref):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any, where: str, node_id: int) -> Any:
    if isinstance(value, Mapping):
        if "$ref" in value:
            return _decode_ref(value, where, node_id)
        return {key: _decode(item, f"{where}.{key}", node_id) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item, f"{where}[{i}]", node_id) for i, item in enumerate(value)]
    return value


def _decode_ref(value: Mapping[str, Any], where: str, node_id: int) -> Ref:
    target = value["$ref"]
    if not _is_int(target) or target < 1:
        raise PlanError(f"{where}: '$ref' must be the id of an earlier node (an integer >= 1), got {_short(target)}", node_id=node_id)
    extra = [key for key in value if key not in ("$ref", "path")]
    if extra:
        raise PlanError(f"{where}: unexpected key {extra[0]!r} in a ref; a ref is {{\"$ref\":k,\"path\":\"...\"}}", node_id=node_id)
    path = value.get("path", "")
    if not isinstance(path, str):
        raise PlanError(f"{where}: a ref's 'path' must be a string like \"results.0.title\", got {_short(path)}", node_id=node_id)
    return Ref(node=target, path=path)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr) if not isinstance(value, Ref) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
