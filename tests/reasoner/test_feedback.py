"""Feedback kept with a trace, and the tune examples it makes."""

from __future__ import annotations

import json

import pytest

from reasoner import Engine
from reasoner._feedback import Feedback, example_from_feedback, feedback_event
from reasoner.errors import UsageError
from reasoner.events import Event
from reasoner.models import ScriptedModel
from reasoner.tools.demo import demo_tools

PLAN = json.dumps({"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT"}}]})


async def _trace() -> list[Event]:
    engine = Engine(
        tools=demo_tools(),
        planner=ScriptedModel([PLAN], name="p"),
        joiner=ScriptedModel(['{"action":"finish"}'], name="j"),
        answerer=ScriptedModel(["MSFT closed at 1."], name="a"),
    )
    return (await engine.reason("What did MSFT close at?")).trace


async def test_good_makes_the_run_an_example_and_bad_alone_makes_none() -> None:
    trace = await _trace()
    assert example_from_feedback(trace) is None  # no feedback yet
    good = example_from_feedback([*trace, feedback_event(trace, Feedback(rating="good"))])
    assert good is not None and good.answer == "MSFT closed at 1." and good.plan == json.loads(PLAN)
    assert good.observations is not None and good.join is not None
    assert example_from_feedback([*trace, feedback_event(trace, Feedback(rating="bad", note="wrong"))]) is None


async def test_a_corrected_answer_or_plan_replaces_the_runs() -> None:
    trace = await _trace()
    fixed = example_from_feedback([*trace, feedback_event(trace, Feedback(answer="MSFT closed at 413.62."))])
    assert fixed is not None and fixed.answer == "MSFT closed at 413.62." and fixed.observations is not None
    better = {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT", "date": "2024-12-06"}}]}
    planned = example_from_feedback([*trace, feedback_event(trace, Feedback(rating="bad", plan=better))])
    assert planned is not None and planned.plan == better and planned.observations is None  # a planner example
    # the last feedback counts
    both = [*trace, feedback_event(trace, Feedback(rating="good"))]
    both.append(feedback_event(both, Feedback(rating="bad")))
    assert example_from_feedback(both) is None


def test_feedback_must_say_something_valid() -> None:
    with pytest.raises(UsageError, match="at least one of"):
        Feedback()
    with pytest.raises(UsageError, match="not a plan"):
        Feedback(plan={"steps": []})
    with pytest.raises(UsageError, match="'good' or 'bad'"):
        Feedback(rating="fine")  # type: ignore[arg-type]
