"""Model roles (planner, joiner, answerer): resolution, fallback and usage accounting."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import httpx

from reasoner._approval import Approver
from reasoner.errors import BudgetExceeded, ModelError, ModelTimeout, PlanError, UsageError
from reasoner.events import Recorder
from reasoner.models import (
    Delta,
    GenerateOptions,
    Message,
    Model,
    OpenAIModel,
    Usage,
    validate_output,
)

__all__ = ["Budget", "ModelUsage", "Role", "RoleModels", "RoleSpec", "Session"]


@asynccontextmanager
async def _closing(iterator: AsyncIterator[Delta]) -> AsyncGenerator[AsyncIterator[Delta], None]:
    """``contextlib.aclosing`` for a model's stream: closed when it has ``aclose`` (async
    generators do; a model's own iterator class may not)."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


Role = Literal["planner", "joiner", "answerer"]
RoleSpec = str | Model | Sequence[str | Model]
T = TypeVar("T")


_CLOSE_SECONDS = 2.0  # closing a client waits this long at most, even when cancelled
_ANSWER_RESERVE = 1024  # tokens of the budget kept for the answer (at most a quarter of it)


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits for one run; reaching one ends the run with :class:`~reasoner.errors.BudgetExceeded`.

    Attributes:
        iterations: plans at most (the first plan and each replan).
        tokens: prompt plus completion tokens over every model call.
        seconds: wall time of the whole run.
    """

    iterations: int = 3
    tokens: int = 32_000
    seconds: float = 300.0

    def __post_init__(self) -> None:
        for name in ("iterations", "tokens", "seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise UsageError(f"Budget({name}={value!r}) must be a number > 0")


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Usage of one model over a run (summed over its calls)."""

    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    forced_tokens: int = 0
    seconds: float = 0.0

    def add(self, usage: Usage, seconds: float) -> ModelUsage:
        return ModelUsage(
            self.model,
            self.calls + 1,
            self.prompt_tokens + usage.prompt_tokens,
            self.completion_tokens + usage.completion_tokens,
            self.forced_tokens + usage.forced_tokens,
            self.seconds + seconds,
        )


_WHAT_TO_CUT: dict[str, str] = {
    "planner": "register fewer tools (or lower Engine(retrieval_threshold=...) so the planner sees only the top few), "
    "shorten the question, or lower Engine(max_observation_tokens=...)",
    "joiner": "lower Engine(max_observation_tokens=...) or shorten the question",
    "answerer": "lower Engine(max_observation_tokens=...) or shorten the question",
}
_MIN_REPLY = 64


def check_context(role: Role, model: Model, messages: Sequence[Message], max_tokens: int) -> tuple[int, int]:
    """The reply tokens to ask for (``max_tokens``, lowered to what the model's context has
    left after the prompt) and the prompt's tokens (0 when the model cannot count them). Raises ModelError naming what to cut when the prompt leaves less
    than a short reply (``min(64, max_tokens)``). Models that do not tell their context
    length are not checked."""
    limit = getattr(model, "context_length", None)
    count = getattr(model, "count_tokens", None)
    if not isinstance(limit, int) or not callable(count):
        return max_tokens, 0
    prompt = int(count(messages))
    left = limit - prompt
    if left >= max_tokens:
        return max_tokens, prompt
    if left >= min(_MIN_REPLY, max_tokens):
        return left, prompt
    raise ModelError(
        f"the {role} prompt is {prompt} tokens for model {model.name!r}, which leaves {max(left, 0)} of its "
        f"{limit}-token context for the reply (at least {min(_MIN_REPLY, max_tokens)} needed): {_WHAT_TO_CUT[role]}"
    )


