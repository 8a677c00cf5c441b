"""The physical side of an engine: per-tool policy, concurrency limits and the tool cache.

An :class:`~reasoner.Engine` owns one :class:`Runtime`; the executor and ``explain``
read it. Policy is derived from tool metadata first and engine defaults second:

- timeout: the tool's ``timeout``, else the engine's ``default_timeout`` (``None``: no limit);
- retries: the tool's ``retries`` when it is above 0, else the engine's ``default_retries``;
- concurrency: the tool's ``max_concurrency`` (a limiter shared by every run of the engine)
  and the engine-wide ``max_concurrency``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from reasoner._approval import Approver, Decision, as_decision
from reasoner.errors import ToolError
from reasoner.models._backoff import Backoff as Backoff

if TYPE_CHECKING:
    from reasoner.planner import Node
    from reasoner.tools import ToolRegistry, ToolSpec

__all__ = ["Approver", "Backoff", "Runtime", "ToolCache", "ToolPolicy"]


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """How one tool runs under one engine (what ``explain`` shows as the physical plan)."""

    tool: str
    timeout: float | None
    retries: int
    cache: bool
    max_concurrency: int | None
    requires_approval: bool
    spec: ToolSpec = field(repr=False, compare=False)
    # shared by every run of the engine; None when the tool sets no max_concurrency
    limiter: anyio.CapacityLimiter | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class _InFlight:
    done: anyio.Event
    ok: bool = False
    value: Any = None
    error: BaseException | None = None


class ToolCache:
    """Results of ``cache=True`` tools keyed by (tool name, canonical JSON of the arguments).

    Identical calls made while the first is still running wait for it and share its result
    (or its failure). Failures are never stored; a cancelled call leaves nothing behind, so
    a waiter from another run then makes the call itself. Entries live as long as the engine
    (``Engine.clear_cache()`` empties it).
    """

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], Any] = {}
        self._inflight: dict[tuple[str, str], _InFlight] = {}

    @staticmethod
    def key(tool: str, args: dict[str, Any]) -> tuple[str, str] | None:
        """The cache key, or ``None`` for arguments that are not JSON (those calls are not cached)."""
        try:
            text = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            return None
        return (tool, text)

    def clear(self) -> None:
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)

    async def get_or_call(self, key: tuple[str, str], call: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
        """Return ``(value, hit)``: the stored value, a running identical call's value, or ``await call()``."""
        while True:
            if key in self._values:
                return self._values[key], True
            pending = self._inflight.get(key)
            if pending is None:
                break
            await pending.done.wait()
            if pending.ok:
                return pending.value, True
            if pending.error is not None:
                raise pending.error
            # the owner was cancelled: loop and make the call ourselves

        entry = _InFlight(anyio.Event())
        self._inflight[key] = entry
        try:
            value = await call()
        except Exception as exc:
            entry.error = exc
            raise
        else:
            entry.ok, entry.value = True, value
            self._values[key] = value
            return value, False
        finally:
            del self._inflight[key]
            entry.done.set()


class Runtime:
    """Registry, policy, limits, cache and approver of one engine (internal)."""

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        max_concurrency: int,
        default_timeout: float | None,
        default_retries: int,
        backoff: Backoff,
        approve: Approver | None,
    ) -> None:
        self.registry = registry
        self.max_concurrency = max_concurrency
        self.default_timeout = default_timeout
        self.default_retries = default_retries
        self.backoff = backoff
        self.approve = approve
        self.cache = ToolCache()
        self._policies: dict[str, ToolPolicy] = {}
        self._limiter: anyio.CapacityLimiter | None = None
        self.waiting = 0  # tasks blocked in acquire()

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The engine-wide limit on running tool calls (created inside the event loop on first use)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_concurrency)
        return self._limiter

    async def acquire(self, borrower: object) -> None:
        """Wait for an engine token; ``waiting`` counts the tasks doing so (cheaper than ``statistics()``)."""
        self.waiting += 1
        try:
            await self.limiter.acquire_on_behalf_of(borrower)
        finally:
            self.waiting -= 1

    def policy(self, tool: str) -> ToolPolicy:
        """The policy of a registered tool (``KeyError`` for an unknown name)."""
        policy = self._policies.get(tool)
        if policy is None:
            spec = self.registry[tool]
            policy = ToolPolicy(
                tool=tool,
                timeout=spec.timeout if spec.timeout is not None else self.default_timeout,
                retries=spec.retries if spec.retries > 0 else self.default_retries,
                cache=spec.cache,
                max_concurrency=spec.max_concurrency,
                requires_approval=spec.requires_approval,
                spec=spec,
                limiter=anyio.CapacityLimiter(spec.max_concurrency) if spec.max_concurrency else None,
            )
            self._policies[tool] = policy
        return policy

    async def ask_approval(self, node: Node, spec: ToolSpec, approver: Approver | None = None) -> Decision:
        """Ask ``approver`` (default: the engine's) about a call; a sync approver runs in a
        worker thread (it may prompt a terminal). ``ToolError`` when there is none or it
        answers something that is not a decision (see ``reasoner._approval``)."""
        approve = approver if approver is not None else self.approve
        if approve is None:
            raise ToolError(
                f"tool {spec.name!r} requires approval but this Engine has no approver; "
                "pass Engine(approve=fn) with fn(node, spec) returning True, False, Deny(reason) or Edit(args) (sync or async)",
                tool=spec.name,
                node_id=node.id,
            )
        if inspect.iscoroutinefunction(approve):
            answer: object = await approve(node, spec)
        else:
            answer = await anyio.to_thread.run_sync(approve, node, spec, abandon_on_cancel=True)
            if inspect.isawaitable(answer):
                answer = await answer
        return as_decision(answer, node, spec)
