"""Teacher synthesis: a bigger model (any catalog model, e.g. on an OpenAI-compatible
server) runs the real loop on questions, and its finished runs become training examples.

The teacher may also write the questions (:func:`teacher_questions`). A run is kept only
when it finished with an answer, every plan passed the loop's validation, and every call
it made succeeded: the examples are plans that were validated against the registry and
executed, with the teacher's join decisions and answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reasoner.errors import ModelError, PlanError, ReasonerError
from reasoner.models import Message
from reasoner.planner._examples import TuneExample, check_example
from reasoner.planner._prompts import planner_system

if TYPE_CHECKING:
    from reasoner.models import Model
    from reasoner.tools import ToolRegistry

__all__ = ["teach", "teacher_questions"]

_MAX_QUESTIONS = 200


async def teacher_questions(model: Model, registry: ToolRegistry, count: int, *, seed: int = 0) -> list[str]:
    """Ask ``model`` for ``count`` varied questions the registry's tools can answer (one call,
    decoded under a JSON schema: a list of strings). Duplicates are dropped.

    Raises:
        ModelError: the model's reply is not the list asked for.
    """
    from reasoner.models import GenerateOptions, complete

    count = max(1, min(count, _MAX_QUESTIONS))
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"questions": {"type": "array", "items": {"type": "string", "minLength": 5, "maxLength": 200}, "minItems": 1, "maxItems": count}},
        "required": ["questions"],
        "additionalProperties": False,
    }
    messages = [
        Message("system", "You write test questions for a tool-using assistant. " + planner_system(registry)),
        Message("user", f"Write {count} different questions a user might ask that need these tools: single calls, "
                "several calls at once, and calls that use another call's result. Reply as JSON: {\"questions\": [...]}."),
    ]  # fmt: skip
    completion = await complete(model, messages, schema=schema, options=GenerateOptions(max_tokens=60 * count + 64, temperature=0.8, seed=seed))
    try:
        questions = json.loads(completion.text)["questions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"teacher {model.name!r} did not reply with a list of questions: {exc}") from exc
    return list(dict.fromkeys(q.strip() for q in questions if isinstance(q, str) and q.strip()))


async def teach(
    teacher: str | Model,
    questions: Sequence[str] | int,
    registry: ToolRegistry,
    *,
    tools: str = "demo",
    catalog_env: Mapping[str, str] | None = None,
    seconds: float = 120.0,
) -> list[TuneExample]:
    """Run the loop with ``teacher`` in every role on each question (or on ``questions``
    questions the teacher writes) and return the examples its good runs make.

    ``teacher`` is a model or a catalog name (the catalog is loaded from ``catalog_env``,
    default ``os.environ``). A run that fails, or has a failed call, is skipped.
    """
    import anyio

    from reasoner._engine import Engine
    from reasoner._roles import Budget
    from reasoner._tune_data import examples_from_trace
    from reasoner.models import Catalog

    model: Model
    if isinstance(teacher, str):
        catalog = Catalog.load(env=catalog_env)
        model = await anyio.to_thread.run_sync(catalog.model, teacher)
    else:
        model = teacher
    if isinstance(questions, int):
        questions = await teacher_questions(model, registry, questions)
    engine = Engine(tools=registry, planner=model, joiner=model, answerer=model, budget=Budget(seconds=seconds))
    out: list[TuneExample] = []
    for question in questions:
        try:
            result = await engine.reason(question)
        except ReasonerError:
            continue
        if result.errors:
            continue
        example = examples_from_trace(result.trace, tools=tools)
        if example is None:
            continue
        try:
            check_example(example, registry)
        except PlanError:
            continue
        out.append(example.model_copy(update={"source": f"teacher:{model.name}"}))
    return out
