"""Prompts for the three roles of the reasoning loop: planner, joiner, answerer.

The planner sees each tool as a one-line signature (name, arguments with their JSON
types, what it returns, its description), the ref syntax, and a few worked examples;
its reply is decoded under :func:`~reasoner.planner.plan_schema`, so the prompt only has
to steer *which* valid plan it writes. The joiner replies under :data:`JOIN_SCHEMA`.
Observations (tool outputs) are shown as compact JSON, each cut to a bounded length so a
large output cannot blow the context of a small model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reasoner.models import Message
from reasoner.planner._plan import Node, Plan

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry, ToolSpec

__all__ = [
    "JOIN_SCHEMA",
    "Example",
    "Observation",
    "answer_messages",
    "format_observations",
    "join_messages",
    "plan_messages",
]

Example = tuple[str, "Plan | str | Mapping[str, Any]"]

JOIN_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"action": {"const": "finish"}},
            "required": ["action"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"action": {"const": "replan"}, "reason": {"type": "string", "maxLength": 200}},
            "required": ["action", "reason"],
            "additionalProperties": False,
        },
    ]
}

_OBSERVATION_CHARS = 600


@dataclass(frozen=True, slots=True)
class Observation:
    """What one node did: its call, and its output or (when it failed or was skipped) why not."""

    node: Node
    output: Any = None
    error: str | None = None

    def line(self, limit: int = _OBSERVATION_CHARS) -> str:
        call = f"[{self.node.id}] {self.node.tool}({_compact(self.node.to_dict()['args'])})"
        result = f"error: {self.error}" if self.error is not None else _compact(self.output)
        if len(result) > limit:
            result = result[: limit - 3] + "..."
        return f"{call} -> {result}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _type_of(schema: Mapping[str, Any]) -> str:
    if "const" in schema:
        return _compact(schema["const"])
    if "enum" in schema:
        return "|".join(_compact(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return "|".join(_type_of(s) for s in schema[key] if s.get("type") != "null") or "null"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{_type_of(schema.get('items', {}))}]"
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind if k != "null")
    return str(kind)


def _signature(spec: ToolSpec) -> str:
    props: Mapping[str, Any] = spec.input_schema.get("properties", {})
    required = set(spec.input_schema.get("required", ()))
    args = ", ".join(f"{name}{'' if name in required else '?'}: {_type_of(s)}" for name, s in props.items())
    returns = ""
    if spec.output_schema and spec.output_schema.get("type") == "object":
        fields = ", ".join(spec.output_schema.get("properties", {}))
        returns = f" -> {{{fields}}}"
    elif spec.output_schema:
        returns = f" -> {_type_of(spec.output_schema)}"
    description = spec.description.strip().splitlines()[0] if spec.description.strip() else ""
    return f"- {spec.name}({args}){returns}: {description}"


def _plan_json(plan: Plan | str | Mapping[str, Any]) -> str:
    return (plan if isinstance(plan, Plan) else Plan.from_json(plan)).to_json()


def plan_messages(
    query: str,
    registry: ToolRegistry,
    *,
    examples: Sequence[Example] = (),
    observations: Sequence[Observation] = (),
    replan_reason: str | None = None,
    first_id: int = 1,
) -> list[Message]:
    """Messages asking the planner for a plan of calls to ``registry``'s tools.

    When replanning, ``observations`` are the nodes run so far (their ids stay valid as
    refs), ``replan_reason`` is the joiner's reason, and new ids start at ``first_id``.
    """
    tools = "\n".join(_signature(spec) for spec in registry)
    system = (
        "You plan tool calls that answer the user's question. Reply with one JSON plan: "
        '{"nodes":[{"id":1,"tool":NAME,"args":{...}},...]}. Ids count up from the first id. '
        'Any argument value may be {"$ref":ID,"path":"field"} to use a field of an earlier '
        "node's result (path \"\" is the whole result, \"a.0\" is item 0 of field a). "
        "Calls that do not depend on each other run in parallel. Leave out optional "
        "arguments you do not need.\n\nTools:\n" + tools
    )
    messages = [Message("system", system)]
    for question, plan in examples:  # worked examples as earlier turns: small models follow these best
        messages += [Message("user", f"Question: {question}"), Message("assistant", _plan_json(plan))]
    user = f"Question: {query}"
    if observations:
        user += "\n\nResults so far:\n" + format_observations(observations)
    if replan_reason:
        user += f"\n\nPlan again: {replan_reason}"
    if observations or replan_reason:
        user += f"\n\nWrite the next plan; its first id is {first_id}."
    messages.append(Message("user", user))
    return messages


def format_observations(observations: Sequence[Observation]) -> str:
    """One line per node: ``[id] tool(args) -> output``."""
    return "\n".join(o.line() for o in observations)


def join_messages(query: str, observations: Sequence[Observation]) -> list[Message]:
    """Messages asking the joiner whether the results answer the question (``JOIN_SCHEMA``)."""
    system = (
        "You check whether tool results are enough to answer a question. Reply "
        '{"action":"finish"} when they are, or {"action":"replan","reason":"..."} '
        "saying what is missing when a tool failed or a needed fact is absent."
    )
    user = f"Question: {query}\n\nResults:\n{format_observations(observations) or '(none)'}"
    return [Message("system", system), Message("user", user)]


def answer_messages(query: str, observations: Sequence[Observation], *, structured: bool = False) -> list[Message]:
    """Messages asking the answerer for the final answer from the results."""
    system = (
        "Answer the question in one or two sentences, using only the tool results. Give "
        "numbers exactly as the results show them; if a tool failed, say what is missing."
    )
    if structured:
        system += " Reply with one JSON object in the requested format."
    user = f"Question: {query}\n\nResults:\n{format_observations(observations) or '(none)'}"
    return [Message("system", system), Message("user", user)]