class RoleModels:
    """Resolves role specs to models: catalog names are loaded once (off the event loop).

    While open (:meth:`open` to :meth:`aclose`, what ``async with Engine(...)`` does) it
    owns the models loaded by name, and one ``httpx.AsyncClient`` per remote endpoint
    (``base_url``): every :class:`~reasoner.models.OpenAIModel` of its roles that has no
    client of its own, loaded by name or passed in, sends its requests through it (a view
    of the model, :meth:`OpenAIModel.sharing`; the object passed in is unchanged).
    """

    def __init__(self, roles: Mapping[Role, RoleSpec], loader: Callable[[str], Model]) -> None:
        self._specs: dict[Role, list[str | Model]] = {}
        for role, spec in roles.items():
            items = [spec] if isinstance(spec, str) or not isinstance(spec, Sequence) else list(spec)
            if not items:
                raise UsageError(f"role {role!r} needs at least one model")
            for item in items:
                if not isinstance(item, str) and not callable(getattr(item, "stream", None)):
                    raise UsageError(f"role {role!r}: {item!r} is neither a model name nor a Model")
            self._specs[role] = items
        self._loader = loader
        self._loaded: dict[str, Model] = {}
        self._lock = anyio.Lock()
        self._stack: AsyncExitStack | None = None  # while open: the models loaded by name, the clients
        self._clients: dict[str, httpx.AsyncClient] = {}  # while open: base_url -> the one client
        self._views: dict[int, OpenAIModel] = {}  # while open: id(model) -> the model on its endpoint's client

    async def open(self) -> None:
        """Own the models loaded by name and one client per remote endpoint from now on,
        until :meth:`aclose`; idempotent."""
        if self._stack is None:
            self._stack = AsyncExitStack()
            for model in self._loaded.values():
                await self._enter(model)

    async def aclose(self) -> None:
        """Close what :meth:`open` owns: the endpoints' clients and the models loaded by name
        (models passed in as objects are the caller's)."""
        stack, self._stack = self._stack, None
        self._clients, self._views = {}, {}
        if stack is not None:
            await stack.aclose()

    async def _enter(self, model: Model) -> None:
        # a remote model gets its endpoint's client instead (see _on_endpoint)
        if self._stack is not None and not isinstance(model, OpenAIModel) and callable(getattr(model, "__aenter__", None)):
            await self._stack.enter_async_context(model)  # type: ignore[arg-type]

    def _on_endpoint(self, model: Model) -> Model:
        if self._stack is None or not isinstance(model, OpenAIModel):
            return model
        view = self._views.get(id(model))
        if view is None:
            client = self._clients.get(model.base_url)
            if client is None:
                client = self._clients[model.base_url] = httpx.AsyncClient()  # timeouts are per request
                self._stack.push_async_callback(_close_client, client)
            view = self._views[id(model)] = model.sharing(client)
        return view

    def names(self, role: Role) -> list[str]:
        return [item if isinstance(item, str) else item.name for item in self._specs[role]]

    async def models(self, role: Role) -> list[Model]:
        out = []
        for item in self._specs[role]:
            if not isinstance(item, str):
                out.append(self._on_endpoint(item))
                continue
            async with self._lock:
                if item not in self._loaded:
                    self._loaded[item] = await anyio.to_thread.run_sync(self._loader, item)
                    await self._enter(self._loaded[item])
            out.append(self._on_endpoint(self._loaded[item]))
        return out


async def _close_client(client: httpx.AsyncClient) -> None:
    with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
        await client.aclose()


