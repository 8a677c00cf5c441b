"""Engine: the object power users hold. It owns the tool registry, the execution policy
(timeouts, retries, concurrency limits, approvals) and the tool cache, and delegates the
work to the executor (``reasoner._executor``) and ``explain`` (``reasoner._explain``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from reasoner._approval import Approver
from reasoner._executor import ExecutionResult, execute, load_plan
from reasoner._explain import Explanation, explain_plan
from reasoner._loop import LoopConfig, RunResult, plan_only, run
from reasoner._react import REACT_TURNS, run_react
from reasoner._roles import Budget, RoleModels, RoleSpec, Session
from reasoner._runtime import Backoff, Runtime
from reasoner._settings import ExecutionPolicy, ModelSettings, Roles, merged
from reasoner.errors import UsageError
from reasoner.events import Event, Recorder
from reasoner.models import GenerateOptions, Message, Model
from reasoner.planner import Node, Plan
from reasoner.planner._prompts import Example
from reasoner.planner._retrieval import Retrieved, ToolRetriever
from reasoner.tools import ToolRegistry

if TYPE_CHECKING:
    from reasoner.models import Catalog

__all__ = ["Engine"]


# a question, or a conversation ending with one
Query = str | Sequence[Message | Mapping[str, Any]]


def conversation(query: Query) -> tuple[str, tuple[Message, ...]]:
    """``(question, earlier turns)`` of a query: a string is the question alone; a list of
    messages (``Message`` or ``{"role", "content"}`` dicts) must end with the user's.

    Raises:
        UsageError: an empty question, or a list that is not such a conversation.
    """
    if isinstance(query, str):
        if not query.strip():
            raise UsageError("the question is empty; ask something")
        return query, ()
    if not isinstance(query, Sequence) or not query:
        raise UsageError(f"a query is a question string or a non-empty list of chat messages, got {type(query).__name__}")
    messages = []
    for i, item in enumerate(query):
        if isinstance(item, Message):
            messages.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("role"), str) and isinstance(item.get("content"), str):
            try:
                messages.append(Message(item["role"], item["content"]))
            except UsageError as exc:
                raise UsageError(f"messages[{i}]: {exc}") from exc
        else:
            raise UsageError(f"messages[{i}] must be a Message or a {{\"role\": ..., \"content\": \"...\"}} dict, got {item!r:.80}")
    last = messages[-1]
    if last.role != "user" or not last.content.strip():
        raise UsageError(f"the last message must be the user's question; it is the {last.role}'s" + ("" if last.content.strip() else ", and empty"))
    return last.content, tuple(messages[:-1])


class Engine:
    """Plans with a model, runs the plan's tool calls in parallel, and answers.

    Args:
        tools: tool functions (decorated with ``@tool`` or plain), ``ToolSpec`` objects, or a
            ``ToolRegistry``.
        roles, policy, model_settings: the options below in groups (:class:`Roles`:
            planner, joiner, answerer, catalog; :class:`ExecutionPolicy`: max_concurrency,
            default_timeout, default_retries, retry_backoff; :class:`ModelSettings`:
            call_timeout, temperature, top_p, seed, grammar_backend). Each may also be given
            as a flat keyword, as before; giving one both ways is a ``UsageError``.
        planner, joiner, answerer: each a catalog name (``"smollm2-135m"``, the embedded
            default), a :class:`~reasoner.models.Model`, or a list of them tried in order
            when one fails, times out or writes invalid output. ``joiner`` and ``answerer``
            default to the planner. Names are loaded on first use.
        catalog: a :class:`~reasoner.models.Catalog` that resolves names (and, when a role
            is not given, supplies its models); without one, names go to
            :func:`reasoner.models.load_model`.
        budget: the default :class:`Budget` of a run (iterations, tokens, seconds).
        examples: ``(question, plan)`` pairs shown to the planner as earlier turns (none by
            default: the default prompt is the one the embedded model is tuned on).
        max_plan_nodes: nodes per plan at most.
        max_plan_tokens: tokens the planner may write per plan; in the last
            ``min(64, max_plan_tokens // 4)`` a local model is steered to close the plan,
            and a plan cut off anyway keeps its complete nodes.
        max_string, max_array: the plan grammar's bound on a string argument's characters
            and an array argument's items, where the tool's schema states no
            ``maxLength`` / ``maxItems`` of its own (a tool's own bound always wins).
        max_observation_tokens: the tool results shown to a model take at most about this
            many tokens of its own tokenizer (large outputs summarised by shape: keys,
            lengths, first items). Every prompt is also checked against the model's
            context length; one that does not fit is a ModelError naming what to cut.
        retrieval_threshold, retrieval_k: with more than ``retrieval_threshold`` tools, the
            planner sees (and its grammar allows) only the ``retrieval_k`` tools that BM25
            ranks best for the question over names, descriptions and parameter docs
            (event ``retrieval.selected``; ``explain()`` shows them).
        call_timeout: seconds a model may take to produce its next piece of text (a call
            may take four times this in all) before it counts as failed.
        temperature, top_p, seed, grammar_backend: decoding options for every model call
            (greedy by default).
        max_concurrency: tool calls allowed to run at once across every run of this engine.
        default_timeout: seconds per call attempt for tools that set no ``timeout``
            (``None``: no limit).
        default_retries: retries for tools that set no ``retries`` (a tool's ``retries=0``
            means "use this default").
        retry_backoff: ``(base, factor, max)`` seconds: retry k waits
            ``min(base * factor ** (k - 1), max)`` less up to 20% at random (jitter), or a
            :class:`~reasoner.models.Backoff` (``jitter=0`` for exact waits).
        approve: called as ``approve(node, spec)`` (sync or async) before each call of a
            tool with ``requires_approval=True``; ``node.args`` are the resolved arguments.
            It returns ``True`` / ``Approve()`` (run it), ``False`` / ``Deny(reason)`` (fail
            the call; the reason reaches the planner) or ``Edit(args)`` (run it with these
            arguments, validated against the tool's schema first); see
            ``reasoner._approval``. Only that call waits: its siblings run on. A sync
            approver runs in a worker thread, so it may prompt a terminal. Without an
            approver such calls fail with a ``ToolError``. ``reason``, ``stream`` and
            ``execute`` take ``approve=`` too, for one run.
        mode: ``"plan"`` (the default: the planner writes the whole graph of calls, which
            run in parallel where refs allow, then the joiner decides) or ``"react"``, the
            sequential baseline: one call per model turn, each turn seeing the results so
            far, until the model calls no further tool (``reasoner._react``; each turn is
            one iteration of the budget, whose default is then 8 turns).

    An engine keeps the results of ``cache=True`` tools for its lifetime (``clear_cache()``)
    and its limiters are shared by concurrent ``execute`` calls. Use it from one event loop
    at a time.
    """

    stream_buffer: int = 64
    """Events :meth:`stream` holds for a slow consumer before the run waits for it."""

    def __init__(
        self,
        tools: Iterable[Any] | ToolRegistry | None = None,
        *,
        roles: Roles | None = None,
        policy: ExecutionPolicy | None = None,
        model_settings: ModelSettings | None = None,
        max_concurrency: int = 64,
        default_timeout: float | None = None,
        default_retries: int = 0,
        retry_backoff: tuple[float, float, float] | Backoff = (0.1, 2.0, 10.0),
        approve: Approver | None = None,
        planner: RoleSpec | None = None,
        joiner: RoleSpec | None = None,
        answerer: RoleSpec | None = None,
        catalog: Catalog | None = None,
        budget: Budget | None = None,
        examples: Sequence[Example] = (),
        max_plan_nodes: int = 16,
        max_plan_tokens: int = 1024,
        max_string: int = 2048,
        max_array: int = 64,
        max_observation_tokens: int = 1024,
        retrieval_threshold: int = 12,
        retrieval_k: int = 8,
        call_timeout: float = 120.0,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        grammar_backend: str = "llguidance",
        mode: str = "plan",
    ) -> None:
        exe = merged(policy, ExecutionPolicy(), {"max_concurrency": max_concurrency, "default_timeout": default_timeout,
                     "default_retries": default_retries, "retry_backoff": retry_backoff}, "policy")  # fmt: skip
        max_concurrency, default_timeout, default_retries, retry_backoff = exe.max_concurrency, exe.default_timeout, exe.default_retries, exe.retry_backoff
        dec = merged(model_settings, ModelSettings(), {"call_timeout": call_timeout, "temperature": temperature, "top_p": top_p,
                     "seed": seed, "grammar_backend": grammar_backend}, "model_settings")  # fmt: skip
        call_timeout, temperature, top_p, seed, grammar_backend = dec.call_timeout, dec.temperature, dec.top_p, dec.seed, dec.grammar_backend
        who = merged(roles, Roles(), {"planner": planner, "joiner": joiner, "answerer": answerer, "catalog": catalog}, "roles")
        planner, joiner, answerer, catalog = who.planner, who.joiner, who.answerer, who.catalog
        self.policy, self.model_settings = exe, dec
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise UsageError(f"Engine(max_concurrency={max_concurrency!r}) must be an integer >= 1")
        if default_timeout is not None and (
            isinstance(default_timeout, bool) or not isinstance(default_timeout, (int, float)) or default_timeout <= 0
        ):
            raise UsageError(f"Engine(default_timeout={default_timeout!r}) must be a number of seconds > 0, or None")
        if isinstance(default_retries, bool) or not isinstance(default_retries, int) or default_retries < 0:
            raise UsageError(f"Engine(default_retries={default_retries!r}) must be an integer >= 0")
        if mode not in ("plan", "react"):
            raise UsageError(f"Engine(mode={mode!r}) must be 'plan' or 'react'")
        self._mode = mode
        if approve is not None and not callable(approve):
            raise UsageError(f"Engine(approve=...) must be a callable (node, spec) -> bool | Deny | Edit; got {approve!r}")
        self._runtime = Runtime(
            ToolRegistry.of(tools),
            max_concurrency=max_concurrency,
            default_timeout=None if default_timeout is None else float(default_timeout),
            default_retries=default_retries,
            backoff=Backoff.of(retry_backoff),
            approve=approve,
        )
        default: list[str] = catalog.role("planner") if catalog is not None else ["smollm2-135m"]

        def role(spec: RoleSpec | None, name: str, fallback: RoleSpec) -> RoleSpec:
            if spec is not None:
                return spec
            return catalog.role(name) if catalog is not None else fallback

        planner = role(planner, "planner", default)
        loader: Callable[[str], Model]
        if catalog is not None:
            loader = catalog.model
        else:
            from reasoner.models import load_model

            loader = load_model
        self._roles = RoleModels(
            {"planner": planner, "joiner": role(joiner, "joiner", planner), "answerer": role(answerer, "answerer", planner)},
            loader,
        )
        self._budget = budget if budget is not None else Budget(iterations=REACT_TURNS) if mode == "react" else Budget()
        self._config = LoopConfig(
            examples=tuple(examples), max_nodes=max_plan_nodes, max_string=max_string, max_array=max_array,
            max_tokens=max_plan_tokens, max_observation_tokens=max_observation_tokens,
        )  # fmt: skip
        if call_timeout <= 0:
            raise UsageError(f"Engine(call_timeout={call_timeout!r}) must be a number of seconds > 0")
        self._call_timeout = float(call_timeout)
        for name, value in (("retrieval_threshold", retrieval_threshold), ("retrieval_k", retrieval_k)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"Engine({name}={value!r}) must be an integer >= 1")
        self._retrieval = (retrieval_threshold, retrieval_k)
        self._retrievers: dict[tuple[str, ...], ToolRetriever] = {}
        self._options = GenerateOptions(temperature=temperature, top_p=top_p, seed=seed, grammar_backend=grammar_backend)

    async def __aenter__(self) -> Engine:
        await self._roles.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close what the engine opened: the models it loaded by name and its one
        ``httpx.AsyncClient`` per remote endpoint (``base_url``), which every remote model of
        its roles without a client of its own shares while the engine is open.
        ``async with Engine(...) as engine:`` does it on exit; without it, each remote call
        opens and closes its own connection. The engine may be opened again afterwards."""
        await self._roles.aclose()

    @property
    def mode(self) -> str:
        """``"plan"`` or ``"react"`` (see the constructor)."""
        return self._mode

    def role_models(self, role: str) -> list[str]:
        """The names of the models that serve ``role`` (``planner``, ``joiner``, ``answerer``), in fallback order."""
        if role not in ("planner", "joiner", "answerer"):
            raise UsageError(f"unknown role {role!r}: use planner, joiner or answerer")
        return self._roles.names(role)  # type: ignore[arg-type]

    def _session(self, recorder: Recorder, budget: Budget | None, history: Sequence[Message] = (), approve: Approver | None = None) -> Session:
        session = Session(recorder, budget or self._budget, self._roles, call_timeout=self._call_timeout, options=self._options, history=history)
        session.approve = approve
        return session

    @property
    def budget(self) -> Budget:
        """The default budget of a run."""
        return self._budget

    def _subset(self, tools: Sequence[str] | None) -> ToolRegistry | None:
        if tools is None:
            return None
        unknown = [name for name in tools if name not in self.tools]
        if unknown:
            raise UsageError(f"unknown tool(s) {unknown}: this engine has {self.tools.names()}")
        return ToolRegistry.of([self.tools[name] for name in dict.fromkeys(tools)])

    async def reason(
        self,
        query: Query,
        *,
        output: Any = None,
        budget: Budget | None = None,
        tools: Sequence[str] | None = None,
        plan: Plan | str | Mapping[str, Any] | None = None,
        approve: Approver | None = None,
    ) -> RunResult:
        """Answer ``query``: plan, run the tools (starting while the plan decodes), join, answer.

        Args:
            query: the question, or a conversation: a list of chat messages (``Message`` or
                ``{"role", "content"}`` dicts) ending with the user's question; the earlier
                turns are shown to the planner, joiner and answerer.
            output: a type (a pydantic model, a dataclass, ``list[int]``...) to decode the
                answer into; ``result.answer`` is then an instance of it. Default: text.
            budget: limits for this run (default: the engine's).
            tools: names of the registered tools the planner may use this run (default: all).
            plan: run this plan (a ``Plan``, its dict or JSON; for example one a person
                reviewed or edited after ``explain()``) instead of asking the planner for
                the first one; the joiner may still replan.
            approve: this run's approver, in place of the engine's (see ``Engine``).

        Returns:
            A :class:`RunResult`: ``answer``, ``plans``, ``outputs``, ``usage`` per model,
            and the ``trace`` of events.

        Raises:
            BudgetExceeded: iterations, tokens or seconds ran out.
            ModelError: every model of a role failed.
            PlanError: every planner model wrote an invalid plan in the last iteration.
            UsageError: an empty query or a bad argument.
        """
        return await self._run(query, output, budget, tools, Recorder(), plan, approve)

    def _retrieve(self, query: str, registry: ToolRegistry) -> Retrieved | None:
        """The tools retrieval picks for ``query``, or None below the threshold."""
        threshold, k = self._retrieval
        if len(registry) <= threshold:
            return None
        key = tuple(registry.names())
        retriever = self._retrievers.get(key)
        if retriever is None:
            if len(self._retrievers) >= 16:  # per-run tool subsets: keep the index cache small
                self._retrievers.clear()
            retriever = self._retrievers[key] = ToolRetriever(registry)
        return retriever.select(query, k)

    async def _run(
        self,
        query: Query,
        output: Any,
        budget: Budget | None,
        tools: Sequence[str] | None,
        recorder: Recorder,
        plan: Plan | str | Mapping[str, Any] | None = None,
        approve: Approver | None = None,
    ) -> RunResult:
        question, history = conversation(query)
        if approve is not None and not callable(approve):
            raise UsageError(f"approve=... must be a callable (node, spec) -> bool | Deny | Edit; got {approve!r}")
        given = load_plan(plan, self._runtime) if plan is not None else None  # a bad plan fails before the run starts
        registry = self._subset(tools)
        retrieved = None if given is not None else self._retrieve(question, registry if registry is not None else self.tools)
        session = self._session(recorder, budget, history, approve)
        if self._mode == "react" and given is None:
            return await run_react(session, self._runtime, question, output=output, config=self._config, registry=registry, retrieved=retrieved)
        return await run(
            session, self._runtime, question, output=output, config=self._config, registry=registry, retrieved=retrieved, plan=given
        )

    async def stream(
        self,
        query: Query,
        *,
        output: Any = None,
        budget: Budget | None = None,
        tools: Sequence[str] | None = None,
        plan: Plan | str | Mapping[str, Any] | None = None,
        approve: Approver | None = None,
    ) -> AsyncIterator[Event]:
        """The events of one run as they happen (DESIGN.md section 5), ending with
        ``run.completed``; after ``run.failed`` the error is raised. The arguments are
        those of :meth:`reason`.

        Break out early only inside ``contextlib.aclosing(engine.stream(...))``: closing the
        iterator cancels the run and every tool call under it.

        The stream is bounded (:attr:`stream_buffer` events): a consumer that reads slowly
        holds the run back (the answer decoding and the next tool calls wait for it) rather
        than events piling up.
        """
        send, receive = anyio.create_memory_object_stream[Event](self.stream_buffer)  # one writer
        failure: list[BaseException] = []

        async def produce() -> None:
            with send:
                recorder = Recorder(channel=send)
                try:
                    await self._run(query, output, budget, tools, recorder, plan, approve)
                except Exception as exc:  # delivered to the consumer after the run.failed event
                    failure.append(exc)
                await recorder.room()  # the events still in line

        closed = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            try:
                with receive:
                    async for event in receive:
                        yield event
            except GeneratorExit:  # the consumer closed us: cancel the run, end quietly
                closed = True
            finally:
                tg.cancel_scope.cancel()
        if failure and not closed:
            raise failure[0]

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
        approve: Approver | None = None,
    ) -> ExecutionResult:
        """Run a plan: each node starts as soon as every node it refs has finished.

        Args:
            plan: a ``Plan``, its JSON (text or dict), or an async iterable of ``Node`` (for
                example ``reasoner.planner.iter_plan_nodes`` over a model's output), whose
                nodes start while later ones are still arriving.
            recorder: where events go (its ``sink`` sees each as it happens); a new one if
                omitted.
            approve: the approver for this execution, in place of the engine's.

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
        return await execute(self._runtime, plan, recorder, approve=approve)

    async def explain(
        self,
        question: Query | Plan | Mapping[str, Any] | None = None,
        *,
        plan: Plan | str | Mapping[str, Any] | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> Explanation:
        """Describe how a plan would run, without running any tool.

        A string is always a question, whatever it looks like (a quoted string, JSON,
        anything), and a list of chat messages a conversation ending with one: the planner
        model writes the plan (under the plan grammar), and the explanation is of that
        plan. A :class:`~reasoner.planner.Plan` or a mapping (``{"nodes": [...]}``) is a
        plan; plan JSON text goes in ``plan=``.

        Returns an :class:`Explanation`: ``plan``, ``critical_path``, ``physical`` (per node:
        dependencies, timeout, retries, cache, concurrency limit, approval), ``levels`` and,
        for a question above the retrieval threshold, ``retrieved`` (the tools the planner
        was shown); ``str()`` of it is a table. ``on_event`` sees the planner's events
        (``plan.node``, ``plan.completed``, ``usage``, ``model.fallback``) as they happen.

        Raises:
            PlanError: the plan is malformed or does not fit the tools.
            ModelError: every planner model failed (for a question).
            UsageError: both or neither of ``question`` and ``plan``; a question, but no
                tools are registered.
        """
        if (question is None) == (plan is None):
            raise UsageError("explain() takes a question (a string) or plan=... (a Plan, a mapping or plan JSON), not both or neither")
        target: Plan | str | Mapping[str, Any]
        retrieved: Retrieved | None = None
        if isinstance(question, (str, list, tuple)):
            text, history = conversation(question)
            if not len(self._runtime.registry):
                raise UsageError("explain(question) needs tools to plan with; register tools first")
            retrieved = self._retrieve(text, self.tools)
            registry = None if retrieved is None else ToolRegistry.of([self.tools[name] for name in retrieved.tools])
            target = await plan_only(self._session(Recorder(sink=on_event), None, history), self._runtime, text, config=self._config, registry=registry)
        elif isinstance(question, (Plan, Mapping)):
            target = question
        elif question is not None:
            raise UsageError(f"explain() takes a question string, a Plan or a mapping; got {type(question).__name__}")
        elif plan is not None:
            target = plan
        return explain_plan(load_plan(target, self._runtime), self._runtime, retrieved=retrieved)
