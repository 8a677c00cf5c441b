"""The OpenAI chat-completions wire format for :class:`~reasoner.models.OpenAIModel`:
the request body, the SSE decoder, what a stream reports, and small pure helpers."""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from reasoner.errors import ModelError, ModelUnavailable, UsageError
from reasoner.models._protocol import FinishReason, GenerateOptions, Message

__all__ = [
    "REPAIR_PROMPT",
    "SCHEMA_PROMPT",
    "End",
    "LineSplitter",
    "ReplyLimits",
    "SSEDecoder",
    "Secret",
    "Tally",
    "auth",
    "chat_body",
    "public_url",
    "retry_after",
    "schema_prompted",
    "scrub",
    "server_detail",
    "unfence",
    "usage_counts",
]

SCHEMA_PROMPT = (
    "Reply with exactly one JSON value that matches this JSON Schema and nothing else (no prose, no code fences):\n{schema}"
)
REPAIR_PROMPT = "That reply cannot be used: {error}\nReply again with only the corrected JSON value."


@dataclass(frozen=True, slots=True)
class End:
    """How one reply ended, and its token counts."""

    finish: FinishReason
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class ReplyLimits:
    """Caps on what one upstream reply may send: a line, an event's data, the whole reply.
    A hostile or broken server that goes past one fails the call with ``ModelError`` (so a
    fallback model is tried) instead of growing this process without bound."""

    line_bytes: int = 1 << 20
    event_bytes: int = 4 << 20
    reply_bytes: int = 32 << 20


@dataclass(slots=True)
class LineSplitter:
    """Bytes in, lines out (``\n``, ``\r\n`` or ``\r`` endings), within ``limits``."""

    limits: ReplyLimits
    where: str
    buffer: bytearray = field(default_factory=bytearray)
    total: int = 0

    def feed(self, chunk: bytes) -> list[str]:
        self.total += len(chunk)
        if self.total > self.limits.reply_bytes:
            raise ModelError(f"{self.where} sent more than {self.limits.reply_bytes:,} bytes in one reply; the reply was cut off")
        self.buffer += chunk
        lines: list[str] = []
        start = 0
        while True:
            end = min((i for i in (self.buffer.find(b"\n", start), self.buffer.find(b"\r", start)) if i >= 0), default=-1)
            if end < 0 or (self.buffer[end] == 13 and end + 1 == len(self.buffer)):
                break  # no line end yet, or a \r that may be the first half of \r\n
            lines.append(self.buffer[start:end].decode("utf-8", "replace"))
            start = end + (2 if self.buffer[end : end + 2] == b"\r\n" else 1)
        del self.buffer[:start]
        if len(self.buffer) > self.limits.line_bytes:
            raise ModelError(f"{self.where} sent a line longer than {self.limits.line_bytes:,} bytes; the reply was cut off")
        return lines

    def rest(self) -> list[str]:
        """The last line, when the stream ended without a line end."""
        tail, self.buffer = self.buffer.rstrip(b"\r"), bytearray()
        return [tail.decode("utf-8", "replace")] if tail else []


@dataclass(slots=True)
class SSEDecoder:
    """Incremental server-sent-events decoder: feed lines, get each complete event's data."""

    data: list[str] = field(default_factory=list)
    size: int = 0
    max_bytes: int = ReplyLimits().event_bytes

    def feed(self, line: str) -> str | None:
        if not line:
            event, self.data, self.size = ("\n".join(self.data) if self.data else None), [], 0
            return event
        name, _, value = line.partition(":")
        if name == "data":
            self.data.append(value[1:] if value.startswith(" ") else value)
            self.size += len(value)
            if self.size > self.max_bytes:
                raise ModelError(f"an event of the reply has more than {self.max_bytes:,} bytes of data; the reply was cut off")
        return None  # comments (":...") and event/id/retry fields carry nothing we use


