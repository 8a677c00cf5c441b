"""A small OpenAI-protocol server on 127.0.0.1 for the remote-model tests.

Starlette + uvicorn (h11) on an ephemeral port, in a thread, one per test module. Each
test scripts what the next requests get (``server.script(...)``), one behaviour per
request, in order; an unscripted request gets HTTP 400. Behaviours:

* :class:`Reply`: an SSE stream of ``text`` in pieces, with usage and ``[DONE]``; it can
  be cut (connection closed) or hang (until the client goes) after some pieces, or end
  without ``[DONE]``.
* :class:`Status`: an error status with a JSON body and headers (429 + Retry-After, 500,
  401, a 400 rejecting ``response_format``).
* :class:`Hang`: send nothing until the client disconnects.

Every request is recorded (:class:`Seen`: body, headers, arrival time), and every
disconnect the server noticed while hanging is counted.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class Reply:
    text: str = "ok"
    chunk: int = 3
    finish: str = "stop"
    usage: tuple[int, int] | None = (7, 5)
    done: bool = True
    cut_after: int | None = None  # close the connection after this many pieces
    hang_after: int | None = None  # then wait for the client to go away
    as_json: bool = False  # ignore stream=true and answer with one JSON body
    error_after: int | None = None  # send an error event after this many pieces, then [DONE]


@dataclass(frozen=True)
class Status:
    code: int
    message: str = "error"
    headers: dict[str, str] = field(default_factory=dict)
    echo_auth: bool = False  # put the Authorization header in the body, as careless servers do


@dataclass(frozen=True)
class Hang:
    seconds: float = 10.0


Behaviour = Reply | Status | Hang


@dataclass(frozen=True)
class Seen:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    port: int  # the client's port: equal ports mean one reused connection


class FakeOpenAI:
    """The server; test modules reach the behaviours through it (``server.Reply(...)``)
    because --import-mode=importlib does not let them import this conftest."""

    Reply = Reply
    Status = Status
    Hang = Hang

    def __init__(self) -> None:
        self.port = 0
        self.queue: deque[Behaviour] = deque()
        self.requests: list[Seen] = []
        self.disconnects = 0
        self.models = ["qwen3-8b"]
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        self.queue.clear()
        self.queue.extend(behaviours)

    @staticmethod
    async def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
        """Poll until ``predicate()`` holds (True) or ``seconds`` pass (False)."""
        with anyio.move_on_after(seconds):
            while not predicate():
                await anyio.sleep(0.01)
            return True
        return False

    def reset(self) -> None:
        self.queue.clear()
        self.requests.clear()
        self.disconnects = 0
        self.models = ["qwen3-8b"]

    def _record(self, request: Request, body: dict[str, Any]) -> None:
        port = request.client.port if request.client else 0
        self.requests.append(Seen(request.url.path, body, dict(request.headers), time.monotonic(), port))

    async def _models(self, request: Request) -> Response:
        self._record(request, {})
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self._record(request, body)
        if not self.queue:
            return JSONResponse({"error": {"message": f"unscripted request #{len(self.requests)}"}}, status_code=400)
        behaviour = self.queue.popleft()
        if isinstance(behaviour, Status):
            message = behaviour.message
            if behaviour.echo_auth:
                message += f" (got Authorization: {request.headers.get('authorization')})"
            return JSONResponse({"error": {"message": message}}, status_code=behaviour.code, headers=behaviour.headers)
        if isinstance(behaviour, Hang):
            return _Raw(self, None, behaviour.seconds)
        if behaviour.as_json:
            return JSONResponse(
                {
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": behaviour.text},
                            "finish_reason": behaviour.finish,
                        }
                    ],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 5},
                }
            )
        return _Raw(self, behaviour, 10.0)


def _events(reply: Reply) -> list[bytes]:
    pieces = [reply.text[i : i + reply.chunk] for i in range(0, len(reply.text), reply.chunk)]
    events = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    events += [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish}]})
    if reply.usage is not None:
        events.append({"choices": [], "usage": {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1]}})
    if reply.error_after is not None:
        events = [*events[: reply.error_after + 1], {"error": {"message": "engine died", "code": 500}}]
    out = [f"data: {json.dumps(e)}\n\n".encode() for e in events]
    return out + ([b"data: [DONE]\n\n"] if reply.done else [])


class _Raw(Response):
    """Full control over the wire: stream, cut, or hang until the client disconnects."""

    def __init__(self, server: FakeOpenAI, reply: Reply | None, hang: float) -> None:
        super().__init__()
        self.server, self.reply, self.hang = server, reply, hang

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.reply is None:
            await self._wait_for_disconnect(receive)
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        events = _events(self.reply)
        # event 0 is the role-only delta, so "after n pieces" means after event n
        for i, event in enumerate(events):
            if self.reply.cut_after is not None and i > self.reply.cut_after:
                return  # uvicorn closes the connection on an incomplete response
            if self.reply.hang_after is not None and i > self.reply.hang_after:
                await self._wait_for_disconnect(receive)
                return
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _wait_for_disconnect(self, receive: Receive) -> None:
        with anyio.move_on_after(self.hang):
            while (await receive())["type"] != "http.disconnect":
                pass
            self.server.disconnects += 1


@pytest.fixture(scope="module")
def fake_openai(live_server: Any) -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    with live_server(fake.app, http="h11", graceful_s=1, log_level="critical") as live:
        fake.port = live.port
        yield fake


@pytest.fixture
def server(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()
