"""API keys never show: not in repr/str, not in error messages, not in logs."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from reasoner.errors import ModelError, ModelUnavailable
from reasoner.models import Catalog, OpenAIModel, complete

KEY = "sk-live-5ecr3t-DO-NOT-LEAK-0123456789"


def _model(server: Any, **kwargs: Any) -> OpenAIModel:
    return OpenAIModel(server.url, "qwen3-8b", read_timeout=2.0, backoff=(0.0,), **kwargs)


def _everything_said(exc: BaseException) -> str:
    # the message of every exception in the chain, and the formatted traceback
    return "\n".join(traceback.format_exception(exc))


@pytest.mark.parametrize("api_key", [KEY, lambda: KEY], ids=["str", "callable"])
def test_the_key_is_not_in_the_models_repr_str_or_attributes(server: Any, api_key: Any) -> None:
    model = _model(server, api_key=api_key)
    assert KEY not in repr(model) and KEY not in str(model)
    assert all(KEY not in repr(value) for value in vars(model).values())


async def test_a_server_echoing_the_key_does_not_put_it_in_errors_or_logs(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    server.script(server.Status(500, "boom", echo_auth=True), server.Status(401, "Incorrect API key", echo_auth=True))
    with pytest.raises(ModelUnavailable) as caught:
        await complete(_model(server, api_key=KEY, max_retries=2), "hi")
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent, and echoed
    said = _everything_said(caught.value)
    assert "Incorrect API key (got Authorization: Bearer <api key>)" in said
    assert KEY not in said
    assert caplog.records, "expected the retry to be logged"
    assert all(KEY not in record.getMessage() for record in caplog.records)


async def test_a_key_echoed_in_a_final_5xx_is_scrubbed_too(server: Any) -> None:
    server.script(server.Status(503, "overloaded", echo_auth=True))
    with pytest.raises(ModelError) as caught:
        await complete(_model(server, api_key=KEY, max_retries=0), "hi")
    assert "overloaded" in str(caught.value) and KEY not in _everything_said(caught.value)


async def test_a_callable_key_is_asked_for_every_request_so_it_can_rotate(server: Any) -> None:
    keys = iter(["key-1", "key-2"])
    server.script(server.Status(429, "slow"), server.Reply("ok"))
    await complete(_model(server, api_key=lambda: next(keys)), "hi")
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer key-1", "Bearer key-2"]


async def test_the_catalog_reads_the_key_from_its_variable_and_never_shows_it(server: Any, tmp_path: Path) -> None:
    config = tmp_path / "reasoner.toml"
    config.write_text(f'[models.fast]\nurl = "{server.url}"\nmodel = "qwen3-8b"\napi_key_env = "FAST_KEY"\n')
    catalog = Catalog.load(config, env={"FAST_KEY": KEY})
    model = catalog.model("fast")
    assert KEY not in repr(catalog) and KEY not in str(catalog) and KEY not in repr(catalog.entry("fast"))
    assert KEY not in repr(model)
    server.script(server.Reply("hello"))
    assert (await complete(model, "hi")).text == "hello"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
