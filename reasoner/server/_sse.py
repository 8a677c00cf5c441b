"""The two ASGI responses that carry a run: streamed (Server-Sent Events) and collected (one JSON body).

Both race the run against the client: one task waits for ``http.disconnect`` while the
other runs the engine and writes the response; whichever finishes first cancels the
other, so a client that goes away cancels its run and every tool call under it
(STYLE.md, "the HTTP stream races send events against wait for disconnect").

SSE framing (https://html.spec.whatwg.org/multipage/server-sent-events.html)::

    event: node.started
    id: 3f2a9c1b7d4e:5
    data: {"type":"node.started","run_id":"3f2a9c1b7d4e","seq":5,...}

The ``id`` is ``<run_id>:<seq>``: a client that lost the stream sends it back as
``Last-Event-ID`` to ``GET /v1/reason/{run_id}/events`` and gets the events after it.
While no event is due, a ``: keep-alive`` comment goes out every ``keepalive_s`` seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

import anyio
import pydantic_core
from anyio.streams.memory import MemoryObjectSendStream
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from reasoner.events import Event

__all__ = [
    "CollectedRun",
    "Renderer",
    "RunTask",
    "StreamedRun",
    "encode_event",
    "event_frame",
    "frame",
    "json_response",
    "race_disconnect",
]

KEEPALIVE = b": keep-alive\n\n"
_BUFFER = 256  # events buffered between the run and a slow client (backpressure past that)

RunTask = Callable[[MemoryObjectSendStream[Event]], Coroutine[Any, Any, None]]


def to_json(value: Any) -> str:
    """JSON text for anything a tool may return (pydantic models, dataclasses, ...); NaN becomes null."""
    return pydantic_core.to_json(value, fallback=str, inf_nan_mode="null").decode()


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response serialized like the SSE events (so streamed and whole results agree; NaN becomes null)."""
    return Response(to_json(value), status_code=status, media_type="application/json")


def event_dict(event: Event) -> dict[str, Any]:
    d: dict[str, Any] = {
        "type": event.type,
        "run_id": event.run_id,
        "seq": event.seq,
        "ts": event.ts,
        "iteration": event.iteration,
    }
    if event.node_id is not None:
        d["node_id"] = event.node_id
    d["data"] = event.data
    return d


def encode_event(event: Event) -> str:
    return to_json(event_dict(event))


def frame(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if id is not None:
        lines.append(f"id: {id}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def event_frame(event: Event) -> bytes:
    return frame(encode_event(event), event=event.type, id=f"{event.run_id}:{event.seq}")


class Renderer(Protocol):
    """Turns a run's events into SSE frames."""

    def event(self, event: Event) -> Sequence[bytes]: ...

    def end(self) -> Sequence[bytes]: ...


async def race_disconnect(receive: Receive, work: Callable[[], Awaitable[None]]) -> bool:
    """Run ``work`` until it returns or the client disconnects (then it is cancelled); True if it was."""
    gone = False
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        await work()
        tg.cancel_scope.cancel()
    return gone


class StreamedRun:
    """A ``text/event-stream`` response: each event is rendered as it happens."""

    def __init__(
        self,
        run: RunTask,
        renderer: Renderer,
        *,
        keepalive_s: float,
        on_close: Callable[[], None],
        headers: dict[str, str] | None = None,
    ) -> None:
        self._run = run
        self._renderer = renderer
        self._keepalive_s = keepalive_s
        self._on_close = on_close
        self._headers = {"cache-control": "no-cache", "x-accel-buffering": "no", **(headers or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await race_disconnect(receive, lambda: self._stream(send))
        finally:
            self._on_close()

    async def _stream(self, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def body(chunk: bytes) -> None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        tx, rx = anyio.create_memory_object_stream[Event](_BUFFER)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._run, tx)
            async with rx:
                ended = False
                while not ended:
                    try:
                        event = rx.receive_nowait()
                    except anyio.EndOfStream:
                        break
                    except anyio.WouldBlock:
                        with anyio.move_on_after(self._keepalive_s) as idle:
                            try:
                                event = await rx.receive()
                            except anyio.EndOfStream:
                                break
                        if idle.cancelled_caught:
                            await body(KEEPALIVE)
                            continue
                    chunks = list(self._renderer.event(event))
                    # events that are already waiting go out in the same write (one send under load, not one each)
                    while True:
                        try:
                            chunks.extend(self._renderer.event(rx.receive_nowait()))
                        except anyio.WouldBlock:
                            break
                        except anyio.EndOfStream:
                            ended = True
                            break
                    await body(b"".join(chunks))
        for chunk in self._renderer.end():
            await body(chunk)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class CollectedRun:
    """One response when the run ends, built by ``finish(events)``; nothing is sent if the client left."""

    def __init__(self, run: RunTask, finish: Callable[[list[Event]], Response], *, on_close: Callable[[], None]) -> None:
        self._run = run
        self._finish = finish
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response | None = None

        async def work() -> None:
            nonlocal response
            events: list[Event] = []
            tx, rx = anyio.create_memory_object_stream[Event](_BUFFER)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._run, tx)
                async with rx:
                    async for event in rx:
                        events.append(event)
            response = self._finish(events)

        try:
            await race_disconnect(receive, work)
        finally:
            self._on_close()
        if response is not None:
            await response(scope, receive, send)
