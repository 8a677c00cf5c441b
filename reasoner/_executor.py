"""The parallel executor: runs a plan's nodes as soon as the nodes they ref have finished.

How it schedules (and why):

- A node is *ready* once every node it refs has finished. Readiness is counted, not
  polled: each node keeps the number of unfinished dependencies, and finishing a node
  decrements its dependents' counts. No task exists for a node that is not ready.
- Ready nodes wait in a queue served by worker tasks, each holding one token of the
  engine-wide limiter. A worker that finishes a node takes the next ready one (a chain
  runs in one task; a fan-out in at most ``max_concurrency`` tasks), so there is never
  more than one task per node and a no-op node costs a few microseconds. A worker hands
  its token back instead when another run of the same engine is waiting for one.
- A node that needs approval, or whose tool is at its ``max_concurrency``, gets a task of
  its own that waits (approval, then the tool's limiter, then the engine's) without
  holding a token other nodes could use.
- Each attempt runs under ``anyio.fail_after(timeout)``; exceptions (``TimeoutError`` and
  :class:`~reasoner.errors.ToolRetry` included) are retried with exponential backoff; a
  :class:`~reasoner.errors.ToolError` (arguments that do not fit the schema, a denied
  approval) is not, because it would fail the same way again. A node keeps its tokens
  while it backs off.
- A node whose canonical ``(tool, args)`` repeats an earlier node's (this plan's, or a
  finished node of an earlier plan) is not called: it waits for that node and takes its
  outcome (``node.completed`` with ``aliased_to``), so no call runs twice in a run.
- A failed node marks the nodes that depend on it (directly or not) skipped; the other
  branches keep running and the result reports each outcome.
- Everything runs in one task group per call, so cancelling the caller cancels every
  running call. Sync tools run in worker threads, which cannot be interrupted: a
  cancelled thread is abandoned (it runs to completion in the background, its result
  dropped) rather than waited for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any

import anyio
from anyio.lowlevel import checkpoint

from reasoner._approval import Deny, Edit, denial_message
from reasoner.errors import PlanError, ToolError, ToolTimeout, UsageError
from reasoner.events import Event, Recorder
from reasoner.planner import Node, Plan, resolve_args, validate, validate_node
from reasoner.planner._calls import CallIndex

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from reasoner._approval import Approver
    from reasoner._runtime import Runtime, ToolPolicy

__all__ = ["ExecutionResult", "execute", "load_plan"]

# a worker yields to the event loop after this many nodes in a row that never awaited
_YIELD_EVERY = 16


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What :meth:`Engine.execute` returns.

    Attributes:
        plan: the plan that ran (for a streamed plan, the nodes that arrived).
        outputs: node id -> the tool's JSON-compatible output, for each node that succeeded.
        errors: node id -> ``"ErrorType: message"`` for each node that failed (after retries).
        skipped: node id -> the reason, e.g. ``"node 2 failed"``, for each node not run
            because a node it depends on failed or was skipped.
        trace: the events this execution emitted (DESIGN.md section 5).
        exceptions: node id -> the exception behind each entry of ``errors``.
    """

    plan: Plan
    outputs: dict[int, Any]
    errors: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    trace: list[Event] = field(default_factory=list)
    exceptions: dict[int, BaseException] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when every node succeeded."""
        return not self.errors and not self.skipped


def load_plan(source: Plan | str | Mapping[str, Any], runtime: Runtime, previous: Plan | None = None) -> Plan:
    """A validated :class:`Plan` from a Plan, its JSON text or its dict (``PlanError`` otherwise).

    With ``previous`` (a replan), ids continue after its nodes and refs may point to them.
    """
    known = {n.id: n for n in previous.nodes} if previous is not None else {}
    plan = source if isinstance(source, Plan) else Plan.from_json(source, first_id=max(known, default=0) + 1)
    validate(plan, runtime.registry, previous=known)
    return plan


async def execute(
    runtime: Runtime,
    source: Plan | str | Mapping[str, Any] | AsyncIterable[Node],
    recorder: Recorder | None = None,
    *,
    previous: ExecutionResult | None = None,
    approve: Approver | None = None,
) -> ExecutionResult:
    """Run a plan (complete, or streamed node by node) and collect its outcome.

    A complete plan is validated before anything runs; a streamed node is validated when it
    arrives, before it is dispatched. Either way a bad plan raises ``PlanError``; for a
    streamed plan the calls already running are cancelled first. An exception raised by the
    node iterator itself is re-raised the same way.

    ``previous`` (a replan) holds the outcome of earlier plans: the new nodes continue its
    numbering and may ref its finished nodes, whose outputs are reused, never re-run. The
    result then covers the previous nodes and the new ones.

    ``approve`` (default: the engine's approver) answers for the calls that need approval.
    """
    recorder = recorder if recorder is not None else Recorder()
    first_event = len(recorder.events)
    run = _Run(runtime, recorder, approve)
    if previous is not None:
        run.seed(previous)
    if isinstance(source, (Plan, str, Mapping)):
        new = load_plan(source, runtime, previous.plan if previous is not None else None)
        async with anyio.create_task_group() as tg:
            run.tg = tg
            for node in new.nodes:
                run.add(node)
            run.pump()
    elif isinstance(source, AsyncIterable):
        async with anyio.create_task_group() as tg:
            run.tg = tg
            tg.start_soon(run.feed, source)
        if run.fatal is not None:
            raise run.fatal
    else:
        raise UsageError(
            f"execute() takes a Plan, its JSON (str or dict) or an async iterable of Node; got {type(source).__name__}"
        )
    return ExecutionResult(
        plan=Plan(tuple(run.nodes.values())),  # previous nodes first, then the new ones
        outputs=dict(sorted(run.outputs.items())),
        errors=dict(sorted(run.errors.items())),
        skipped=dict(sorted(run.skipped.items())),
        trace=recorder.events[first_event:],
        exceptions=dict(sorted(run.exceptions.items())),
    )


class _NodeFailed(Exception):
    """A call that failed for good (internal: carries the error and the attempt count)."""

    def __init__(self, error: BaseException, attempts: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


def _describe(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _try_acquire(limiter: anyio.CapacityLimiter, borrower: object) -> bool:
    try:
        limiter.acquire_on_behalf_of_nowait(borrower)
    except anyio.WouldBlock:
        return False
    return True


class _Run:
    """The state of one execute call (see the module docstring for the scheduling)."""

    tg: TaskGroup

    def __init__(self, runtime: Runtime, recorder: Recorder, approve: Approver | None = None) -> None:
        self.rt = runtime
        self.approver = approve if approve is not None else runtime.approve
        self.emit = recorder.emit
        self.room = recorder.room  # a slow stream reader holds new calls back (backpressure)
        self.nodes: dict[int, Node] = {}
        self.outputs: dict[int, Any] = {}
        self.errors: dict[int, str] = {}
        self.exceptions: dict[int, BaseException] = {}
        self.skipped: dict[int, str] = {}
        self.fatal: Exception | None = None
        self._with_refs: set[int] = set()
        self._unfinished: dict[int, int] = {}  # waiting node -> number of its deps not finished yet
        self._dependents: dict[int, list[int]] = {}  # node -> waiting nodes that ref it
        self._skip_cause: dict[int, int] = {}  # skipped node -> the failed node at the root
        self._ready: deque[Node] = deque()
        self._workers = 0  # tasks holding an engine token for this run
        self._acquiring = False  # a task of this run is waiting for an engine token
        self.calls = CallIndex()  # repeated calls alias the first (see the module docstring)

    def seed(self, previous: ExecutionResult) -> None:
        """Start from the finished nodes of an earlier execution (replanning)."""
        for node in previous.plan.nodes:
            self.nodes[node.id] = node
            if node.id in previous.outputs:  # a call that failed may be planned again
                self.calls.add(node)
        self.outputs.update(previous.outputs)
        self.errors.update(previous.errors)
        self.exceptions.update(previous.exceptions)
        for nid, reason in previous.skipped.items():
            self.skipped[nid] = reason
            self._skip_cause[nid] = nid

    # -- graph bookkeeping (synchronous, O(refs) per node) ---------------------------------

    def add(self, node: Node) -> None:
        nid = node.id
        self.nodes[nid] = node
        target = self.calls.add(node)
        deps = node.refs() if target is None else frozenset({target})
        if not deps:
            self._ready.append(node)
            return
        self._with_refs.add(nid)
        waiting = []
        for dep in deps:
            if dep in self.outputs:
                continue
            if dep in self.errors:
                self._skip(nid, f"node {dep} failed", dep)
                return
            if dep in self.skipped:
                self._skip(nid, f"node {dep} was skipped", self._skip_cause[dep])
                return
            if dep not in self.nodes:
                raise PlanError(f"refs node {dep}, which is not an earlier node of the plan", node_id=nid)
            waiting.append(dep)
        if not waiting:
            self._ready.append(node)
            return
        for dep in waiting:
            self._dependents.setdefault(dep, []).append(nid)
        self._unfinished[nid] = len(waiting)

    def _complete(self, nid: int, value: Any) -> None:
        self.outputs[nid] = value
        for dep in self._dependents.pop(nid, ()):
            left = self._unfinished.get(dep)
            if left is None:  # already skipped because another of its deps failed
                continue
            if left == 1:
                del self._unfinished[dep]
                self._ready.append(self.nodes[dep])
            else:
                self._unfinished[dep] = left - 1

    def _fail(self, nid: int, error: BaseException, attempts: int) -> None:
        desc = _describe(error)
        self.errors[nid] = f"{desc['type']}: {desc['message']}"
        self.exceptions[nid] = error
        self.emit("node.failed", nid, error=desc, attempts=attempts)
        stack = [(nid, f"node {nid} failed")]
        while stack:
            src, reason = stack.pop()
            for dep in self._dependents.pop(src, ()):
                if self._unfinished.pop(dep, None) is not None:
                    self._skip(dep, reason, nid)
                    stack.append((dep, f"node {dep} was skipped"))

    def _skip(self, nid: int, reason: str, cause: int) -> None:
        self.skipped[nid] = reason
        self._skip_cause[nid] = cause
        self.emit("node.skipped", nid, reason=reason, cause=cause)

    # -- dispatch --------------------------------------------------------------------------

    def pump(self) -> None:
        """Start a worker for each ready node while engine tokens are free."""
        limiter = self.rt.limiter
        ready = self._ready
        while ready and limiter.available_tokens:
            slot = object()
            if not _try_acquire(limiter, slot):
                break
            self._workers += 1
            self.tg.start_soon(self._worker, slot, ready.popleft())
        if ready and self._workers == 0 and not self._acquiring:
            # every token is held elsewhere (other runs, or nodes that wait for their tool):
            # queue for the next one
            self._acquiring = True
            self.tg.start_soon(self._acquire)

    def _next(self) -> Node | None:
        ready = self._ready
        if not ready:
            return None
        # someone else (another run, or a node that waited for its tool) is owed this token
        if self.rt.waiting > self._acquiring:
            return None
        node = ready.popleft()
        if ready:
            self.pump()
        return node

    async def _acquire(self) -> None:
        limiter = self.rt.limiter
        slot = object()
        try:
            await self.rt.acquire(slot)
        finally:
            self._acquiring = False
        if not self._ready:
            limiter.release_on_behalf_of(slot)
            return
        self._workers += 1
        node = self._ready.popleft()
        if self._ready:
            self.pump()
        await self._worker(slot, node)

    async def _worker(
        self, slot: object, node: Node | None, prepared: tuple[dict[str, Any], object | None] | None = None
    ) -> None:
        """Run ``node``, then further ready nodes, on one engine token (``slot``)."""
        limiter = self.rt.limiter
        streak = 0
        try:
            while node is not None:
                if node.id in self.calls.aliases:
                    self._take_alias(node)
                    node = self._next()
                    continue
                policy = self.rt.policy(node.tool)
                tool_limiter = policy.limiter
                if prepared is not None:  # approved, args resolved, tool token held
                    args, tool_slot = prepared
                    prepared = None
                    try:
                        await self._run_node(node, policy, args)
                    finally:
                        if tool_limiter is not None:
                            tool_limiter.release_on_behalf_of(tool_slot)
                elif policy.requires_approval:
                    self.tg.start_soon(self._gated, node, policy)
                elif tool_limiter is not None:
                    tool_slot = object()
                    if not _try_acquire(tool_limiter, tool_slot):
                        self.tg.start_soon(self._gated, node, policy)
                    else:
                        try:
                            await self._run_node(node, policy)
                        finally:
                            tool_limiter.release_on_behalf_of(tool_slot)
                else:
                    await self._run_node(node, policy)
                streak += 1
                if streak == _YIELD_EVERY:
                    streak = 0
                    await checkpoint()
                node = self._next()
        finally:
            self._workers -= 1
            limiter.release_on_behalf_of(slot)
        if self._ready:
            self.pump()

    async def _gated(self, node: Node, policy: ToolPolicy) -> None:
        """A node that must wait for approval or its tool's limiter, without holding a token."""
        args = self._resolve(node)
        if args is None:
            return
        if policy.requires_approval:
            approved = await self._approve(node, policy, args)
            if approved is None:
                return
            args = approved
        tool_slot = None
        if policy.limiter is not None:
            tool_slot = object()
            await policy.limiter.acquire_on_behalf_of(tool_slot)
        slot = object()
        try:
            await self.rt.acquire(slot)
        except BaseException:
            if policy.limiter is not None:
                policy.limiter.release_on_behalf_of(tool_slot)
            raise
        self._workers += 1
        await self._worker(slot, node, (args, tool_slot))

    async def feed(self, source: AsyncIterable[Node]) -> None:
        """Validate and dispatch streamed nodes as they arrive."""
        iterator = source.__aiter__()
        try:
            async for node in iterator:
                if not isinstance(node, Node):
                    raise UsageError(
                        f"a streamed plan must yield Node objects; got {type(node).__name__} "
                        "(parse JSON text with reasoner.planner.iter_plan_nodes first)"
                    )
                validate_node(node, self.nodes, self.rt.registry)
                self.add(node)
                self.pump()
                await checkpoint()  # let the node start before the source produces the next one
        except Exception as exc:
            self.fatal = exc
            self.tg.cancel_scope.cancel()
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with anyio.move_on_after(5, shield=True):
                    await aclose()

    # -- one node --------------------------------------------------------------------------

    def _take_alias(self, node: Node) -> None:
        first = self.calls.aliases[node.id]
        self.emit("node.completed", node.id, output=self.outputs[first], duration_s=0.0, aliased_to=first)
        self._complete(node.id, self.outputs[first])

    def _resolve(self, node: Node) -> dict[str, Any] | None:
        args: dict[str, Any] = node.args
        if node.id not in self._with_refs:
            return args
        try:
            args = resolve_args(args, self.outputs, node.id)
        except Exception as exc:  # a ref path missing from the actual output
            self._fail(node.id, exc, 0)
            return None
        return args

    async def _approve(self, node: Node, policy: ToolPolicy, args: dict[str, Any]) -> dict[str, Any] | None:
        """Ask the approver; the arguments to call with (edited or not), or None when the
        call was denied or the answer was unusable (the node has failed)."""
        nid = node.id
        asked = self.approver is not None
        ids = {"approval_id": str(nid)}  # a node is asked about at most once per run
        if asked:
            self.emit("approval.requested", nid, **ids, tool=node.tool, args=args)
        try:
            decision = await self.rt.ask_approval(Node(nid, node.tool, args), policy.spec, self.approver)
            if isinstance(decision, Edit):
                try:
                    policy.spec.validate_args(decision.args)
                except ToolError as exc:
                    raise ToolError(f"the edited arguments of tool {node.tool!r} do not fit its schema: {exc}", tool=node.tool, node_id=nid) from exc
        except Exception as exc:
            if asked:
                self.emit("approval.resolved", nid, **ids, approved=False, decision="error", error=_describe(exc))
            self._fail(nid, exc, 0)
            return None
        if isinstance(decision, Deny):
            self.emit("approval.resolved", nid, **ids, approved=False, decision="deny", reason=decision.reason)
            self._fail(nid, ToolError(denial_message(node.tool, decision.reason), tool=node.tool, node_id=nid), 0)
            return None
        if isinstance(decision, Edit):
            self.emit("approval.resolved", nid, **ids, approved=True, decision="edit", args=decision.args, original_args=args)
            return dict(decision.args)
        self.emit("approval.resolved", nid, **ids, approved=True, decision="approve")
        return args

    async def _run_node(self, node: Node, policy: ToolPolicy, args: dict[str, Any] | None = None) -> None:
        nid = node.id
        await self.room()
        if args is None:
            args = self._resolve(node)
            if args is None:
                return
        self.emit("node.started", nid, tool=node.tool, args=args)
        start = perf_counter()
        hit = False
        try:
            key = self.rt.cache.key(node.tool, args) if policy.cache else None
            if key is None:
                value = await self._call(nid, policy, args)
            else:
                value, hit = await self.rt.cache.get_or_call(key, partial(self._call, nid, policy, args))
        except _NodeFailed as failed:
            self._fail(nid, failed.error, failed.attempts)
            return
        if hit:
            self.emit("node.completed", nid, output=value, duration_s=perf_counter() - start, cached=True)
        else:
            self.emit("node.completed", nid, output=value, duration_s=perf_counter() - start)
        self._complete(nid, value)

    async def _call(self, nid: int, policy: ToolPolicy, args: dict[str, Any]) -> Any:
        """Call the tool with timeout and retries; ``_NodeFailed`` once it has failed for good."""
        spec = policy.spec
        timeout = policy.timeout
        attempt = 0
        while True:
            attempt += 1
            scope = None
            try:
                if timeout is None:
                    return await spec.invoke(args)
                with anyio.fail_after(timeout) as scope:
                    return await spec.invoke(args)
            except ToolError as exc:
                raise _NodeFailed(exc, attempt) from None
            except Exception as exc:
                error: Exception = exc
                if isinstance(exc, TimeoutError) and scope is not None and scope.cancelled_caught:
                    error = ToolTimeout(
                        f"tool {spec.name!r} timed out after {timeout:g} s; allow more time with "
                        "@tool(timeout=...) or Engine(default_timeout=...)",
                        tool=spec.name,
                    )
                if attempt > policy.retries:
                    raise _NodeFailed(error, attempt) from None
                delay = self.rt.backoff.delay(attempt)
                self.emit("node.retrying", nid, attempt=attempt, delay_s=delay, error=_describe(error))
                await anyio.sleep(delay)
