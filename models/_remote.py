"""OpenAIModel: a chat model behind an OpenAI-compatible HTTP API, over httpx.

Works with any server that speaks ``POST {base_url}/chat/completions`` with ``stream:
true`` (vLLM, SGLang, llama.cpp server, Fireworks, OpenAI). What it guarantees:

* Streaming: server-sent events are parsed line by line as they arrive; each content
  piece becomes a :class:`~reasoner.models.Delta`. Usage comes from the server
  (``stream_options.include_usage``); a server that sends none gets ``prompt_tokens=0``
  and one completion token per content piece.
* Constrained output: with a schema the request carries ``response_format`` ``json_schema``
  (``strict: true``). A server that rejects it (HTTP 400/422 naming ``response_format`` or
  ``json_schema``), or ``structured="none"``, gets the schema in a system message instead.
  Either way the reply is checked with :func:`~reasoner.models.validate_output` (a remote
  server's constraint cannot be trusted) and, when it does not match, sent back with the
  validation error up to ``repair_attempts`` times. Because streamed text cannot be
  un-yielded, **with a schema nothing is yielded until the reply validates**: one delta
  with the whole text, then the final delta.
* Failures: 408, 409, 429, 5xx, transport errors (connect, read timeout) and streams cut
  before ``data: [DONE]`` are retried up to ``max_retries`` times, waiting ``backoff[i]``
  seconds, or what ``Retry-After`` asks (a wait over a minute fails the call instead). A
  failure after text was already yielded is raised, not retried. Every read waits at
  most ``read_timeout``; bound a whole call with ``anyio.fail_after`` around it.
* Cancellation: cancelling the consumer, or closing the stream early, closes the HTTP
  response, so the server sees the disconnect and stops generating.
* Keys: ``api_key`` (a str, or a callable called for every request so keys can rotate)
  is sent as ``Authorization: Bearer``; it never appears in repr, error messages or logs
  (server text quoted in errors is scrubbed of it).

Clients: pass ``client=`` to share an ``httpx.AsyncClient`` (never closed here); use
``async with model:`` to keep one connection pool for a block; otherwise each call opens
and closes its own client. An open :class:`~reasoner.Engine` (``async with Engine(...)``)
sends every remote model of one ``base_url`` through one client of its own
(:meth:`OpenAIModel.sharing`). Messages with role ``tool`` are sent as ``user`` messages
(the protocol's ``tool`` role needs a ``tool_call_id`` this API does not carry).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, Literal, cast

import anyio
import httpx

from reasoner.errors import ModelError, ModelUnavailable, UsageError
from reasoner.models._backoff import Backoff
from reasoner.models._protocol import Delta, GenerateOptions, Message, Usage, as_messages, validate_output
from reasoner.models._remote_wire import (
    REPAIR_PROMPT,
    End,
    LineSplitter,
    ReplyLimits,
    Secret,
    SSEDecoder,
    Tally,
    auth,
    chat_body,
    public_url,
    retry_after,
    schema_prompted,
    server_detail,
    unfence,
    usage_counts,
)

__all__ = ["OpenAIModel", "Structured"]

log = logging.getLogger("reasoner.models")

Structured = Literal["auto", "json_schema", "none"]
_RETRY_STATUS = frozenset({408, 409, 429})
_MAX_WAIT = 60.0  # a longer Retry-After fails the call rather than stalling it
_CLOSE_SECONDS = 2.0
_ERROR_BYTES = 16_384
_REJECTED_CAP = 256


class _Transient(ModelError):
    """A failure worth retrying: 408/409/429/5xx, a transport error, a cut stream."""

    def __init__(self, message: str, *, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


class _Rejected(ModelError):
    """The server refused ``response_format`` json_schema."""


class OpenAIModel:
    """A :class:`~reasoner.models.Model` served over an OpenAI-compatible API (see the module doc).

    Args:
        base_url: the API root, e.g. ``"http://127.0.0.1:8000/v1"`` (requests go to
            ``{base_url}/chat/completions``).
        model: the server's model id, e.g. ``"qwen3-8b"``.
        api_key: a str or a callable returning one; ``None`` sends no Authorization header.
        name: the name reported in usage and errors (default: ``model``).
        client: an ``httpx.AsyncClient`` to use (and leave open).
        connect_timeout, read_timeout: seconds to connect, and to wait for each read.
        max_retries: retries after the first attempt for transient failures.
        backoff: waits before retry 1, 2, ...; the last one repeats; each less up to 20% at
            random (jitter). Or a :class:`~reasoner.models.Backoff`.
        repair_attempts: with a schema, how many times an invalid reply is sent back.
        structured: ``"auto"`` (json_schema, prompting where rejected), ``"json_schema"``
            (never prompt), ``"none"`` (always prompt).
        limits: caps on one reply (a line, an event, the whole reply: 1 MiB, 4 MiB, 32 MiB
            by default); a reply past one fails with ``ModelError``.

    Raises:
        UsageError: an invalid argument.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | Callable[[], str] | None = None,
        name: str | None = None,
        client: httpx.AsyncClient | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_retries: int = 3,
        backoff: Sequence[float] | Backoff = (0.5, 2.0, 8.0),
        repair_attempts: int = 2,
        structured: Structured = "auto",
        limits: ReplyLimits | None = None,
    ) -> None:
        url = base_url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"OpenAIModel base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise UsageError("OpenAIModel needs the server's model id, e.g. model='qwen3-8b'")
        if structured not in ("auto", "json_schema", "none"):
            raise UsageError(f"OpenAIModel structured must be 'auto', 'json_schema' or 'none', got {structured!r}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise UsageError(f"OpenAIModel timeouts must be > 0, got connect={connect_timeout}, read={read_timeout}")
        if max_retries < 0 or repair_attempts < 0:
            raise UsageError(f"OpenAIModel max_retries and repair_attempts must be >= 0, got {max_retries}, {repair_attempts}")
        waits = Backoff.of_steps(backoff, "OpenAIModel backoff")
        if api_key is not None and not isinstance(api_key, str) and not callable(api_key):
            raise UsageError(f"OpenAIModel api_key must be a str or a callable returning one, got {type(api_key).__name__}")
        self.name = name or model
        self.base_url = url
        self.model = model
        self.max_retries = max_retries
        self.backoff = waits
        self.repair_attempts = repair_attempts
        self.structured: Structured = structured
        self.limits = limits if limits is not None else ReplyLimits()
        if not isinstance(self.limits, ReplyLimits):
            raise UsageError(f"OpenAIModel limits must be a ReplyLimits, got {type(limits).__name__}")
        self._key = Secret(api_key)
        self._client = client
        self._shared: httpx.AsyncClient | None = None
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._rejected: set[str] = set()  # fingerprints of schemas the server refused
        self._where = f"model {self.name!r} at {public_url(url)}"

    def __repr__(self) -> str:
        return (
            f"OpenAIModel(name={self.name!r}, model={self.model!r}, base_url={public_url(self.base_url)!r}, structured={self.structured!r})"
        )

    async def __aenter__(self) -> OpenAIModel:
        if self._client is None and self._shared is None:
            self._shared = httpx.AsyncClient(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client opened by ``async with`` (an injected client stays open)."""
        shared, self._shared = self._shared, None
        if shared is not None:
            with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
                await shared.aclose()

    def sharing(self, client: httpx.AsyncClient) -> OpenAIModel:
        """This model sending its requests through ``client`` (left open): a copy that shares
        the configuration, the key and what was learnt about the server; this object is
        unchanged. A model that has a client of its own (``client=``, or inside
        ``async with``) is returned as it is."""
        if self._client is not None or self._shared is not None:
            return self
        view = copy.copy(self)
        view._client = client
        return view

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        options: GenerateOptions | None = None,
    ) -> AsyncIterator[Delta]:
        """Stream the reply (see :class:`~reasoner.models.Model`). With ``schema`` the reply
        is validated (and repaired) first, then yielded whole.

        Raises:
            ModelError: an HTTP error, a failure after retries, a cut stream after text was
                yielded, or (with a schema) no valid reply after ``repair_attempts``.
            ModelUnavailable: the server cannot be reached or refuses the key or model.
        """
        started = time.perf_counter()
        opts = options or GenerateOptions()
        msgs = as_messages(messages)
        async with self._session() as client:
            if schema is not None:
                text, end = await self._constrained(client, msgs, schema, opts)
                yield Delta(text)
            else:
                end = End("stop", 0, 0)
                async with contextlib.aclosing(self._chat(client, chat_body(self.model, msgs, opts, None), live=True)) as events:
                    async for item in events:
                        if isinstance(item, End):
                            end = item
                        else:
                            yield Delta(item)
        usage = Usage(self.name, end.prompt_tokens, end.completion_tokens, 0, time.perf_counter() - started)
        yield Delta("", (), end.finish, usage)

    async def check(self, *, timeout: float = 3.0) -> tuple[bool, str]:
        """Ask ``GET {base_url}/models`` whether the server is up and serves this model.

        Returns ``(ok, detail)``; never raises for an unreachable or refusing server.
        """
        key = self._key.get(self.name)
        async with self._session() as client:
            try:
                response = await client.get(f"{self.base_url}/models", headers=auth(key), timeout=timeout)
            except httpx.TransportError as exc:
                return False, f"{self._where}: cannot reach the server: {type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return False, f"{self._where}: GET /models answered HTTP {response.status_code}: {server_detail(response.text, key)}"
        try:
            served = [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return True, f"{self._where}: reachable (its /models reply lists no model ids)"
        if self.model in served:
            return True, f"{self._where}: reachable and serving {self.model!r}"
        return False, f"{self._where}: reachable, but it serves {', '.join(map(repr, served)) or 'no models'}, not {self.model!r}"

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[httpx.AsyncClient]:
        client = self._client or self._shared
        if client is not None:
            yield client
            return
        own = httpx.AsyncClient(timeout=self._timeout)
        try:
            yield own
        finally:
            with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
                await own.aclose()

    async def _constrained(
        self, client: httpx.AsyncClient, msgs: Sequence[Message], schema: dict[str, Any], opts: GenerateOptions
    ) -> tuple[str, End]:
        fingerprint = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        native = self.structured == "json_schema" or (self.structured == "auto" and fingerprint not in self._rejected)
        convo, repairs, prompt_tokens, completion_tokens = list(msgs), 0, 0, 0
        while True:
            body = (
                chat_body(self.model, convo, opts, schema)
                if native
                else chat_body(self.model, schema_prompted(convo, schema), opts, None)
            )
            try:
                text, end = await self._collect(client, body)
            except _Rejected as exc:
                if self.structured == "json_schema":
                    raise ModelError(
                        f"{exc}; this server does not take response_format json_schema: use structured='auto' or 'none'"
                    ) from exc
                log.info("%s rejected response_format json_schema; putting the schema in the prompt instead", self._where)
                if len(self._rejected) >= _REJECTED_CAP:
                    self._rejected.clear()
                self._rejected.add(fingerprint)
                native = False
                continue
            prompt_tokens += end.prompt_tokens
            completion_tokens += end.completion_tokens
            candidate = text if native else unfence(text)
            try:
                validate_output(candidate, schema, model=self.name)
            except ModelError as exc:
                cut = f" (the reply stopped at max_tokens={opts.max_tokens})" if end.finish == "length" else ""
                if repairs >= self.repair_attempts:
                    raise ModelError(
                        f"{exc}{cut}; no valid reply after {repairs} repair attempt(s): raise repair_attempts or max_tokens, "
                        "or use a server that enforces response_format json_schema"
                    ) from exc
                repairs += 1
                log.info("%s: invalid reply, repair %d/%d: %s", self._where, repairs, self.repair_attempts, exc)
                convo += [Message("assistant", text), Message("user", REPAIR_PROMPT.format(error=f"{exc}{cut}"))]
                continue
            return candidate, End(end.finish, prompt_tokens, completion_tokens)

    async def _collect(self, client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, End]:
        parts: list[str] = []
        end = End("stop", 0, 0)
        async with contextlib.aclosing(self._chat(client, body, live=False)) as events:
            async for item in events:
                if isinstance(item, End):
                    end = item
                else:
                    parts.append(item)
        return "".join(parts), end

    async def _chat(self, client: httpx.AsyncClient, body: dict[str, Any], *, live: bool) -> AsyncGenerator[str | End, None]:
        """One reply with retries: text pieces, then an :class:`End`. ``live`` passes pieces
        on as they come (so a failure after one cannot be retried); otherwise each attempt
        is read whole first."""
        for attempt in range(self.max_retries + 1):
            streamed, whole = False, []
            try:
                async with contextlib.aclosing(self._once(client, body)) as events:
                    if live:
                        async for item in events:
                            streamed = streamed or isinstance(item, str)
                            yield item
                    else:
                        whole = [item async for item in events]
                for item in whole:
                    yield item
                return
            except _Transient as exc:
                if streamed:
                    raise ModelError(f"{exc}; part of the reply was already streamed, so it was not retried") from exc
                if attempt == self.max_retries:
                    error = ModelUnavailable if exc.unreachable else ModelError
                    raise error(f"{exc}; gave up after {attempt + 1} attempt(s) (max_retries={self.max_retries})") from exc
                wait = exc.retry_after if exc.retry_after is not None else self.backoff.delay(attempt + 1)
                if wait > _MAX_WAIT:
                    raise ModelError(
                        f"{exc}; the server asks to retry after {wait:g} s (more than {_MAX_WAIT:g} s): try later"
                    ) from exc
                log.warning("%s; retry %d/%d in %.2f s", exc, attempt + 1, self.max_retries, wait)
                await anyio.sleep(wait)

    async def _once(self, client: httpx.AsyncClient, body: dict[str, Any]) -> AsyncGenerator[str | End, None]:
        key = self._key.get(self.name)
        headers = {"Accept": "text/event-stream", **auth(key)}
        request = client.build_request(
            "POST", f"{self.base_url}/chat/completions", json=body, headers=headers, timeout=self._timeout
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Transient(
                self._transport(exc), unreachable=isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            ) from exc
        try:
            if not 200 <= response.status_code < 300:
                await self._raise_for_status(response, key, structured="response_format" in body)
            if response.headers.get("content-type", "").startswith("application/json"):
                text, end = await self._whole(response, key)  # a server that ignores stream=true
                if text:
                    yield text
                yield end
                return
            async with contextlib.aclosing(self._events(response, key)) as events:
                async for item in events:
                    yield item
        finally:
            with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
                await response.aclose()

    async def _events(self, response: httpx.Response, key: str | None) -> AsyncGenerator[str | End, None]:
        lines = LineSplitter(self.limits, self._where)
        sse, tally, done = SSEDecoder(max_bytes=self.limits.event_bytes), Tally(), False
        try:
            async with contextlib.aclosing(cast(AsyncGenerator[bytes, None], response.aiter_bytes())) as chunks:
                async for chunk in chunks:
                    for line in lines.feed(chunk):
                        data = self._feed(sse, line)
                        if data is not None and data.strip() == "[DONE]":
                            done = True
                            break
                        for text in () if data is None else self._add(tally, data, key):
                            yield text
                    if done:
                        break
                if done:  # read the (empty) rest so that httpx can put the connection back in its pool
                    with anyio.move_on_after(_CLOSE_SECONDS), contextlib.suppress(httpx.TransportError):
                        async for _ in chunks:
                            pass
        except httpx.TransportError as exc:
            raise _Transient(f"{self._transport(exc)} (the stream broke before [DONE])") from exc
        if not done:
            raise _Transient(f"{self._where}: the stream ended before data: [DONE] (cut mid-way)")
        yield tally.end()

    def _feed(self, sse: SSEDecoder, line: str) -> str | None:
        try:
            return sse.feed(line)
        except ModelError as exc:
            raise ModelError(f"{self._where}: {exc}") from exc

    def _add(self, tally: Tally, data: str, key: str | None) -> list[str]:
        chunk = self._json(data, key)
        try:
            return tally.add(chunk)
        except ModelError as exc:
            raise ModelError(f"{self._where} sent a malformed chunk: {exc}: {server_detail(data, key)}") from exc

    async def _whole(self, response: httpx.Response, key: str | None) -> tuple[str, End]:
        raw = bytearray()
        try:
            async for piece in response.aiter_bytes():
                raw += piece
                if len(raw) > self.limits.reply_bytes:
                    raise ModelError(f"{self._where} sent more than {self.limits.reply_bytes:,} bytes in one reply; the reply was cut off")
        except httpx.TransportError as exc:
            raise _Transient(f"{self._transport(exc)} (while reading the reply)") from exc
        data = raw.decode("utf-8", "replace")
        chunk = self._json(data, key)
        try:
            choice = chunk["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):
                raise TypeError(f"content is {type(text).__name__}, not a string")
            counts = usage_counts(chunk.get("usage"))
        except (KeyError, IndexError, TypeError, ModelError) as exc:
            raise ModelError(
                f"{self._where} sent a reply without a usable choices[0].message.content ({exc}): {server_detail(data, key)}"
            ) from exc
        prompt_tokens, completion_tokens = counts or (0, 1 if text else 0)
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        return text, End("length" if finish == "length" else "stop", prompt_tokens, completion_tokens)

    def _json(self, data: str, key: str | None) -> dict[str, Any]:
        try:
            chunk = json.loads(data)
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
            raise ModelError(f"{self._where} sent an event that is not JSON we can read: {server_detail(data[:1000], key)}") from exc
        if not isinstance(chunk, dict):
            raise ModelError(f"{self._where} sent an event that is not a JSON object: {server_detail(data, key)}")
        if chunk.get("error"):
            raise ModelError(f"{self._where} reported an error mid-stream: {server_detail(data, key)}")
        return chunk

    async def _raise_for_status(self, response: httpx.Response, key: str | None, *, structured: bool) -> None:
        raw = bytearray()
        with contextlib.suppress(httpx.TransportError):
            async for piece in response.aiter_bytes():
                raw += piece
                if len(raw) >= _ERROR_BYTES:
                    break
        body = raw[:_ERROR_BYTES].decode("utf-8", "replace")
        status, detail = response.status_code, server_detail(body, key)
        if status in _RETRY_STATUS or status >= 500:
            raise _Transient(
                f"{self._where}: HTTP {status}: {detail}", retry_after=retry_after(response.headers.get("retry-after"))
            )
        if (
            structured
            and status in (400, 422)
            and any(w in body.lower() for w in ("response_format", "json_schema", "response format"))
        ):
            raise _Rejected(f"{self._where}: HTTP {status}: {detail}")
        if status in (401, 403):
            raise ModelUnavailable(
                f"{self._where}: HTTP {status}, the API key was refused: {detail}; check api_key (or api_key_env)"
            )
        if status == 404:
            raise ModelUnavailable(f"{self._where}: HTTP 404: {detail}; check base_url (it usually ends in /v1) and the model id")
        raise ModelError(f"{self._where}: HTTP {status}: {detail}")

    def _transport(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"{self._where}: no connection within connect_timeout={self._timeout.connect:g} s"
        if isinstance(exc, httpx.ReadTimeout):
            return f"{self._where}: no data within read_timeout={self._timeout.read:g} s"
        return f"{self._where}: {type(exc).__name__}: {exc or 'connection failed'}"
