"""The catalog file: the TOML that names models and the models each role uses
(:class:`ModelEntry` per ``[models.<name>]``), found and read by :func:`read_config`;
:class:`~reasoner.models.Catalog` (``reasoner.models._catalog``) resolves names with it.

Where the file comes from (:meth:`Catalog.load`; the CLI's ``--config`` passes ``path``):

1. ``path``, when given;
2. the file named by ``$REASONER_CONFIG`` (an error if it does not exist);
3. ``./reasoner.toml`` in the current directory;
4. ``<home>/config.toml``, home being ``$REASONER_HOME`` or ``~/.cache/reasoner``;
5. none: built-in defaults, every role ``["smollm2-135m"]``.

The format::

    [models.fast]                        # a remote OpenAI-compatible server
    url = "http://127.0.0.1:8000/v1"
    model = "qwen3-8b"                   # the server's model id
    api_key_env = "FAST_KEY"             # the key is read from this variable, never stored here
    # optional: structured = "auto" | "json_schema" | "none", connect_timeout = 5.0,
    #           read_timeout = 60.0, max_retries = 3, repair_attempts = 2
    [models.local]
    path = "/models/my-llama"            # a transformers folder; relative to this file's folder
    device = "cuda"                      # optional, default "cpu"
    dtype = "bfloat16"                   # optional: auto | float32 | bfloat16 | float16; default
                                         #   $REASONER_DTYPE, else auto (bf16 where the CPU has it)
    [models.tiny]
    builtin = "smollm2-135m"             # an alias of a built-in model
    [models.mine]
    base = "smollm2-135m-base"           # a built-in model or a local transformers folder,
    adapter = "adapters/mine"            # with a LoRA adapter folder (reasoner tune) merged at load
    [roles]                              # ordered fallbacks; a single name is a list of one
    planner = ["fast", "smollm2-135m"]
    joiner = "smollm2-135m"
    answerer = ["smollm2-135m"]

Built-in names (``smollm2-135m``, the embedded model with its shipped adapter, and
``smollm2-135m-base``, without it) always exist; an entry of the same name replaces one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reasoner.errors import ConfigError
from reasoner.models._embedded import SMOLLM2_BASE_NAME, SMOLLM2_NAME

__all__ = ["BUILTIN_NAMES", "ROLES", "ConfigFile", "ModelEntry", "home_of", "read_config"]

ROLES = ("planner", "joiner", "answerer")
BUILTIN_NAMES = (SMOLLM2_NAME, SMOLLM2_BASE_NAME)  # the models every catalog knows (reasoner.models._catalog loads them)
_REMOTE_ONLY = frozenset(
    {"model", "api_key_env", "structured", "connect_timeout", "read_timeout", "max_retries", "repair_attempts"}
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ModelEntry(BaseModel):
    """One ``[models.<name>]`` table: exactly one of ``url`` (remote), ``path`` (a local
    transformers folder), ``builtin`` (a built-in model's name) or ``base`` (a built-in
    name or a local folder) with ``adapter`` (a LoRA adapter folder merged at load)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    path: Path | None = None
    builtin: str | None = None
    base: str | None = None
    adapter: Path | None = None
    device: str = "cpu"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    structured: Literal["auto", "json_schema", "none"] = "auto"
    connect_timeout: Annotated[float, Field(gt=0)] = 5.0
    read_timeout: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0)] = 3
    repair_attempts: Annotated[int, Field(ge=0)] = 2

    @property
    def kind(self) -> Literal["remote", "local", "builtin", "tuned"]:
        if self.url is not None:
            return "remote"
        return "local" if self.path is not None else "tuned" if self.base is not None else "builtin"

    @model_validator(mode="after")
    def _one_kind(self) -> ModelEntry:
        given = [k for k in ("url", "path", "builtin", "base") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of url (a remote server), path (a local folder), builtin, or base with adapter; got {given or 'none'}"
            )
        if (self.base is None) != (self.adapter is None):
            raise ValueError('base and adapter go together: base = "smollm2-135m-base" (or a folder), adapter = "<adapter folder>"')
        if self.url is not None:
            if not self.url.startswith(("http://", "https://")):
                raise ValueError("url must start with http:// or https://, e.g. http://127.0.0.1:8000/v1")
            if not self.model:
                raise ValueError('a remote entry needs model = "<the server\'s model id>"')
            for local in ("device", "dtype"):
                if local in self.model_fields_set:
                    raise ValueError(f"{local} applies to local and built-in models, not to a remote url")
        elif extra := sorted(_REMOTE_ONLY & self.model_fields_set):
            raise ValueError(f"{', '.join(extra)} only apply to remote entries (with url)")
        if self.api_key_env is not None and not _ENV_NAME.fullmatch(self.api_key_env):
            # never echo the value: it may be a key pasted in by mistake
            raise ValueError("api_key_env must name an environment variable (letters, digits, _), not hold the key")
        if self.builtin is not None and self.builtin not in BUILTIN_NAMES:
            raise ValueError(f"unknown builtin; the built-in models are {', '.join(sorted(BUILTIN_NAMES))}")
        return self


