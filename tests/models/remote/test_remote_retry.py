"""OpenAIModel failures: retries with backoff and Retry-After, timeouts, cut streams, errors
that are not retried. Tight timeouts: nothing here may hang."""

from __future__ import annotations

import socket
import time
from typing import Any

import anyio
import pytest

from reasoner.errors import ModelError, ModelUnavailable
from reasoner.models import Message, OpenAIModel, complete

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}


def _model(server: Any, **kwargs: Any) -> OpenAIModel:
    kwargs.setdefault("read_timeout", 0.5)
    kwargs.setdefault("connect_timeout", 0.5)
    kwargs.setdefault("backoff", (0.0,))
    return OpenAIModel(server.url, "qwen3-8b", **kwargs)


async def test_429_with_retry_after_waits_as_asked_then_succeeds(server: Any) -> None:
    server.script(server.Status(429, "slow down", headers={"Retry-After": "0.3"}), server.Reply("done"))
    assert (await complete(_model(server), "hi")).text == "done"
    first, second = server.requests
    assert second.at - first.at >= 0.25  # backoff is 0 here: only Retry-After explains the wait


async def test_5xx_is_retried_with_backoff_until_it_succeeds(server: Any) -> None:
    server.script(server.Status(500), server.Status(503), server.Reply("finally"))
    assert (await complete(_model(server, max_retries=2), "hi")).text == "finally"
    assert len(server.requests) == 3


async def test_persistent_5xx_fails_after_max_retries_naming_status_and_attempts(server: Any) -> None:
    server.script(*[server.Status(502, "upstream down")] * 3)
    with pytest.raises(ModelError, match=r"HTTP 502: upstream down; gave up after 3 attempt\(s\) \(max_retries=2\)"):
        await complete(_model(server, max_retries=2), "hi")
    assert len(server.requests) == 3


async def test_a_retry_after_longer_than_a_minute_fails_at_once(server: Any) -> None:
    server.script(server.Status(429, "quota", headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(ModelError, match="retry after 3600 s"):
        await complete(_model(server), "hi")
    assert time.monotonic() - started < 5
    assert len(server.requests) == 1


async def test_a_server_that_hangs_past_read_timeout_fails_in_bounded_time(server: Any) -> None:
    server.script(server.Hang(), server.Hang())
    with anyio.fail_after(10):  # the guarantee: it ends on its own, long before this
        with pytest.raises(ModelError, match=r"no data within read_timeout=0\.3 s; gave up after 2 attempt"):
            await complete(_model(server, read_timeout=0.3, max_retries=1), "hi")
    assert len(server.requests) == 2


async def test_a_stream_cut_before_any_text_is_retried(server: Any) -> None:
    server.script(server.Reply("lost", cut_after=0), server.Reply("kept"))
    assert (await complete(_model(server), "hi")).text == "kept"
    assert len(server.requests) == 2


async def test_a_stream_cut_after_text_was_yielded_raises_and_is_not_retried(server: Any) -> None:
    server.script(server.Reply("aaabbbccc", cut_after=2), server.Reply("never asked for"))
    got: list[str] = []
    with pytest.raises(ModelError, match="already streamed, so it was not retried"):
        async for delta in _model(server).stream([Message("user", "hi")]):
            got.append(delta.text)
    assert got == ["aaa", "bbb"]
    assert len(server.requests) == 1


async def test_a_stream_that_ends_without_done_counts_as_cut(server: Any) -> None:
    server.script(server.Reply("abc", done=False), server.Reply("abc", done=False))
    with pytest.raises(ModelError, match=r"ended before data: \[DONE\].*already streamed"):
        await complete(_model(server), "hi")
    assert len(server.requests) == 1


async def test_with_a_schema_a_cut_stream_is_retried_since_nothing_was_yielded(server: Any) -> None:
    server.script(server.Reply('{"n": 1', cut_after=2), server.Reply('{"n": 2}'))
    deltas = [d async for d in _model(server).stream([Message("user", "n?")], schema=SCHEMA)]
    assert [d.text for d in deltas] == ['{"n": 2}', ""]
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "error"), [(400, ModelError), (401, ModelUnavailable), (404, ModelUnavailable), (422, ModelError)]
)
async def test_client_errors_are_not_retried_and_quote_the_server(server: Any, status: int, error: type[Exception]) -> None:
    server.script(server.Status(status, "you did it wrong"), server.Reply("never asked for"))
    with pytest.raises(error, match=f"HTTP {status}.*you did it wrong"):
        await complete(_model(server), "hi")
    assert len(server.requests) == 1


async def test_an_unreachable_server_is_model_unavailable_after_retries() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OpenAIModel(f"http://127.0.0.1:{port}/v1", "m", connect_timeout=0.5, backoff=(0.0,), max_retries=1)
    with anyio.fail_after(10), pytest.raises(ModelUnavailable, match=r"127\.0\.0\.1.*gave up after 2 attempt"):
        await complete(model, "hi")


async def test_an_error_event_mid_stream_is_a_model_error_quoting_the_server(server: Any) -> None:
    server.script(server.Reply("aaabbb", error_after=1))
    with pytest.raises(ModelError, match="reported an error mid-stream: engine died"):
        await complete(_model(server), "hi")


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from reasoner.models._remote_wire import retry_after

    assert retry_after("1.5") == 1.5
    assert retry_after("-3") == 0.0
    assert retry_after(format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)) == 0.0
    ahead = retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert ahead is not None and 25 < ahead <= 30
    assert retry_after("soon") is None and retry_after(None) is None
