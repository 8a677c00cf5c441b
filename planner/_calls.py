"""Repeated calls: a node whose canonical ``(tool, args)`` repeats an earlier node's is an
alias of that node, never a second call (a small model likes to write one call many times)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reasoner.planner._plan import Node, Ref

__all__ = ["CallIndex"]


class CallIndex:
    """The canonical calls seen so far, by the first node that made each.

    A call's key is its tool and its arguments as JSON with sorted keys, where a ref to an
    alias counts as a ref to the node it aliases, so ``price(ref 3)`` repeats
    ``price(ref 2)`` when node 3 repeats node 2.
    """

    def __init__(self) -> None:
        self._first: dict[str, int] = {}
        self.aliases: dict[int, int] = {}  # node id -> the earlier node it repeats

    def key(self, node: Node) -> str:
        """The canonical JSON of ``node``'s call."""
        return json.dumps([node.tool, self._canonical(node.args)], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)

    def add(self, node: Node) -> int | None:
        """Record ``node``; return the earlier node it repeats (it is then an alias), else None."""
        key = self.key(node)
        first = self._first.get(key)
        if first is None:
            self._first[key] = node.id
            return None
        self.aliases[node.id] = first
        return first

    def _canonical(self, value: Any) -> Any:
        if isinstance(value, Ref):
            return {"$ref": self.aliases.get(value.node, value.node), "path": value.path}
        if isinstance(value, Mapping):
            return {str(k): self._canonical(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._canonical(v) for v in value]
        return value