class _Roles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    planner: list[str] = [SMOLLM2_NAME]
    joiner: list[str] = [SMOLLM2_NAME]
    answerer: list[str] = [SMOLLM2_NAME]

    @field_validator("planner", "joiner", "answerer", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list) and not value:
            raise ValueError("list at least one model name")
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, ModelEntry] = {}
    roles: _Roles = _Roles()


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A catalog file as read: its entries (paths made absolute), the roles it sets, where it is."""

    entries: dict[str, ModelEntry]
    roles: dict[str, list[str]]
    source: Path


def read_config(path: str | Path | None, env: Mapping[str, str]) -> ConfigFile | None:
    """The catalog file at ``path`` or the first of the lookup order (module doc); ``None``
    when there is none.

    Raises:
        ConfigError: the file is missing, is not TOML, or has an invalid key or value;
            the message names the file, the key and the problem.
    """
    file = _find(path, env)
    if file is None:
        return None
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(file, exc)) from None  # pydantic's own text quotes values (keys)
    entries = {name: _relative_to(e, file.parent) for name, e in parsed.models.items()}
    roles = {r: getattr(parsed.roles, r) for r in parsed.roles.model_fields_set}
    return ConfigFile(entries, roles, file)


def _find(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise ConfigError(f"config file {file} does not exist")
        return file
    if env.get("REASONER_CONFIG"):
        file = Path(env["REASONER_CONFIG"]).expanduser()
        if not file.is_file():
            raise ConfigError(f"REASONER_CONFIG names {file}, which does not exist: fix or unset the variable")
        return file
    return next((f for f in (Path.cwd() / "reasoner.toml", home_of(env) / "config.toml") if f.is_file()), None)


def home_of(env: Mapping[str, str]) -> Path:
    """The reasoner home folder: ``reasoner_home()``, but from ``env`` rather than ``os.environ``."""
    return Path(env["REASONER_HOME"]).expanduser() if env.get("REASONER_HOME") else Path.home() / ".cache" / "reasoner"


def _describe(file: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden" and error["loc"][-1] == "api_key":
            message = "keys are not stored in the config: put the key in an environment variable and name it with api_key_env"
        elif error["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        lines.append(f"{file}: {key or '(top level)'}: {message}")
    return "\n".join(lines)


def _relative_to(entry: ModelEntry, folder: Path) -> ModelEntry:
    # path and adapter are relative to the config file's folder
    update = {k: folder / getattr(entry, k).expanduser() for k in ("path", "adapter") if getattr(entry, k) is not None}
    if entry.base is not None and entry.base not in BUILTIN_NAMES:
        update["base"] = str(folder / Path(entry.base).expanduser())
    return entry.model_copy(update=update) if update else entry
