"""Plan validation against a tool registry, and ref resolution at run time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from jsonschema import validators
from jsonschema.exceptions import ValidationError, best_match

from reasoner.errors import PlanError
from reasoner.grammars._jsonschema import LinearValidator
from reasoner.planner._navigate import SchemaWalker, describe_types, fits
from reasoner.planner._plan import Node, Plan, Ref, format_location, iter_refs

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry, ToolSpec

__all__ = ["resolve_args", "validate", "validate_node"]

_Check = Callable[[Any, Any, Any, dict[str, Any]], "Iterator[ValidationError] | None"]


def _skip_refs(check: _Check) -> _Check:
    def checked(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError] | None:
        if isinstance(instance, Ref):
            return None  # a ref stands for any value; its type is checked against the producer's output schema
        return check(validator, value, instance, schema)

    return checked


# Draft 2020-12 (patterns on RE2, linear time) where a Ref, at any depth, satisfies every keyword
_RefTolerantValidator = validators.extend(
    LinearValidator,
    validators={keyword: _skip_refs(check) for keyword, check in LinearValidator.VALIDATORS.items()},
)
_validators: dict[int, tuple[dict[str, Any], Any]] = {}


def validate(plan: Plan, registry: ToolRegistry, *, previous: Mapping[int, Node] | None = None) -> None:
    """Check ``plan`` against ``registry`` before anything runs.

    Ids count up by one from 1 (or from the node after ``previous``, the finished
    nodes of earlier plans that a replan may ref); each tool exists; each node's
    arguments match the tool's input schema (Draft 2020-12; a ref may stand for any
    value); each ref points to an earlier node, and, where the producing tool declares
    an output schema, its path exists there and its JSON type can fit the argument.

    Raises :class:`PlanError` with ``node_id`` set and a message naming the problem.
    """
    seen: dict[int, Node] = dict(previous or {})
    for node in plan.nodes:
        validate_node(node, seen, registry)
        seen[node.id] = node


def validate_node(node: Node, previous: Mapping[int, Node], registry: ToolRegistry) -> None:
    """The checks of :func:`validate` for one node, given the nodes before it (by id).

    For streaming: call it as each node arrives, with every earlier node in ``previous``.
    Constant time in the number of earlier nodes (plus the node's own size).
    """
    node_id = node.id
    if not isinstance(node_id, int) or isinstance(node_id, bool):
        raise PlanError(f"the id must be an integer, got {node_id!r}")
    if node_id in previous:
        raise PlanError(f"duplicate id {node_id}; node ids count up by one in order (1, 2, 3, ...)", node_id=node_id)
    if (node_id - 1 not in previous) if previous else node_id != 1:
        expected = max(previous, default=0) + 1
        raise PlanError(f"id {node_id} is out of order: expected {expected} here; node ids count up by one in order (1, 2, 3, ...)", node_id=node_id)
    if node.tool not in registry:
        known = ", ".join(spec.name for spec in registry)
        raise PlanError(f"unknown tool {node.tool!r}; the tools are: {known or '(none registered)'}", node_id=node_id)
    spec = registry[node.tool]
    if not isinstance(node.args, Mapping):
        raise PlanError(f"'args' must be an object of arguments for tool {node.tool!r}, got {type(node.args).__name__}", node_id=node_id)
    refs = list(iter_refs(node.args))
    for where, ref in refs:
        _check_target(node, where, ref, previous)
    _check_args(node, spec)
    for where, ref in refs:
        _check_ref_type(node, where, ref, previous[ref.node], spec, registry)


def resolve_args(args: Mapping[str, Any], outputs: Mapping[int, Any], node_id: int) -> dict[str, Any]:
    """``args`` with every :class:`Ref` (at any depth) replaced by the value it points to.

    ``outputs`` maps node ids to their JSON-compatible outputs. A path segment is a dict
    key, or an index into a list. Values are inserted as they are, not copied. Raises
    :class:`PlanError` for node ``node_id`` naming the ref and the path when the node
    has no output or a segment is missing at run time.
    """

    def substitute(value: Any) -> Any:
        if isinstance(value, Ref):
            return _follow(value, outputs, node_id)
        if isinstance(value, Mapping):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [substitute(item) for item in value]
        return value

    return {key: substitute(value) for key, value in args.items()}


def _follow(ref: Ref, outputs: Mapping[int, Any], node_id: int) -> Any:
    if ref.node not in outputs:
        raise PlanError(f"ref to node {ref.node}: that node has no output (it has not finished, or it failed)", node_id=node_id)
    value = outputs[ref.node]
    done: list[str] = []
    for segment in ref.segments():
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, (list, tuple)) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            at = ".".join(done) or "the output"
            if isinstance(value, Mapping):
                has = f"its keys are {', '.join(map(str, value)) or '(none)'}"
            elif isinstance(value, (list, tuple)):
                has = f"it is a list of {len(value)} items"
            else:
                has = f"it is {_short(value)}"
            raise PlanError(
                f"ref to node {ref.node} path {ref.path!r}: {at} has no {segment!r} at run time ({has})",
                node_id=node_id,
            )
        done.append(segment)
    return value


def _check_target(node: Node, where: tuple[str | int, ...], ref: Ref, previous: Mapping[int, Node]) -> None:
    loc = format_location(where)
    if ref.node == node.id:
        raise PlanError(f"argument {loc}: ref to node {ref.node} points to the node itself; a ref may only point to an earlier node", node_id=node.id)
    if ref.node > node.id:
        raise PlanError(f"argument {loc}: ref to node {ref.node} points forward; a ref may only point to an earlier node (below {node.id})", node_id=node.id)
    if ref.node not in previous:
        raise PlanError(f"argument {loc}: ref to node {ref.node}, which does not exist; a ref may only point to an earlier node", node_id=node.id)
    if not isinstance(ref.path, str) or (ref.path and "" in ref.segments()):
        raise PlanError(f"argument {loc}: ref path {ref.path!r} is malformed; write dot-separated keys and list indices like \"results.0.title\"", node_id=node.id)


def _check_args(node: Node, spec: ToolSpec) -> None:
    validator = _validator_for(spec.input_schema)
    error = best_match(validator.iter_errors(dict(node.args)))
    if error is None:
        return
    loc = format_location(tuple(error.absolute_path))
    at = f"argument {loc}" if loc else "arguments"
    message, shown = error.message, repr(error.instance)
    if len(shown) > 60:
        message = message.replace(shown, shown[:45] + "..." + shown[-10:])
    message = message if len(message) <= 300 else message[:297] + "..."
    raise PlanError(f"wrong arguments for tool {node.tool!r}: {at}: {message}", node_id=node.id)


def _check_ref_type(node: Node, where: tuple[str | int, ...], ref: Ref, producer: Node, spec: ToolSpec, registry: ToolRegistry) -> None:
    output_schema = registry[producer.tool].output_schema if producer.tool in registry else None
    if output_schema is None:
        return  # nothing declared: the path and type are checked when the value arrives
    loc = format_location(where)
    out = SchemaWalker(output_schema)
    found: list[Any] = [output_schema]
    for depth, segment in enumerate(ref.segments()):
        step = out.step(found, segment)
        if not step:
            at = ".".join(ref.segments()[:depth])
            here = f"under {at!r}" if at else "at the top"
            fields = out.fields(found)
            has = f"fields there: {', '.join(fields)}" if fields else f"the value there is {describe_types(out.types(found))}"
            raise PlanError(
                f"argument {loc}: ref to node {ref.node} path {ref.path!r}: the output of tool {producer.tool!r} "
                f"has no {segment!r} {here} ({has}); use a path that exists in its output schema",
                node_id=node.id,
            )
        found = step
    produced = out.types(found)
    accepted = _accepted_types(spec.input_schema, where)
    if accepted is not None and not fits(produced, accepted):
        raise PlanError(
            f"argument {loc}: ref to node {ref.node} path {ref.path!r} gives {describe_types(produced)}, "
            f"but tool {node.tool!r} takes {describe_types(accepted)} there; ref a field of a fitting type",
            node_id=node.id,
        )


def _accepted_types(input_schema: dict[str, Any], where: tuple[str | int, ...]) -> frozenset[str] | None:
    walker = SchemaWalker(input_schema)
    found: list[Any] = [input_schema]
    for segment in where:
        found = walker.step(found, segment)
        if not found:
            return None
    return walker.types(found)


def _validator_for(schema: dict[str, Any]) -> Any:
    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_validators) >= 1024:
        _validators.clear()
    validator = _RefTolerantValidator(schema)
    _validators[id(schema)] = (schema, validator)
    return validator


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."
