"""Plan, Node and Ref: the plan format of DESIGN.md section 3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Node", "Plan", "Ref"]


@dataclass(frozen=True, slots=True)
class Ref:
    """``{"$ref": node, "path": "a.b.0"}``: the output of an earlier node, or a part of it.

    ``path`` is dot-separated; a segment that is an integer indexes a list; ``""`` is the
    whole output.
    """

    node: int
    path: str = ""


@dataclass(frozen=True, slots=True)
class Node:
    """One tool call. ``args`` values may be (or contain, at any depth) :class:`Ref` objects."""

    id: int
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    nodes: tuple[Node, ...]