class Session:
    """The per-run state the loop threads through model calls: budget, usage, events."""

    def __init__(
        self, recorder: Recorder, budget: Budget, roles: RoleModels, *, call_timeout: float, options: GenerateOptions, history: Sequence[Message] = ()
    ) -> None:
        self.rec = recorder
        self.history = tuple(history)  # the earlier turns of a conversation
        self.budget = budget
        self.roles = roles
        self.call_timeout = call_timeout
        self.options = options
        self.usage: dict[str, ModelUsage] = {}
        self.tokens = 0
        # the answer's share of the token budget: planning and joining stop short of it, so
        # a run whose planning used up the rest can still answer from its results
        self.answer_reserve = min(budget.tokens // 4, _ANSWER_RESERVE)
        self.approve: Approver | None = None  # this run's approver, over the engine's

    def _limit(self, role: Role) -> int:
        return self.budget.tokens if role == "answerer" else self.budget.tokens - self.answer_reserve

    def options_for(self, role: Role, max_tokens: int, close_within: int = 0) -> GenerateOptions:
        """Decoding options for one call of ``role``; ``close_within`` (the planner's) also closes loops."""
        left = self._limit(role) - self.tokens
        if left <= 0:
            raise BudgetExceeded("tokens", self.budget.tokens)
        return GenerateOptions(
            max_tokens=max(1, min(max_tokens, left)),
            close_within=close_within,
            close_on_repeat=close_within > 0,
            temperature=self.options.temperature,
            top_p=self.options.top_p,
            seed=self.options.seed,
            grammar_backend=self.options.grammar_backend,
        )

    def record(self, role: Role, usage: Usage, seconds: float) -> None:
        """Add one call's usage (and emit its ``usage`` event); never raises."""
        entry = self.usage.get(usage.model) or ModelUsage(usage.model)
        self.usage[usage.model] = entry.add(usage, seconds)
        self.tokens += usage.prompt_tokens + usage.completion_tokens
        self.rec.emit(
            "usage",
            role=role,
            model=usage.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            forced_tokens=usage.forced_tokens,
            cached_tokens=usage.cached_tokens,
            seconds=round(seconds, 4),
        )

    def check_tokens(self, role: Role) -> None:
        if self.tokens > self._limit(role):
            raise BudgetExceeded("tokens", self.budget.tokens)

    async def deltas(
        self,
        role: Role,
        model: Model,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None,
        max_tokens: int,
        close_within: int = 0,
        refine: Callable[[], dict[str, Any]] | None = None,
    ) -> AsyncGenerator[str, None]:
        """Stream one model call's text. The call must produce its next piece within
        ``call_timeout`` seconds and finish within ``4 * call_timeout``; usage is recorded
        when it ends. No cancel scope spans a ``yield``, so callers may consume this from
        another task's iterator (the executor does, for the planner)."""
        max_tokens, prompt_tokens = check_context(role, model, messages, max_tokens)
        options = self.options_for(role, max_tokens, close_within)
        start = time.perf_counter()
        deadline = start + 4 * self.call_timeout
        usage: Usage | None = None
        pieces = 0
        try:
            if refine is not None:  # only models with `refines_schema` take it (see reasoner.models.Model)
                refining: Any = model
                stream_of: AsyncIterator[Delta] = refining.stream(messages, schema=schema, options=options, refine=refine)
            else:
                stream_of = model.stream(messages, schema=schema, options=options)
            async with _closing(stream_of) as stream:
                iterator = stream.__aiter__()
                while True:
                    wait = min(self.call_timeout, deadline - time.perf_counter())
                    try:
                        with anyio.fail_after(max(wait, 0.0)):
                            delta: Delta = await iterator.__anext__()
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise ModelTimeout(f"{role} model {model.name!r} timed out after {time.perf_counter() - start:.1f} s") from None
                    if delta.usage is not None:
                        usage = delta.usage
                    if delta.text:
                        pieces += 1
                        yield delta.text
        finally:
            # a call cut short (invalid output, cancellation) still spent tokens: without the
            # model's own count, record the prompt as counted and the pieces seen as a lower bound
            seconds = time.perf_counter() - start
            self.record(role, usage or Usage(model.name, prompt_tokens, pieces, 0, seconds), seconds)
        if role != "planner":  # a finished plan is kept: the next call's options_for stops the run
            self.check_tokens(role)

    async def text(
        self,
        role: Role,
        model: Model,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int,
        close_within: int = 0,
    ) -> str:
        """One model call collected to its text (validated against ``schema`` when given)."""
        parts = []
        async with aclosing(self.deltas(role, model, messages, schema=schema, max_tokens=max_tokens, close_within=close_within)) as pieces:
            async for piece in pieces:
                parts.append(piece)
        text = "".join(parts)
        if schema is not None:
            validate_output(text, schema, model=model.name)
        return text

    async def with_fallback(self, role: Role, attempt: Callable[[Model], Awaitable[T]]) -> T:
        """Run ``attempt`` with each of the role's models in turn until one succeeds.

        A model that fails (``ModelError``), times out or writes an invalid plan
        (``PlanError``) hands over to the next, with a ``model.fallback`` event; the last
        one's error propagates. Budget errors never fall back.
        """
        models = await self.roles.models(role)
        for i, model in enumerate(models):
            try:
                return await attempt(model)
            except (ModelError, PlanError, TimeoutError) as exc:
                if i + 1 == len(models):
                    raise
                self.rec.emit(
                    "model.fallback", role=role, model=model.name, next=models[i + 1].name, reason=f"{type(exc).__name__}: {exc}"
                )
        raise AssertionError("unreachable")  # pragma: no cover
