"""The model catalog: named models and the models each role uses, from a TOML file.

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
A missing planner defaults to ``["smollm2-135m"]``; a missing joiner or answerer uses
the planner's models. The environment is read when the catalog
is loaded (``env=`` replaces ``os.environ``), never later: API keys are taken then from the
variables the entries name, and are never shown in a repr or an error.
"""

from __future__ import annotations

import copy
import os
import re
import threading
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reasoner.errors import ConfigError, ModelUnavailable, UsageError
from reasoner.models._catalog import catalog_names, load_model
from reasoner.models._embedded import (
    SMOLLM2_BASE_NAME,
    SMOLLM2_NAME,
    smollm2_gguf,
    verify_cache,
)
from reasoner.models._protocol import Model
from reasoner.models._remote import OpenAIModel
from reasoner.models._remote_wire import Secret

__all__ = ["ROLES", "Catalog", "ModelEntry"]

ROLES = ("planner", "joiner", "answerer")
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
        if self.builtin is not None and self.builtin not in catalog_names():
            raise ValueError(f"unknown builtin; the built-in models are {', '.join(catalog_names())}")
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


class Catalog:
    """Named models and each role's ordered model list.

    ``Catalog(entries, roles)`` builds one in code; :meth:`load` reads a TOML file (see the
    module doc for the lookup order and format).

    Raises:
        ConfigError: a role names an unknown model.
    """

    def __init__(
        self,
        entries: Mapping[str, ModelEntry] | None = None,
        roles: Mapping[str, str | Sequence[str]] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        source: Path | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.source = source
        self._entries = dict(entries or {})
        self._home = _home(env)
        variables = {e.api_key_env for e in self._entries.values() if e.api_key_env}
        self._keys = {v: Secret(env[v]) for v in variables if env.get(v)}
        self._roles: dict[str, tuple[str, ...]] = {"planner": (SMOLLM2_NAME,)}  # joiner/answerer: the planner's unless set
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()
        self._set_roles(roles or {})

    @classmethod
    def load(cls, path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Catalog:
        """Load the catalog from ``path`` or the first file of the lookup order (module doc).

        ``env`` stands for ``os.environ`` (``REASONER_CONFIG``, ``REASONER_HOME`` and the
        ``api_key_env`` variables are read from it now, and never again).

        Raises:
            ConfigError: the file is missing, is not TOML, or has an invalid key or value;
                the message names the file, the key and the problem.
        """
        env = os.environ if env is None else env
        file = _find(path, env)
        if file is None:
            return cls(env=env)
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
        return cls(entries, roles, env=env, source=file)

    def __repr__(self) -> str:
        roles = {r: self.role(r) for r in ROLES}
        return f"Catalog(source={str(self.source) if self.source else None!r}, models={self.names()!r}, roles={roles!r})"

    def names(self) -> list[str]:
        """Every model name: the file's entries and the built-ins, sorted."""
        return sorted(set(self._entries) | set(catalog_names()))

    def entry(self, name: str) -> ModelEntry:
        """The entry for ``name`` (a built-in gives ``ModelEntry(builtin=name)``).

        Raises:
            ConfigError: an unknown name; the message lists the known ones.
        """
        if name in self._entries:
            return self._entries[name]
        if name in catalog_names():
            return ModelEntry(builtin=name)
        raise ConfigError(
            f"unknown model {name!r}{self._where()}: use one of {', '.join(map(repr, self.names()))}, or add [models.{name}]"
        )

    def role(self, role: str) -> list[str]:
        """The ordered model names for ``role`` (``planner``, ``joiner`` or ``answerer``)."""
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}: the roles are {', '.join(ROLES)}")
        return list(self._roles.get(role) or self._roles["planner"])

    def sets_role(self, role: str) -> bool:
        """Whether the config names models for ``role`` itself (else :meth:`role` falls back)."""
        return role in self._roles

    def with_roles(self, **roles: str | Sequence[str]) -> Catalog:
        """A copy whose given roles name other models (built models are shared).

        Raises:
            UsageError: an unknown role.  ConfigError: an unknown model name.
        """
        other = copy.copy(self)
        other._roles = dict(self._roles)
        other._set_roles(roles)
        return other

    def model(self, name: str) -> Model:
        """The model called ``name``, built on first use and cached.

        Blocking for local and built-in models (they load weights); from async code call
        it through ``anyio.to_thread.run_sync``.

        Raises:
            ConfigError: an unknown name, or an API key variable that is not set.
            ModelUnavailable: a local model that cannot be loaded.
        """
        entry = self.entry(name)
        with self._lock:
            if name not in self._models:
                self._models[name] = self._build(name, entry)
            return self._models[name]

    async def check(self, name: str, *, timeout: float = 3.0) -> tuple[bool, str]:
        """Whether ``name`` can be used, and what is missing if not; loads no weights.

        Remote: ``GET {url}/models`` (within ``timeout``) lists the model. Local: the folder
        has config.json, weights and a tokenizer. Built-in: its cache is intact, or can be built.

        Raises:
            ConfigError: an unknown name.
        """
        entry = self.entry(name)
        if entry.kind == "remote":
            try:
                remote = self._remote(name, entry)
            except ConfigError as exc:
                return False, str(exc)
            return await remote.check(timeout=timeout)
        if entry.path is not None:
            return _check_folder(entry.path)
        if entry.adapter is not None:
            return _check_adapter(entry)
        if entry.builtin not in (SMOLLM2_NAME, SMOLLM2_BASE_NAME):
            return True, f"{entry.builtin!r} is built in"
        folder = self._home / "models" / SMOLLM2_NAME
        problem: str | None = await anyio.to_thread.run_sync(verify_cache, folder)
        if problem is None:
            return True, f"the {SMOLLM2_NAME} cache at {folder} is intact"
        try:
            gguf = smollm2_gguf()
        except ModelUnavailable as exc:
            return False, f"{problem}, and it cannot be built: {exc}"
        return True, f"not built yet ({problem}); it is converted from {gguf} on first use"

    def _set_roles(self, roles: Mapping[str, str | Sequence[str]]) -> None:
        known = set(self.names())
        for role, names in roles.items():
            if role not in ROLES:
                raise UsageError(f"unknown role {role!r}: the roles are {', '.join(ROLES)}")
            listed = (names,) if isinstance(names, str) else tuple(names)
            if not listed:
                raise ConfigError(f"role {role!r}{self._where()} lists no model; give at least one name")
            for name in listed:
                if name not in known:
                    choices = ", ".join(map(repr, sorted(known)))
                    raise ConfigError(f"role {role!r}{self._where()} names unknown model {name!r}: use one of {choices}")
            self._roles[role] = listed

    def _where(self) -> str:
        return f" in {self.source}" if self.source else ""

    def _build(self, name: str, entry: ModelEntry) -> Model:
        if entry.kind == "remote":
            return self._remote(name, entry)
        if entry.path is not None:
            from reasoner.models._local import TransformersModel

            return TransformersModel.from_folder(entry.path, name=name, device=entry.device, dtype=entry.dtype)
        if entry.base is not None:
            return _tuned(name, entry, self._home)
        return load_model(str(entry.builtin), home=self._home, device=entry.device, dtype=entry.dtype)

    def _remote(self, name: str, entry: ModelEntry) -> OpenAIModel:
        key = None
        if entry.api_key_env is not None:
            secret = self._keys.get(entry.api_key_env)
            if secret is None:
                raise ConfigError(
                    f"model {name!r}{self._where()} reads its API key from ${entry.api_key_env}, which is not set: "
                    f"export {entry.api_key_env}=..., or drop api_key_env for a server without keys"
                )
            key = secret.get(name)
        return OpenAIModel(
            str(entry.url), str(entry.model), api_key=key, name=name, connect_timeout=entry.connect_timeout,
            read_timeout=entry.read_timeout, max_retries=entry.max_retries,
            repair_attempts=entry.repair_attempts, structured=entry.structured,
        )  # fmt: skip


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
    return next((f for f in (Path.cwd() / "reasoner.toml", _home(env) / "config.toml") if f.is_file()), None)


def _home(env: Mapping[str, str]) -> Path:
    # reasoner_home(), but from the given mapping rather than os.environ
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
    if entry.base is not None and entry.base not in catalog_names():
        update["base"] = str(folder / Path(entry.base).expanduser())
    return entry.model_copy(update=update) if update else entry


def _tuned(name: str, entry: ModelEntry, home: Path) -> Model:
    from reasoner.models._embedded import load_smollm2
    from reasoner.models._local import TransformersModel

    base, adapter = str(entry.base), entry.adapter
    if base in (SMOLLM2_NAME, SMOLLM2_BASE_NAME):  # the embedded weights, with this adapter instead of the shipped one
        model: Model = load_smollm2(home, device=entry.device, dtype=entry.dtype, name=name, adapter=adapter)
        return model
    if base in catalog_names():
        raise ConfigError(f"model {name!r}: base {base!r} is not a local transformers model; use smollm2-135m-base or a folder")
    return TransformersModel.from_folder(base, name=name, device=entry.device, dtype=entry.dtype, adapter=adapter)


def _check_adapter(entry: ModelEntry) -> tuple[bool, str]:
    adapter = Path(str(entry.adapter))
    missing = [f for f in ("adapter_config.json", "adapter_model.safetensors") if not (adapter / f).is_file()]
    if missing:
        return False, f"the adapter folder {adapter} lacks {', '.join(missing)}"
    if entry.base not in catalog_names():
        ok, detail = _check_folder(Path(str(entry.base)))
        if not ok:
            return False, detail
    return True, f"{entry.base} + the adapter in {adapter} (merged at load)"


def _check_folder(folder: Path) -> tuple[bool, str]:
    if not folder.is_dir():
        return False, f"{folder} does not exist (or is not a folder)"
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        missing.append("weights (*.safetensors or *.bin)")
    if not any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        missing.append("a tokenizer (tokenizer.json, tokenizer.model or vocab.json)")
    if missing:
        return False, f"{folder} lacks {', '.join(missing)}"
    return True, f"{folder} has config.json, weights and a tokenizer (not loaded)"
