"""Prompts for the three roles of the reasoning loop: planner, joiner, answerer.

The planner sees each tool as one line (name, parameters with brief docs, the fields it
returns, a brief description) and the ref syntax (:func:`planner_system`), and no worked
examples unless the caller passes some; its reply is decoded under :func:`~reasoner.planner.plan_schema`, so the prompt only has
to steer *which* valid plan it writes. The joiner replies under :data:`JOIN_SCHEMA`.
Observations (tool outputs) are shown as compact JSON, each cut to a bounded length so a
large output cannot blow the context of a small model.
"""

from __future__ import annotations

import json
import re
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
    "brief",
    "format_observations",
    "join_messages",
    "plan_messages",
    "planner_system",
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
_TOOL_DOC_CHARS = 48
_PARAM_DOC_CHARS = 32


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


_DANGLING = re.compile(r"(?:\s+(?:e\.g\.|such as|such|like|or|and|of|the|a|an|to|for|with|as|in|from))+$", re.IGNORECASE)


def brief(text: str, limit: int) -> str:
    """The first sentence of ``text`` (its first line, up to ". " or "; "), cut at a word
    boundary to at most ``limit`` characters; a cut never leaves an open quote or
    parenthesis or a dangling "e.g."."""
    first = text.strip().split("\n", 1)[0].strip()
    first = re.split(r"(?<=[^.\s]{2})\. |; ", first, maxsplit=1)[0].rstrip(" .")
    if len(first) <= limit:
        return first
    cut = first[: limit + 1].rsplit(" ", 1)[0] if " " in first[:limit] else first[:limit]
    while True:
        before = cut
        if cut.count('"') % 2:
            cut = cut[: cut.rindex('"')]
        if cut.count("(") > cut.count(")"):
            cut = cut[: cut.rindex("(")]
        cut = _DANGLING.sub("", cut.rstrip(" ,;:"))
        if cut == before:
            return cut


def _signature(spec: ToolSpec) -> str:
    # a parameter shows its brief doc where it has one (the grammar enforces its type),
    # else its type: the prompt stays short enough for a small model's context
    props: Mapping[str, Any] = spec.input_schema.get("properties", {})
    required = set(spec.input_schema.get("required", ()))
    params = []
    for name, schema in props.items():
        doc = brief(str(schema.get("description", "")), _PARAM_DOC_CHARS) if isinstance(schema, Mapping) else ""
        params.append(f"{name}{'' if name in required else '?'}: {doc or _type_of(schema)}")
    returns = ""
    if spec.output_schema and spec.output_schema.get("type") == "object":
        fields = ", ".join(spec.output_schema.get("properties", {}))
        returns = f" -> {{{fields}}}"
    elif spec.output_schema:
        returns = f" -> {_type_of(spec.output_schema)}"
    description = brief(spec.description, _TOOL_DOC_CHARS)
    return f"- {spec.name}({'; '.join(params)}){returns}" + (f": {description}" if description else "")


def planner_system(registry: ToolRegistry) -> str:
    """The planner's system message: what to write, the ref syntax, and one line per tool
    (name, parameters with brief docs, the fields it returns, a brief description).

    This is the one planner prompt: the library, the CLI, the server and the evals all
    build it here (through :func:`plan_messages`), and tuning data should too, so a model
    tuned on it sees the same text at run time. It has no worked examples; pass
    ``examples`` to :func:`plan_messages` (``Engine(examples=...)``) to add some.
    """
    tools = "\n".join(_signature(spec) for spec in registry)
    return (
        'Plan the tool calls that answer the question. An argument may be {"$ref":ID,"path":"field"}, '
        'a field of an earlier result ("a.0" is item 0 of a). Omit optional arguments you do not need.\nTools:\n' + tools
    )


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
    messages = [Message("system", planner_system(registry))]
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
