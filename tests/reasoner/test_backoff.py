"""One backoff policy (reasoner.models.Backoff) for tool retries and remote model retries."""

from __future__ import annotations

import pytest

from reasoner import Engine, UsageError
from reasoner.models import Backoff, OpenAIModel


def test_waits_grow_exponentially_up_to_the_cap_less_the_jitter() -> None:
    exact = Backoff(0.1, 2.0, 0.5, jitter=0)
    assert [exact.delay(k) for k in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    jittered = Backoff(0.1, 2.0, 0.5, jitter=0.5)
    assert jittered.delay(2, draw=lambda: 0.0) == 0.2 and jittered.delay(2, draw=lambda: 0.999) == pytest.approx(0.1001)
    waits = {Backoff().delay(3) for _ in range(50)}  # the default spreads retries out
    assert len(waits) > 40 and all(0.4 * 0.8 <= w <= 0.4 for w in waits)


def test_steps_give_the_waits_and_the_last_repeats() -> None:
    steps = Backoff.of_steps((0.5, 2.0), "backoff")
    assert steps.jitter == 0.2
    assert [Backoff(steps=(0.5, 2.0), jitter=0).delay(k) for k in (1, 2, 3)] == [0.5, 2.0, 2.0]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Backoff(jitter=1.5), "jitter must be between 0 and 1"),
        (lambda: Backoff(base=-1), "out of range"),
        (lambda: Backoff.of((1.0, 0.5, 2.0)), r"retry_backoff=\(1.0, 0.5, 2.0\) is out of range"),
        (lambda: Backoff.of_steps((), "OpenAIModel backoff"), "OpenAIModel backoff must be a non-empty sequence"),
    ],
)
def test_bad_values_are_refused_by_name(build: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build()  # type: ignore[operator]


def test_the_engine_and_the_remote_model_share_the_policy() -> None:
    policy = Backoff(0.2, 3.0, 5.0, jitter=0.1)
    assert Engine(retry_backoff=policy).policy.retry_backoff is policy
    model = OpenAIModel("http://127.0.0.1:9/v1", "m", backoff=policy)
    assert model.backoff is policy
    assert OpenAIModel("http://127.0.0.1:9/v1", "m", backoff=(0.0,)).backoff.delay(3) == 0.0
