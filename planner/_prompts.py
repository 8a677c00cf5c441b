"""Prompts for the three roles of the reasoning loop: planner, joiner, answerer.

The planner sees each tool as one line (name, parameters with brief docs, the fields it
returns, a brief description) and the ref syntax (:func:`planner_system`), and no worked
examples unless the caller passes some; its reply is decoded under :func:`~reasoner.planner.plan_schema`, so the prompt only has
to steer *which* valid plan it writes. The joiner replies under :data:`JOIN_SCHEMA`.
Observations (tool outputs) are shown as compact JSON, a large one summarised by shape
(keys, lengths, first items) to a bounded length (the loop picks the length so that all
of them fit a token cap in the model's own tokenizer).
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
    "summarize",
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
        """``[id] tool(args) -> output``, the output summarised by shape to about ``limit`` characters."""
        call = f"[{self.node.id}] {self.node.tool}({summarize(self.node.to_dict()['args'], limit)})"
        if self.error is not None:
            error = f"error: {self.error}"
            return f"{call} -> {error if len(error) <= limit else error[: limit - 3] + '...'}"
        return f"{call} -> {summarize(self.output, limit)}"


def summarize(value: Any, limit: int) -> str:
    """``value`` as compact JSON when that fits in ``limit`` characters, else a summary of
    its shape in about that many: an object's keys with their values summarised, a list's
    first items and how many there are in all, a string's start and its length. The budget
    is shared out so that small values stay whole and large ones share the rest."""
    text = _compact(value)
    if len(text) <= limit:
        return text
    if isinstance(value, Mapping):
        names = [_compact(str(key)) + ":" for key in value]
        values = list(value.values())
        shares = _shares([len(_compact(v)) for v in values], limit - 2 - sum(len(n) + 1 for n in names))
        return "{" + ",".join(n + summarize(v, share) for n, v, share in zip(names, values, shares)) + "}"
    if isinstance(value, (list, tuple)):
        count, used = 0, 0
        for item in value:  # as many whole items as fit, and at least the first three
            used += len(_compact(item)) + 1
            if used > limit - 32 and count >= 3:
                break
            count += 1
        shown = list(value[:count])
        tail = [f'"... {len(value)} items in all"'] if len(value) > len(shown) else []
        budget = limit - 2 - sum(len(t) + 1 for t in tail) - len(shown)
        shares = _shares([len(_compact(v)) for v in shown], budget)
        return "[" + ",".join([*(summarize(v, share) for v, share in zip(shown, shares)), *tail]) + "]"
    if isinstance(value, str):
        return _compact(value[: max(limit - 16, 4)])[:-1] + f'..." ({len(value)} chars)'
    return text[: max(limit - 3, 1)] + "..."


def _shares(sizes: list[int], budget: int) -> list[int]:
    # water-filling: the smallest values get what they need while that is under a fair share
    shares = [0] * len(sizes)
    left = budget
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    for rank, i in enumerate(order):
        fair = left // (len(sizes) - rank)
        shares[i] = min(sizes[i], max(fair, 12))
        left -= shares[i]
    return shares


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
    """The first sentence of ``text`` (its first line, up to ". " or "; "), cut at a clause
    or word boundary to at most ``limit`` characters; a cut never leaves an open quote or
    parenthesis or a dangling "e.g."."""
    first = text.strip().split("\n", 1)[0].strip()
    first = re.split(r"(?<=[^.\s]{2})\. |; ", first, maxsplit=1)[0].rstrip(" .")
    if len(first) <= limit:
        return first
    cut = first[: limit + 1].rsplit(" ", 1)[0] if " " in first[:limit] else first[:limit]
    clause = max((m.start() for m in re.finditer(r", (?!e\.g\.)", cut)), default=-1)
    if clause >= limit // 3:  # end at a clause rather than mid-phrase ("..., from a bundled")
        cut = cut[:clause]
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
        'a field of an earlier result ("a.0" is item 0 of a). Omit optional arguments you do not need. '
        'If no tool helps, reply {"nodes":[]}.\nTools:\n' + tools
    )


def _plan_json(plan: Plan | str | Mapping[str, Any]) -> str:
    return (plan if isinstance(plan, Plan) else Plan.from_json(plan)).to_json()


def question_text(query: str, history: Sequence[Message] = ()) -> str:
    """``Question: <query>``, after the earlier turns of a conversation when there are any."""
    if not history:
        return f"Question: {query}"
    turns = "\n".join(f"{m.role}: {m.content}" for m in history)
    return f"Conversation so far:\n{turns}\n\nQuestion: {query}"


def plan_messages(
    query: str,
    registry: ToolRegistry,
    *,
    history: Sequence[Message] = (),
    examples: Sequence[Example] = (),
    observations: Sequence[Observation] = (),
    replan_reason: str | None = None,
    first_id: int = 1,
    observation_chars: int = _OBSERVATION_CHARS,
) -> list[Message]:
    """Messages asking the planner for a plan of calls to ``registry``'s tools.

    When replanning, ``observations`` are the nodes run so far (their ids stay valid as
    refs), ``replan_reason`` is the joiner's reason, and new ids start at ``first_id``.
    ``history`` holds the earlier turns of a conversation (shown before the question).
    """
    messages = [Message("system", planner_system(registry))]
    for question, plan in examples:  # worked examples as earlier turns: small models follow these best
        messages += [Message("user", f"Question: {question}"), Message("assistant", _plan_json(plan))]
    user = question_text(query, history)
    if observations:
        user += "\n\nResults so far:\n" + format_observations(observations, observation_chars)
    if replan_reason:
        user += f"\n\nPlan again: {replan_reason}"
    if observations or replan_reason:
        user += f"\n\nWrite the next plan; its first id is {first_id}."
    messages.append(Message("user", user))
    return messages


def format_observations(observations: Sequence[Observation], limit: int = _OBSERVATION_CHARS) -> str:
    """One line per node: ``[id] tool(args) -> output``, each summarised to about ``limit`` characters."""
    return "\n".join(o.line(limit) for o in observations)


def join_messages(
    query: str, observations: Sequence[Observation], *, history: Sequence[Message] = (), observation_chars: int = _OBSERVATION_CHARS
) -> list[Message]:
    """Messages asking the joiner whether the results answer the question (``JOIN_SCHEMA``)."""
    system = (
        "You check whether tool results are enough to answer a question. Reply "
        '{"action":"finish"} when they are, or {"action":"replan","reason":"..."} '
        "saying what is missing when a tool failed or a needed fact is absent."
    )
    user = f"{question_text(query, history)}\n\nResults:\n{format_observations(observations, observation_chars) or '(none)'}"
    return [Message("system", system), Message("user", user)]


def answer_messages(
    query: str,
    observations: Sequence[Observation],
    *,
    structured: bool = False,
    missing: str | None = None,
    history: Sequence[Message] = (),
    observation_chars: int = _OBSERVATION_CHARS,
) -> list[Message]:
    """Messages asking the answerer for the final answer from the results (``missing``: why
    they are incomplete, for a partial answer)."""
    system = (
        "Answer the question in one or two sentences, using only the tool results. Give "
        "numbers exactly as the results show them; if a tool failed, say what is missing."
        if observations or missing
        else "Answer the question in one or two sentences. No tool applies to it: answer it directly, and say so when you cannot."
    )
    if structured:
        system += " Reply with one JSON object in the requested format."
    user = question_text(query, history)
    if observations or missing:
        user += f"\n\nResults:\n{format_observations(observations, observation_chars) or '(none)'}"
    if missing:
        user += f"\n\nThe results are incomplete ({missing}): answer what they can, and say what is missing."
    return [Message("system", system), Message("user", user)]
