"""Incremental plan parsing: nodes come out the moment their JSON object closes.

The parser is a small state machine over the characters of ``{"nodes":[{...},{...}]}``.
Outside the nodes it checks the plan's frame one character at a time; inside a node it
only tracks string/escape state and bracket nesting (jumping between interesting
characters with a regex), keeps the node's text in pieces, and ``json.loads`` the node
once its closing brace arrives. Every character is looked at once, so the cost is
linear in the text whatever the split: one chunk, or one character at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING

from reasoner.errors import PlanError
from reasoner.planner._plan import Node, Plan
from reasoner.planner._validate import validate_node

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry

__all__ = ["PlanStreamParser", "iter_plan_nodes"]

_STRING_STOP = re.compile(r'["\\]')
_NODE_STOP = re.compile(r'["{}\[\]]')
_WHITESPACE = frozenset(" \t\r\n")
_CLOSERS = {"}": "{", "]": "["}

# states of the frame around the nodes; _KEY and _NODE are scanned in bulk
_START, _ROOT, _KEY, _COLON, _VALUE, _FIRST, _AFTER_NODE, _NEXT, _NODE, _AFTER_ARRAY, _END = range(11)
_EXPECTED = {
    _START: "'{' to open the plan",
    _ROOT: "'\"nodes\"', the plan's only key",
    _COLON: "':' after \"nodes\"",
    _VALUE: "'[' to open the array of nodes",
    _FIRST: "'{' to open the first node",
    _AFTER_NODE: "',' or ']' after a node",
    _NEXT: "'{' to open the next node",
    _AFTER_ARRAY: "'}' to close the plan",
}


class PlanStreamParser:
    """Parses a plan's JSON text arriving in pieces of any size.

    ``feed(text)`` returns the nodes whose objects closed within ``text`` (each checked
    with :func:`validate_node` when a ``registry`` is given); ``finish()`` returns the
    whole :class:`Plan`. ``previous`` holds the finished nodes of earlier plans when
    replanning: ids then continue after them and refs may point to them. Whitespace
    between tokens is accepted. The first :class:`PlanError` (malformed JSON, a bad node,
    text after the plan) is raised by the ``feed`` that reveals it and again by any
    later call.
    """

    def __init__(self, registry: ToolRegistry | None = None, *, previous: Mapping[int, Node] | None = None) -> None:
        self._registry = registry
        self._known: dict[int, Node] = dict(previous or {})
        self._next_id = max(self._known, default=0) + 1
        self._nodes: list[Node] = []
        self._state = _START
        self._offset = 0  # characters consumed before the current chunk
        self._parts: list[str] = []  # text of the current node or key so far
        self._stack: list[str] = []  # open brackets inside the current node
        self._in_string = False
        self._escape = False
        self._error: PlanError | None = None

    @property
    def nodes(self) -> tuple[Node, ...]:
        """The nodes parsed so far."""
        return tuple(self._nodes)

    def feed(self, text: str) -> list[Node]:
        """Consume the next piece of text; return the nodes that closed in it, in order.

        When a chunk closes a good node and then reveals a bad one, the PlanError wins;
        the good node is still in :attr:`nodes`.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._scan(text)
        except PlanError as exc:
            self._error = exc
            raise

    def finish(self) -> Plan:
        """The complete plan; :class:`PlanError` if the text stopped before the plan's final ``}``."""
        if self._error is not None:
            raise self._error
        if self._state != _END:
            if self._state == _START:
                problem = "the plan text is empty"
            elif self._state == _NODE:
                problem = f"node {self._next_id} was never closed"
            elif self._state == _KEY:
                problem = "a key was never closed"
            else:
                problem = f"expected {_EXPECTED[self._state]}"
            self._error = PlanError(f"the plan text is incomplete after {self._offset} characters: {problem}")
            raise self._error
        return Plan(tuple(self._nodes))

    def _scan(self, text: str) -> list[Node]:
        done: list[Node] = []
        i, n = 0, len(text)
        start = 0  # where the current node's (or key's) text begins in this chunk
        while i < n:
            state = self._state
            if state == _NODE or state == _KEY:
                if self._in_string:
                    if self._escape:
                        self._escape = False
                        i += 1
                        continue
                    match = _STRING_STOP.search(text, i)
                    if match is None:
                        break
                    i = match.end()
                    if match.group() == "\\":
                        self._escape = True
                    else:
                        self._in_string = False
                        if state == _KEY:
                            self._parts.append(text[start:i])
                            self._root_key()
                    continue
                match = _NODE_STOP.search(text, i)
                if match is None:
                    break
                char, i = match.group(), match.end()
                if char == '"':
                    self._in_string = True
                elif char in "{[":
                    self._stack.append(char)
                elif not self._stack or self._stack.pop() != _CLOSERS[char]:
                    raise self._malformed(f"{char!r} does not match an open bracket", self._offset + i - 1)
                elif not self._stack:
                    self._parts.append(text[start:i])
                    done.append(self._close_node())
                continue
            char = text[i]
            i += 1
            if char in _WHITESPACE:
                continue
            start = i - 1
            self._frame(char, self._offset + i - 1)
        if self._state == _NODE or self._state == _KEY:
            self._parts.append(text[start:])
        self._offset += n
        return done

    def _frame(self, char: str, at: int) -> None:
        """One non-whitespace character outside the nodes."""
        state = self._state
        if state == _START and char == "{":
            self._state = _ROOT
        elif state == _ROOT and char == '"':
            self._state, self._in_string = _KEY, True
        elif state == _COLON and char == ":":
            self._state = _VALUE
        elif state == _VALUE and char == "[":
            self._state = _FIRST
        elif state in (_FIRST, _NEXT) and char == "{":
            self._state, self._stack = _NODE, ["{"]
        elif state == _AFTER_NODE and char == ",":
            self._state = _NEXT
        elif state == _AFTER_NODE and char == "]":
            self._state = _AFTER_ARRAY
        elif state == _AFTER_ARRAY and char == "}":
            self._state = _END
        elif state == _END:
            raise PlanError(f"unexpected text after the end of the plan at character {at}: {char!r}; the plan ends at its closing '}}'")
        elif state == _FIRST and char == "]":  # an empty plan: no tool applies
            self._state = _AFTER_ARRAY
        elif state == _AFTER_ARRAY and char == ",":
            raise PlanError("unexpected second top-level key; a plan is {\"nodes\":[...]} and nothing else")
        elif state in (_FIRST, _NEXT):
            raise PlanError(f"a node must be a JSON object {{\"id\",\"tool\",\"args\"}}, got {char!r} at character {at}", node_id=self._next_id)
        else:
            raise self._malformed(f"expected {_EXPECTED[state]}, got {char!r}", at)

    def _root_key(self) -> None:
        raw = "".join(self._parts)
        self._parts = []
        try:
            key = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise self._malformed(f"bad top-level key {raw}: {exc.msg}", self._offset) from exc
        if key != "nodes":
            raise PlanError(f"unexpected top-level key {key!r}; a plan is {{\"nodes\":[...]}} and nothing else")
        self._state = _COLON

    def _close_node(self) -> Node:
        text = "".join(self._parts)
        self._parts = []
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise PlanError(f"malformed JSON: {exc.msg} at character {exc.pos} of the node's text {shown!r}", node_id=self._next_id) from exc
        except RecursionError as exc:
            raise PlanError("the node's JSON is nested too deeply to parse", node_id=self._next_id) from exc
        node = Node.from_dict(data, expected_id=self._next_id)
        if self._registry is not None:
            validate_node(node, self._known, self._registry)
        self._known[node.id] = node
        self._nodes.append(node)
        self._next_id += 1
        self._state = _AFTER_NODE
        return node

    def _malformed(self, problem: str, at: int) -> PlanError:
        node_id = self._next_id if self._state == _NODE else None
        return PlanError(f"malformed JSON at character {at}: {problem}", node_id=node_id)


async def iter_plan_nodes(
    chunks: AsyncIterable[str],
    registry: ToolRegistry | None = None,
    *,
    previous: Mapping[int, Node] | None = None,
) -> AsyncIterator[Node]:
    """Yield each node of a plan streamed as text chunks the moment its object closes.

    Validated with :func:`validate_node` as it arrives when ``registry`` is given.
    Raises :class:`PlanError` at the first problem, and at the end if the text is
    incomplete or has trailing garbage.
    """
    parser = PlanStreamParser(registry, previous=previous)
    async for chunk in chunks:
        for node in parser.feed(chunk):
            yield node
    parser.finish()
