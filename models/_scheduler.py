"""The decode scheduler: one thread per local model runs every generation on it.

A :class:`DecodeScheduler` owns one worker thread (started when work arrives, ended when
none is left). Each generation submitted to it gets a :class:`Ticket`: a bounded buffer of
its steps (the scheduler's side writes, the consumer's side reads) with credits, so the
scheduler computes at most ``capacity`` steps that the consumer has not yet taken
(backpressure) and never hops threads per token: the consumer's event loop is woken with
one non-blocking call when a step lands in an empty buffer.

Between steps, generations join and leave (continuous batching). A newcomer's prompt is
prefilled alone (with the model's prefix cache, as a single generation), then:

* while it is the only generation, it steps alone through its runner, exactly the
  single-generation path (the reference every batched output is tested against);
* as soon as two or more are active, their KV moves into one :class:`BatchKV` and each
  step is one forward pass over all of them (each row masked by its own grammar and
  sampled with its own options); when one is left, its KV moves back out.

A row whose consumer has not caught up (no credits) feeds nothing that step (a hole in its
KV row); a cancelled or finished generation leaves the batch before the next step. Rows at
most ``max_batch``; later submissions wait their turn in arrival order. The prefill of a
newcomer runs between batch steps, so a long prompt delays the others by its prefill.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import torch

from reasoner.errors import ModelError, UsageError
from reasoner.models._batch import BatchKV
from reasoner.models._decode import Generation, StepResult
from reasoner.models._threads import ThreadPolicy

__all__ = ["DecodeScheduler", "Ticket"]

_IDLE_WAIT_S = 0.5  # a bound on every wait; a submit, release or cancel wakes it sooner
_GRACE_MAX_S = 0.05  # the most a step waits for lock-step consumers (see _grace)
_EXIT_JOIN_S = 10.0  # at interpreter exit, how long a decode thread may take to finish its step


def _waker() -> Callable[[anyio.Event], None]:
    """A function that sets an ``anyio.Event`` of the calling event loop from another thread,
    without waiting for the loop (on asyncio; other backends wait)."""
    token = anyio.lowlevel.current_token()
    native = getattr(token, "native_token", None)
    if isinstance(native, asyncio.AbstractEventLoop):
        loop = native

        def wake(event: anyio.Event) -> None:
            loop.call_soon_threadsafe(event.set)

        return wake

    def wake_and_wait(event: anyio.Event) -> None:
        anyio.from_thread.run_sync(event.set, token=token)

    return wake_and_wait


class Ticket:
    """One generation's place in a :class:`DecodeScheduler` (see the module doc).

    The consumer awaits :meth:`next` for each step, calls :meth:`release` once it may have
    another, and :meth:`cancel` when it stops listening (the generation then leaves the
    batch before the next step). ``capacity`` 1 is lock step: the scheduler computes no
    step before the consumer has released the last one (a grammar that the consumer swaps
    between steps needs this).
    """

    def __init__(self, gen: Generation, capacity: int, cond: threading.Condition) -> None:
        self.gen = gen
        self.capacity = capacity
        self.cancelled = False
        self._cond = cond
        self._items: deque[StepResult | BaseException] = deque()
        self._credits = capacity
        self._event: anyio.Event | None = None
        self._wake = _waker()
        self.in_batch = False
        self.batchable = True

    async def next(self) -> StepResult:
        """The next step (waits for it); re-raises the error that ended the generation."""
        while True:
            with self._cond:
                if self._items:
                    item = self._items.popleft()
                    break
                event = self._event = anyio.Event()
            await event.wait()
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self) -> None:
        """Let the scheduler compute one more step."""
        with self._cond:
            self._credits = min(self._credits + 1, self.capacity)
            self._cond.notify_all()

    def cancel(self) -> None:
        """Stop the generation; it leaves the batch before the next step."""
        with self._cond:
            self.cancelled = True
            self._cond.notify_all()

    # the scheduler's side (its thread)

    def _ready(self) -> bool:
        return not self.cancelled and self._credits > 0

    def _put(self, item: StepResult | BaseException) -> anyio.Event | None:
        with self._cond:
            self._items.append(item)
            self._credits -= 1
            event, self._event = self._event, None
        return event


class DecodeScheduler:
    """Runs the generations of one local model on one thread, batching their steps.

    Args:
        model: the transformers model (for the batched forward pass).
        device: where it runs.
        max_batch: the most generations stepped together; more wait their turn.
        threads: chooses the torch thread count between steps (``None``: torch's own).
    """

    def __init__(self, model: Any, device: torch.device, *, max_batch: int = 8, threads: ThreadPolicy | None = None) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise UsageError(f"max_batch={max_batch!r} must be an integer >= 1")
        self.model = model
        self.device = device
        self.max_batch = max_batch
        self.threads = threads  # the torch thread count, chosen between steps (CPU)
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = False  # the interpreter is exiting: the thread ends after its step
        _LIVE.add(self)
        # owned by the worker thread
        self._active: list[Ticket] = []
        self._rows: list[Ticket] = []  # the active tickets in the batch, in row order
        self._batch: BatchKV | None = None
        self._wakes: list[tuple[Ticket, anyio.Event]] = []
        self._last_step_s = 0.0
        self.batched_steps = 0  # forward passes over two or more generations (for tests and benchmarks)

    def submit(self, gen: Generation, *, capacity: int = 2) -> Ticket:
        """Queue ``gen`` (started, not yet prefilled) and return its ticket; call from the
        event loop that will consume it."""
        if capacity < 1:
            raise UsageError(f"DecodeScheduler.submit: capacity must be >= 1, got {capacity}")
        ticket = Ticket(gen, capacity, self._cond)
        with self._cond:
            if self._stopping:
                raise ModelError("the decode scheduler stopped: the interpreter is exiting")
            self._waiting.append(ticket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reasoner-decode", daemon=True)
                _THREADS.add(self._thread)
                self._thread.start()
            self._cond.notify_all()
        return ticket

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive (it ends when no generation is left)."""
        with self._cond:
            return self._thread is not None

    @property
    def active(self) -> int:
        """Generations admitted and not finished (an estimate, read without the thread's lock)."""
        return len(self._active)

    def _run(self) -> None:
        with torch.inference_mode():
            while self._turn():
                pass

    def stop(self, timeout: float) -> None:
        """End the worker thread after the step it is in (waiting up to ``timeout``
        seconds); generations still running get nothing more. For interpreter exit: a
        daemon thread killed inside torch code aborts the process."""
        with self._cond:
            self._stopping = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _turn(self) -> bool:
        with self._cond:
            if self._stopping:
                self._thread = None
                return False
            room = self.max_batch - len(self._active)
            newcomers = [self._waiting.popleft() for _ in range(min(room, len(self._waiting)))]
            gone = [t for t in self._active if t.cancelled]
            ready = [t for t in self._active if t._ready()]
            if not (newcomers or gone or ready):
                if not self._active and not self._waiting:
                    self._thread = None
                    return False
                self._cond.wait(_IDLE_WAIT_S)
                return True
        try:
            if self.threads is not None:  # before any forward pass of this turn, prefills included
                self.threads.apply()
            for t in gone:
                self._remove(t)
            for t in newcomers:
                self._admit(t)
            self._rebalance()
            started = time.perf_counter()
            self._step([t for t in ready if t in self._active])
            self._last_step_s = time.perf_counter() - started
        except Exception as exc:  # a failure of the batch as a whole: every generation ends with it
            error = ModelError(f"the decode scheduler failed: {exc}")
            error.__cause__ = exc
            for t in list(self._active):
                self._deliver(t, error)
        finally:
            self._wake()
        self._grace()
        return True

    def _admit(self, t: Ticket) -> None:
        if t.cancelled:
            return
        self._active.append(t)
        self._deliver_step(t, t.gen.step)  # the prefill, alone

    def _deliver_step(self, t: Ticket, step: Callable[[], StepResult]) -> None:
        try:
            result = step()
        except Exception as exc:
            self._deliver(t, exc)
            return
        self._deliver(t, result)

    def _deliver(self, t: Ticket, item: StepResult | BaseException) -> None:
        event = t._put(item)
        if event is not None:
            self._wakes.append((t, event))
        if isinstance(item, BaseException) or item.finish_reason is not None:
            self._remove(t)

    def _remove(self, t: Ticket) -> None:
        if t not in self._active:
            return
        self._active.remove(t)
        if t.in_batch and self._batch is not None:
            row = self._rows.index(t)
            self._rows.pop(row)
            self._batch.leave(row)
            t.in_batch = False

    def _rebalance(self) -> None:
        # two or more generations: into the batch; one left in the batch: back out, alone
        if len(self._active) >= 2:
            for t in self._active:
                if not t.in_batch and t.batchable and t.gen.prefilled:
                    self._join(t)
        elif len(self._rows) == 1:
            t = self._rows.pop()
            kv = self._batch.take(0) if self._batch is not None else None
            if kv is None:
                raise ModelError("the decode scheduler lost its batch")
            self._batch = None
            t.in_batch = False
            t.gen.attach_cache(t.gen.runner.new_cache(kv))
        if self._batch is not None and self._batch.holes() > max(64, self._batch.width // 2):
            self._batch.compact()

    def _join(self, t: Ticket) -> None:
        cache = t.gen.detach_cache()
        kv = t.gen.runner.export(cache)
        if kv is None:  # a cache the runner cannot share (sliding windows): the row steps alone
            t.gen.attach_cache(cache)
            t.batchable = False
            return
        if self._batch is None:
            self._batch = BatchKV(self.model, self.device)
        self._batch.join(kv)
        self._rows.append(t)
        t.in_batch = True

    def _step(self, ready: list[Ticket]) -> None:
        for t in ready:
            if not t.in_batch:
                self._deliver_step(t, t.gen.step)
        if self._batch is None or not self._rows:
            return
        fed = [t for t in self._rows if t in ready]
        if not fed:
            return
        rows = list(self._rows)
        logits = self._batch.forward([t.gen.pending if t in fed else () for t in rows])  # [B, V]
        self.batched_steps += 1
        for b, t in enumerate(rows):
            if t in fed:
                self._deliver_step(t, functools.partial(t.gen.choose, logits[b : b + 1]))

    def _wake(self) -> None:
        wakes, self._wakes = self._wakes, []
        for t, event in wakes:
            try:
                t._wake(event)
            except RuntimeError:  # its event loop is closed: nobody is listening
                t.cancel()

    def _grace(self) -> None:
        # Lock-step consumers release a step moments after it lands; waiting briefly for
        # them keeps their rows in the next batched step instead of a step behind.
        deadline = time.monotonic() + min(_GRACE_MAX_S, 0.25 * self._last_step_s)
        with self._cond:
            while any(t.capacity == 1 and not t.cancelled and t._credits == 0 for t in self._active):
                left = deadline - time.monotonic()
                if left <= 0 or len(self._active) < 2:
                    return
                self._cond.wait(left)


_LIVE: weakref.WeakSet[DecodeScheduler] = weakref.WeakSet()
_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # decode threads still running


@atexit.register
def _stop_at_exit() -> None:
    # Stop every loop, then wait for every decode thread, even one whose loop already ended:
    # the thread may still hold the last reference to its scheduler (the bound method it ran),
    # and freeing the model's tensors after the interpreter starts finalizing kills the thread
    # inside torch's deallocator, which aborts the process ("terminate called without an
    # active exception", seen in 1 of 8 `reasoner run` processes).
    for scheduler in list(_LIVE):
        scheduler.stop(0)
    deadline = time.monotonic() + _EXIT_JOIN_S
    for thread in list(_THREADS):
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
