"""One backoff policy for every retry loop: tool calls (the executor) and remote model calls."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reasoner.errors import UsageError

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long retry ``k`` (1, 2, ...) waits: ``min(base * factor ** (k - 1), max)`` seconds,
    or ``steps[k - 1]`` when ``steps`` are given (the last one repeating), less a random
    share of up to ``jitter`` of it, so that calls failing together do not retry together.

    ``jitter=0`` makes the waits exact (tests); ``Backoff.of`` reads the forms the engine
    and :class:`~reasoner.models.OpenAIModel` accept.
    """

    base: float = 0.1
    factor: float = 2.0
    max: float = 10.0
    steps: tuple[float, ...] = ()
    jitter: float = 0.2

    def __post_init__(self) -> None:
        numbers = (self.base, self.factor, self.max, self.jitter, *self.steps)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            raise UsageError(f"{self!r}: every value must be a number of seconds")
        if self.base < 0 or self.factor < 1 or self.max < self.base or min(self.steps, default=0) < 0:
            raise UsageError(f"{self!r} is out of range: need base >= 0, factor >= 1, max >= base and steps >= 0")
        if not 0 <= self.jitter <= 1:
            raise UsageError(f"Backoff jitter must be between 0 and 1 (a share of the wait), got {self.jitter!r}")

    def delay(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry ``retry`` (1 for the first); ``draw`` gives the jitter in [0, 1)."""
        if self.steps:
            wait = self.steps[min(retry, len(self.steps)) - 1]
        else:
            wait = min(self.base * self.factor ** (retry - 1), self.max)
        return float(wait * (1 - self.jitter * draw()))

    @classmethod
    def of(cls, value: object, option: str = "retry_backoff") -> Backoff:
        """A Backoff from itself or a ``(base, factor, max)`` tuple of seconds (the engine's
        ``retry_backoff``); a UsageError naming ``option`` otherwise."""
        if isinstance(value, Backoff):
            return value
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            raise UsageError(f"{option} must be a (base, factor, max) tuple of seconds or a Backoff; got {value!r}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise UsageError(f"{option} values must be numbers; got {value!r}")
        base, factor, most = value
        if base < 0 or factor < 1 or most < base:
            raise UsageError(
                f"{option}={value!r} is out of range: need base >= 0, factor >= 1 and max >= base, e.g. {option}=(0.1, 2.0, 10.0)"
            )
        return cls(float(base), float(factor), float(most))

    @classmethod
    def of_steps(cls, value: Sequence[float] | Backoff, option: str) -> Backoff:
        """A Backoff from itself or a non-empty sequence of waits (retry k waits the k-th, the last repeating)."""
        if isinstance(value, Backoff):
            return value
        try:
            steps = tuple(float(b) for b in value)
        except (TypeError, ValueError):
            steps = ()
        if not steps or min(steps) < 0:
            raise UsageError(f"{option} must be a non-empty sequence of seconds >= 0 or a Backoff, got {value!r}")
        return cls(steps=steps)
