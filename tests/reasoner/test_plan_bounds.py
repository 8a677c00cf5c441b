"""Bounded by construction: the plan grammar's bounds fit real arguments, come from the
tool's own schema where it states them, are configurable on Engine, and agree with the
plan's token cap."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from pydantic import Field

from reasoner import Engine
from reasoner.errors import UsageError
from reasoner.models import ScriptedModel
from reasoner.tools import tool

sent: list[dict[str, Any]] = []


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    sent.append({"to": to, "body": body})
    return "sent"


@tool
def fetch(url: str) -> str:
    """Fetch a URL."""
    return url


@tool
def mean(values: list[float]) -> float:
    """The mean of some numbers."""
    return sum(values) / len(values)


@tool
def tag(label: Annotated[str, Field(max_length=4000)]) -> str:
    """Tag with a long label."""
    return label


URL = "https://maps.example.com/api/geocode/json?address=" + "1600+Amphitheatre+Parkway+Mountain+View+CA" * 4 + "&key=abc"
BODY = "Hi team, the quarterly numbers are in: revenue is up 12% and costs are flat. Details attached." + " Thanks!" * 2


def _plan(*calls: tuple[str, dict[str, Any]]) -> str:
    return json.dumps({"nodes": [{"id": i, "tool": t, "args": a} for i, (t, a) in enumerate(calls, 1)]}, separators=(",", ":"))


async def test_real_arguments_fit_the_default_plan_grammar() -> None:
    assert len(URL) > 200 and len(BODY) > 100
    plan = _plan(("fetch", {"url": URL}), ("send_email", {"to": "team@example.com", "subject": "Q3", "body": BODY}), ("mean", {"values": list(range(40))}))
    planner = ScriptedModel([plan, '{"action":"finish"}', "done"])  # validates its reply against the plan schema
    result = await Engine([fetch, send_email, mean], planner=planner).reason("Fetch, mail and average")
    assert result.outputs[1] == URL and result.outputs[3] == 19.5


async def test_string_and_array_bounds_are_engine_settings_and_a_tools_own_bound_wins() -> None:
    planner = ScriptedModel(['{"nodes":[{"id":1,"tool":"fetch","args":{"url":"x"}}]}', '{"action":"finish"}', "ok"])
    await Engine([fetch, mean, tag], planner=planner, max_string=300, max_array=12).reason("go")
    text = json.dumps(planner.calls[0].schema)
    assert '"maxLength": 300' in text and '"maxItems": 12' in text
    assert '"maxLength": 4000' in text  # tag's own bound, above the engine's


async def test_the_plan_cap_is_a_setting_and_the_planner_is_steered_to_close_within_it() -> None:
    planner = ScriptedModel(['{"nodes":[{"id":1,"tool":"fetch","args":{"url":"x"}}]}', '{"action":"finish"}', "ok"])
    await Engine([fetch], planner=planner, max_plan_tokens=400).reason("go")
    options = planner.calls[0].options
    assert (options.max_tokens, options.close_within) == (400, 64)
    assert planner.calls[1].options.close_within == 0  # the joiner is not steered


@pytest.mark.parametrize("setting", [{"max_string": 0}, {"max_array": -1}, {"max_plan_tokens": 10}, {"max_plan_nodes": True}])
def test_bad_bounds_are_refused(setting: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=next(iter(setting))):
        Engine([fetch], planner=ScriptedModel([]), **setting)
