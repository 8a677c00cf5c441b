"""Engine: the object power users hold. It owns the tool registry, the execution policy
(timeouts, retries, concurrency limits, approvals) and the tool cache, and delegates the
work to the executor (``reasoner._executor``) and ``explain`` (``reasoner._explain``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

from reasoner._executor import ExecutionResult, execute, load_plan
from reasoner._explain import Explanation, explain_plan
from reasoner._runtime import Approver, Backoff, Runtime
from reasoner.errors import UsageError
from reasoner.events import Recorder
from reasoner.planner import Node, Plan
from reasoner.tools import ToolRegistry

__all__ = ["Engine"]


class Engine:
    """Runs plans of tool calls in parallel.

    Args:
        tools: tool functions (decorated with ``@tool`` or plain), ``ToolSpec`` objects, or a
            ``ToolRegistry``.
        max_concurrency: tool calls allowed to run at once across every run of this engine.
        default_timeout: seconds per call attempt for tools that set no ``timeout``
            (``None``: no limit).
        default_retries: retries for tools that set no ``retries`` (a tool's ``retries=0``
            means "use this default").
        retry_backoff: ``(base, factor, max)`` seconds: retry k waits
            ``min(base * factor ** (k - 1), max)``.
        approve: called as ``approve(node, spec) -> bool`` (sync or async) before each call
            of a tool with ``requires_approval=True``; ``node.args`` are the resolved
            arguments. A sync approver runs in a worker thread, so it may prompt a terminal.
            Without an approver such calls fail with a ``ToolError``.

    An engine keeps the results of ``cache=True`` tools for its lifetime (``clear_cache()``)
    and its limiters are shared by concurrent ``execute`` calls. Use it from one event loop
    at a time.
    """

    def __init__(
        self,
        tools: Iterable[Any] | ToolRegistry | None = None,
        *,
        max_concurrency: int = 64,
        default_timeout: float | None = None,
        default_retries: int = 0,
        retry_backoff: tuple[float, float, float] = (0.1, 2.0, 10.0),
        approve: Approver | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise UsageError(f"Engine(max_concurrency={max_concurrency!r}) must be an integer >= 1")
        if default_timeout is not None and (
            isinstance(default_timeout, bool) or not isinstance(default_timeout, (int, float)) or default_timeout <= 0
        ):
            raise UsageError(f"Engine(default_timeout={default_timeout!r}) must be a number of seconds > 0, or None")
        if isinstance(default_retries, bool) or not isinstance(default_retries, int) or default_retries < 0:
            raise UsageError(f"Engine(default_retries={default_retries!r}) must be an integer >= 0")
        if approve is not None and not callable(approve):
            raise UsageError(f"Engine(approve=...) must be a callable (node, spec) -> bool; got {approve!r}")
        self._runtime = Runtime(
            ToolRegistry.of(tools),
            max_concurrency=max_concurrency,
            default_timeout=None if default_timeout is None else float(default_timeout),
            default_retries=default_retries,
            backoff=Backoff.parse(retry_backoff),
            approve=approve,
        )

    @property
    def tools(self) -> ToolRegistry:
        """The engine's tool registry."""
        return self._runtime.registry

    def clear_cache(self) -> None:
        """Forget the stored results of ``cache=True`` tools."""
        self._runtime.cache.clear()

    async def execute(
        self,
        plan: Plan | str | Mapping[str, Any] | AsyncIterable[Node],
        *,
        recorder: Recorder | None = None,
    ) -> ExecutionResult:
        """Run a plan: each node starts as soon as every node it refs has finished.

        Args:
            plan: a ``Plan``, its JSON (text or dict), or an async iterable of ``Node`` (for
                example ``reasoner.planner.iter_plan_nodes`` over a model's output), whose
                nodes start while later ones are still arriving.
            recorder: where events go (its ``sink`` sees each as it happens); a new one if
                omitted.

        Returns:
            An :class:`ExecutionResult`: ``outputs``, ``errors`` and ``skipped`` by node id,
            ``ok``, and the ``trace`` of events. A failing node does not raise; it is in
            ``errors`` and the nodes that depend on it are in ``skipped``.

        Cancelling the caller (``anyio.move_on_after``, a client gone) cancels every running
        call and returns only once none is left; a sync tool's thread cannot be interrupted,
        so it is abandoned (it finishes in the background and its result is dropped).

        Raises:
            PlanError: the plan is malformed or does not fit the tools (nothing has run; for
                a streamed plan, the nodes already running are cancelled).
            UsageError: ``plan`` is none of the accepted types.
        """
        return await execute(self._runtime, plan, recorder)

    async def explain(self, plan: Plan | str | Mapping[str, Any]) -> Explanation:
        """Describe how a plan would run, without running anything.

        Returns an :class:`Explanation`: ``plan``, ``critical_path``, ``physical`` (per node:
        dependencies, timeout, retries, cache, concurrency limit, approval) and ``levels``;
        ``str()`` of it is a table.

        Raises:
            PlanError: the plan is malformed or does not fit the tools.
            UsageError: ``plan`` is a question rather than a plan; explaining a question
                needs a planner model.
        """
        if isinstance(plan, str):
            try:
                json.loads(plan)
            except ValueError:
                # not JSON, so a question: the seam where the reasoning loop will plan it first
                raise UsageError(
                    "explain(question) needs a planner model, and this Engine has none; "
                    "pass a Plan or its JSON (text or dict) instead"
                ) from None
        return explain_plan(load_plan(plan, self._runtime), self._runtime)