@dataclass(slots=True)
class Tally:
    """What a stream said so far: finish reason, usage, content pieces. A chunk that does
    not have the protocol's shape raises ``ModelError`` naming the field."""

    finish: str = "stop"
    usage: tuple[int, int] | None = None
    pieces: int = 0

    def add(self, chunk: dict[str, Any]) -> list[str]:
        texts: list[str] = []
        choices = chunk.get("choices")
        if choices is not None and not isinstance(choices, list):
            raise ModelError(f"a chunk's choices is {type(choices).__name__}, not a list")
        for choice in choices or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise ModelError(f"a chunk's choices[0].delta is {type(delta).__name__}, not an object")
            text = delta.get("content")
            if text is not None and not isinstance(text, str):
                raise ModelError(f"a chunk's choices[0].delta.content is {type(text).__name__}, not a string")
            if text:
                texts.append(text)
            finish = choice.get("finish_reason")
            if finish is not None and not isinstance(finish, str):
                raise ModelError(f"a chunk's choices[0].finish_reason is {type(finish).__name__}, not a string")
            self.finish = finish or self.finish
        self.pieces += len(texts)
        self.usage = usage_counts(chunk.get("usage")) or self.usage
        return texts

    def end(self) -> End:
        prompt_tokens, completion_tokens = self.usage if self.usage is not None else (0, self.pieces)
        return End("length" if self.finish == "length" else "stop", prompt_tokens, completion_tokens)


class Secret:
    """An API key (or a callable returning one) that never shows in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Callable[[], str] | None) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "<secret>"

    def get(self, model: str) -> str | None:
        if self._value is None or isinstance(self._value, str):
            return self._value or None
        try:
            key = self._value()
        except Exception as exc:
            raise ModelUnavailable(
                f"model {model!r}: the api_key callable raised {type(exc).__name__}; fix the key source"
            ) from exc
        if not isinstance(key, str):
            raise UsageError(f"model {model!r}: the api_key callable must return a str, got {type(key).__name__}")
        return key or None


def chat_body(model: str, msgs: Sequence[Message], opts: GenerateOptions, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A streaming ``/chat/completions`` request; ``tool`` messages go as ``user`` ones."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user" if m.role == "tool" else m.role, "content": m.content} for m in msgs],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": opts.max_tokens,
        "temperature": opts.temperature,
        "top_p": opts.top_p,
    }
    if opts.stop:
        body["stop"] = list(opts.stop)
    if opts.seed is not None:
        body["seed"] = opts.seed
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}
    return body


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def usage_counts(value: Any) -> tuple[int, int] | None:
    """``(prompt_tokens, completion_tokens)`` from a usage object; ``ModelError`` for counts
    that are not non-negative integers."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ModelError(f"the reply's usage is {type(value).__name__}, not an object")
    counts = []
    for name in ("prompt_tokens", "completion_tokens"):
        count = value.get(name) or 0
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 1 << 53:
            raise ModelError(f"the reply's usage.{name} is {str(count)[:40]!r}, not a token count")
        counts.append(count)
    return counts[0], counts[1]


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def schema_prompted(msgs: Sequence[Message], schema: dict[str, Any]) -> list[Message]:
    instruction = SCHEMA_PROMPT.format(schema=json.dumps(schema, separators=(",", ":")))
    if msgs and msgs[0].role == "system":
        return [Message("system", f"{msgs[0].content}\n\n{instruction}"), *msgs[1:]]
    return [Message("system", instruction), *msgs]


def unfence(text: str) -> str:
    """A prompted reply without the Markdown code fence models like to wrap JSON in."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rstrip()
        stripped = stripped[:-3] if stripped.endswith("```") else stripped
    return stripped.strip()


def scrub(text: str, key: str | None) -> str:
    """``text`` without ``key`` in any spelling a server may echo it in: as sent, URL-encoded
    (``%2B`` for ``+``), JSON-escaped, or in another letter case."""
    if not key:
        return text
    spellings = {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key), json.dumps(key)[1:-1]}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = re.sub(re.escape(spelling), "<api key>", text, flags=re.IGNORECASE)
    return text


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment (where keys hide in a ``base_url``)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def server_detail(text: str, key: str | None = None) -> str:
    """Server text fit for a message: the error's message when it is JSON, short, no key."""
    text = scrub(text, key)  # before cutting: no partial key either
    with contextlib.suppress(ValueError, AttributeError, TypeError, RecursionError):
        error = json.loads(text)
        error = error.get("error", error) if isinstance(error, dict) else error
        text = str(error.get("message") or error.get("detail") or text) if isinstance(error, dict) else str(error)
    return " ".join(text.split())[:300] or "(empty body)"
