"""Engine options in groups (Roles, ExecutionPolicy, ModelSettings) or as flat keywords."""

from __future__ import annotations

import json

import pytest

from reasoner import Engine, ExecutionPolicy, ModelSettings, Roles, UsageError, reason, tool
from reasoner.models import ScriptedModel

FINISH = '{"action":"finish"}'
ATTEMPTS: list[int] = []


@tool
def flaky(x: int) -> int:
    """Fail twice, then double.

    Args:
        x: the number.
    """
    ATTEMPTS.append(x)
    if len(ATTEMPTS) < 3:
        raise RuntimeError("not yet")
    return 2 * x


def _model() -> ScriptedModel:
    return ScriptedModel([json.dumps({"nodes": [{"id": 1, "tool": "flaky", "args": {"x": 4}}]}), FINISH, "8"])


def test_grouped_options_equal_the_flat_keywords() -> None:
    model = ScriptedModel([])
    flat = Engine(planner=model, default_retries=2, max_concurrency=3, temperature=0.3, call_timeout=9)
    grouped = Engine(
        roles=Roles(planner=model),
        policy=ExecutionPolicy(default_retries=2, max_concurrency=3),
        model_settings=ModelSettings(temperature=0.3, call_timeout=9),
    )
    assert flat.policy == grouped.policy == ExecutionPolicy(max_concurrency=3, default_retries=2)
    assert flat.model_settings == grouped.model_settings
    assert flat.role_models("answerer") == grouped.role_models("answerer") == ["scripted"]


def test_an_option_given_both_ways_is_refused_by_name() -> None:
    with pytest.raises(UsageError, match=r"Engine\(policy=\.\.\.\) and default_retries= were both given"):
        Engine(policy=ExecutionPolicy(), default_retries=1)
    with pytest.raises(UsageError, match=r"Engine\(roles=\.\.\.\) and planner= were both given"):
        Engine(roles=Roles(), planner="smollm2-135m")
    with pytest.raises(UsageError, match=r"max_concurrency=0\) must be an integer >= 1"):
        Engine(policy=ExecutionPolicy(max_concurrency=0))  # a group is checked as the keywords are


def test_reason_takes_the_groups_and_the_policy_applies() -> None:
    ATTEMPTS.clear()
    result = reason("twice 4?", tools=[flaky], roles=Roles(planner=_model()), policy=ExecutionPolicy(default_retries=2, retry_backoff=(0.001, 1.0, 0.001)))
    assert result.answer == "8" and result.outputs == {1: 8} and len(ATTEMPTS) == 3
