"""ScriptedModel: a public test double that replays scripted replies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel

from reasoner.errors import ModelError, UsageError
from reasoner.models._protocol import Delta, FinishReason, GenerateOptions, Message, Usage, as_messages, validate_output

__all__ = ["ScriptedCall", "ScriptedModel", "ScriptedResponse"]

ScriptedResponse = str | Callable[[Sequence[Message]], str] | BaseException


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    """One call a :class:`ScriptedModel` received."""

    messages: tuple[Message, ...]
    schema: dict[str, Any] | None
    options: GenerateOptions


class ScriptedModel:
    """A :class:`~reasoner.models.Model` for tests: the n-th call replies with the n-th response.

    A response is a string, a function of the messages returning a string, or an exception
    to raise (simulating a failing model). The reply streams in pieces of ``chunk_size``
    characters (each counted as one token), with ``await anyio.sleep(token_delay)`` before
    each piece. ``max_tokens`` and stop strings apply as for a real model. With a schema the
    reply is validated after its pieces are streamed, so an invalid scripted reply raises
    :class:`~reasoner.errors.ModelError` as a misbehaving model would (useful for fallback
    tests). Every call is recorded in :attr:`calls`.
    """

    def __init__(
        self,
        responses: Sequence[ScriptedResponse],
        *,
        name: str = "scripted",
        token_delay: float = 0.0,
        chunk_size: int = 4,
    ) -> None:
        if chunk_size < 1:
            raise UsageError(f"ScriptedModel chunk_size must be >= 1, got {chunk_size}")
        if token_delay < 0:
            raise UsageError(f"ScriptedModel token_delay must be >= 0, got {token_delay}")
        self.name = name
        self.responses = list(responses)
        self.token_delay = token_delay
        self.chunk_size = chunk_size
        self.calls: list[ScriptedCall] = []

    def __repr__(self) -> str:
        return f"ScriptedModel(name={self.name!r}, responses={len(self.responses)}, calls={len(self.calls)})"

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        options: GenerateOptions | None = None,
    ) -> AsyncIterator[Delta]:
        """Stream the next scripted reply (see :class:`reasoner.models.Model`)."""
        started = time.perf_counter()
        opts = options or GenerateOptions()
        msgs = as_messages(messages)
        self.calls.append(ScriptedCall(msgs, schema, opts))
        index = len(self.calls) - 1
        if index >= len(self.responses):
            raise ModelError(
                f"scripted model {self.name!r} has {len(self.responses)} response(s) but got call #{index + 1}; script more responses"
            )
        response = self.responses[index]
        if isinstance(response, BaseException):
            raise response
        text = response if isinstance(response, str) else response(msgs)
        finish: FinishReason = "grammar" if schema is not None else "stop"
        cut = min((i for i in (text.find(s) for s in opts.stop) if i >= 0), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
        pieces = [text[i : i + self.chunk_size] for i in range(0, len(text), self.chunk_size)]
        if len(pieces) > opts.max_tokens:
            pieces, finish = pieces[: opts.max_tokens], "length"
        for piece in pieces:
            if self.token_delay:
                await anyio.sleep(self.token_delay)
            else:
                await anyio.lowlevel.checkpoint()
            yield Delta(piece)
        if schema is not None:
            validate_output("".join(pieces), schema, model=self.name)
        prompt_tokens = sum(-(-len(m.content) // self.chunk_size) for m in msgs)
        usage = Usage(self.name, prompt_tokens, len(pieces), 0, time.perf_counter() - started)
        yield Delta("", (), finish, usage)
