"""The groups of :class:`~reasoner.Engine` options: which models play which role
(:class:`Roles`), how tool calls run (:class:`ExecutionPolicy`) and how models decode
(:class:`ModelSettings`). Each is a frozen record with the engine's defaults::

    Engine(tools, roles=Roles(planner="smollm2-135m"), policy=ExecutionPolicy(default_retries=2),
           model_settings=ModelSettings(temperature=0.2))

The same options as flat keywords (``Engine(tools, planner=..., default_retries=2)``) keep
working; giving one both ways is a :class:`~reasoner.errors.UsageError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from reasoner.errors import UsageError

if TYPE_CHECKING:
    from reasoner._approval import Approver
    from reasoner._roles import RoleSpec
    from reasoner.models import Backoff, Catalog
    from reasoner.planner._prompts import Example

__all__ = ["EngineKwargs", "ExecutionPolicy", "ModelSettings", "Roles", "merged"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Roles:
    """The models of each role: a catalog name, a :class:`~reasoner.models.Model`, or a
    list of them tried in order. ``joiner`` and ``answerer`` default to the planner, the
    planner to the catalog's (else ``"smollm2-135m"``); ``catalog`` resolves names."""

    planner: RoleSpec | None = None
    joiner: RoleSpec | None = None
    answerer: RoleSpec | None = None
    catalog: Catalog | None = None


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How tool calls run (see :class:`~reasoner.Engine` for each field).

    ``retry_backoff`` is ``(base, factor, max)`` seconds (retry k waits
    ``min(base * factor ** (k - 1), max)`` less up to 20% at random) or a
    :class:`~reasoner.models.Backoff`.
    """

    max_concurrency: int = 64
    default_timeout: float | None = None
    default_retries: int = 0
    retry_backoff: tuple[float, float, float] | Backoff = (0.1, 2.0, 10.0)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """How every model call decodes, and how long it may take (see :class:`~reasoner.Engine`)."""

    call_timeout: float = 120.0
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    grammar_backend: str = "llguidance"


class EngineKwargs(TypedDict, total=False):
    """The keyword arguments of :class:`~reasoner.Engine`, for ``reason(**engine_options)``."""

    roles: Roles | None
    policy: ExecutionPolicy | None
    model_settings: ModelSettings | None
    max_concurrency: int
    default_timeout: float | None
    default_retries: int
    retry_backoff: tuple[float, float, float] | Backoff
    approve: Approver | None
    planner: RoleSpec | None
    joiner: RoleSpec | None
    answerer: RoleSpec | None
    catalog: Catalog | None
    examples: Sequence[Example]
    max_plan_nodes: int
    max_plan_tokens: int
    max_string: int
    max_array: int
    max_observation_tokens: int
    retrieval_threshold: int
    retrieval_k: int
    call_timeout: float
    temperature: float
    top_p: float
    seed: int | None
    grammar_backend: str
    mode: str


def merged(group: T | None, default: T, keywords: Mapping[str, Any], option: str) -> T:
    """``group`` (else ``default``) with the flat ``keywords`` that differ from the defaults
    applied; a keyword that differs while ``group`` is given too is a UsageError."""
    changed = {k: v for k, v in keywords.items() if v != getattr(default, k)}
    if group is None:
        return dataclasses.replace(default, **changed)  # type: ignore[type-var]
    if changed:
        names = ", ".join(f"{k}=" for k in changed)
        raise UsageError(f"Engine({option}=...) and {names} were both given: pass {names} inside {option}= or as keywords, not both")
    return group
