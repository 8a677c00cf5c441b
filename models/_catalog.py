"""The model catalog: the one place a model name is resolved, and models are built.

A name resolves, in order, to

1. an entry of the catalog file (``[models.<name>]``; see ``reasoner.models._config`` for
   where the file is found and its format), or one given in code;
2. a built-in model: ``smollm2-135m`` (the embedded model with its shipped adapter) or
   ``smollm2-135m-base`` (without it);
3. a local folder holding a transformers model (the name is its path).

:class:`Catalog` adds each role's ordered models and builds (and keeps) the models it
names; :func:`load_model` resolves one name the same way with no file and builds a fresh
model. The environment is read when a catalog is made (``env=`` replaces ``os.environ``),
never later: API keys are taken then from the variables the entries name, and are never
shown in a repr or an error.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from reasoner.errors import ConfigError, ModelUnavailable, UsageError
from reasoner.models._config import BUILTIN_NAMES, ROLES, ModelEntry, home_of, read_config
from reasoner.models._embedded import SMOLLM2_BASE_NAME, SMOLLM2_NAME, smollm2_gguf, verify_cache
from reasoner.models._protocol import Model
from reasoner.models._remote import OpenAIModel
from reasoner.models._remote_wire import Secret

if TYPE_CHECKING:
    import torch

__all__ = ["Catalog", "catalog_names", "load_model"]

def catalog_names() -> list[str]:
    """The built-in model names, sorted (every catalog knows them)."""
    return sorted(BUILTIN_NAMES)


def load_model(
    name_or_path: str | Path,
    *,
    home: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
) -> Model:
    """Resolve a built-in name (``"smollm2-135m"``) or a local model folder, as a catalog
    without a file does (module doc), to a newly loaded model.

    Blocking (about a second for the embedded model once its cache exists); from async
    code call it through ``anyio.to_thread.run_sync``. ``home`` is the reasoner home folder
    for the embedded model's cache (default: ``$REASONER_HOME`` or ``~/.cache/reasoner``).
    ``dtype`` (a torch dtype, or ``"auto"``, ``"float32"``, ``"bfloat16"``, ``"float16"``)
    defaults to ``$REASONER_DTYPE``, else auto: bfloat16 on CUDA and on CPUs with
    AMX/AVX512-BF16, float32 elsewhere.

    Raises:
        ConfigError: neither a known name nor an existing folder; the message lists the names.
        ModelUnavailable: the model exists but cannot be loaded; the message gives the fix.
    """
    name = str(name_or_path)
    entry = Catalog(env={}).entry(name)
    return _build_local(None, entry, home, device, dtype)


class Catalog:
    """Named models (resolved as the module doc says) and each role's ordered model list.

    ``Catalog(entries, roles)`` builds one in code; :meth:`load` reads the catalog file
    (``reasoner.models._config`` has the lookup order and the format).

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
        self._home = home_of(env)
        variables = {e.api_key_env for e in self._entries.values() if e.api_key_env}
        self._keys = {v: Secret(env[v]) for v in variables if env.get(v)}
        self._roles: dict[str, tuple[str, ...]] = {"planner": (SMOLLM2_NAME,)}  # joiner/answerer: the planner's unless set
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()
        self._set_roles(roles or {})

    @classmethod
    def load(cls, path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Catalog:
        """Load the catalog from ``path`` or the first file of the lookup order (``reasoner.models._config``).

        ``env`` stands for ``os.environ`` (``REASONER_CONFIG``, ``REASONER_HOME`` and the
        ``api_key_env`` variables are read from it now, and never again).

        Raises:
            ConfigError: the file is missing, is not TOML, or has an invalid key or value;
                the message names the file, the key and the problem.
        """
        env = os.environ if env is None else env
        found = read_config(path, env)
        if found is None:
            return cls(env=env)
        return cls(found.entries, found.roles, env=env, source=found.source)

    def __repr__(self) -> str:
        roles = {r: self.role(r) for r in ROLES}
        return f"Catalog(source={str(self.source) if self.source else None!r}, models={self.names()!r}, roles={roles!r})"

    def names(self) -> list[str]:
        """Every model name: the file's entries and the built-ins, sorted (local folders,
        which resolve too, are not listed)."""
        return sorted(set(self._entries) | set(BUILTIN_NAMES))

    def entry(self, name: str) -> ModelEntry:
        """The entry for ``name``: the catalog's own, else a built-in's
        (``ModelEntry(builtin=name)``), else a local folder's (``ModelEntry(path=...)``).

        Raises:
            ConfigError: an unknown name; the message lists the known ones.
        """
        if name in self._entries:
            return self._entries[name]
        if name in BUILTIN_NAMES:
            return ModelEntry(builtin=name)
        if name and Path(name).expanduser().is_dir():
            return ModelEntry(path=Path(name).expanduser())
        raise ConfigError(
            f"unknown model {name!r}{self._where()}: use one of {', '.join(map(repr, self.names()))}, or add [models.{name}] "
            f"to {self.source or 'a catalog file'}, or give the path of a local folder holding a transformers model"
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
        for role, names in roles.items():
            if role not in ROLES:
                raise UsageError(f"unknown role {role!r}: the roles are {', '.join(ROLES)}")
            listed = (names,) if isinstance(names, str) else tuple(names)
            if not listed:
                raise ConfigError(f"role {role!r}{self._where()} lists no model; give at least one name")
            for name in listed:
                try:
                    self.entry(name)
                except ConfigError:
                    choices = ", ".join(map(repr, self.names()))
                    raise ConfigError(
                        f"role {role!r}{self._where()} names unknown model {name!r}: use one of {choices}, "
                        "or the path of a local folder holding a transformers model"
                    ) from None
            self._roles[role] = listed

    def _where(self) -> str:
        return f" in {self.source}" if self.source else ""

    def _build(self, name: str, entry: ModelEntry) -> Model:
        if entry.kind == "remote":
            return self._remote(name, entry)
        named = name if name in self._entries else None  # a folder by its path keeps the folder's name
        return _build_local(named, entry, self._home, entry.device, entry.dtype)

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


def _smollm2(name: str | None, home: str | Path | None, device: str | torch.device, dtype: torch.dtype | str | None) -> Model:
    # the embedded model as shipped: base weights with the tuned adapter merged
    from reasoner.models._embedded import SHIPPED_ADAPTER, load_smollm2

    adapter = SHIPPED_ADAPTER if (SHIPPED_ADAPTER / "adapter_config.json").is_file() else None
    model: Model = load_smollm2(home, device=device, dtype=dtype, adapter=adapter)
    return model


def _smollm2_base(name: str | None, home: str | Path | None, device: str | torch.device, dtype: torch.dtype | str | None) -> Model:
    from reasoner.models._embedded import load_smollm2

    model: Model = load_smollm2(home, device=device, dtype=dtype, name=SMOLLM2_BASE_NAME, adapter=None)
    return model


# built-in name -> loader(name, home, device, dtype); the names are BUILTIN_NAMES
_BUILTINS: dict[str, Callable[[str | None, str | Path | None, str | torch.device, torch.dtype | str | None], Model]] = {
    SMOLLM2_NAME: _smollm2,
    SMOLLM2_BASE_NAME: _smollm2_base,
}


def _build_local(
    name: str | None, entry: ModelEntry, home: str | Path | None, device: str | torch.device, dtype: torch.dtype | str | None
) -> Model:
    # a built-in (an alias keeps the built-in's own name), a local folder, or a base + adapter;
    # ``name`` None: the model's default name
    if entry.path is not None:
        from reasoner.models._local import TransformersModel

        return TransformersModel.from_folder(entry.path, name=name, device=device, dtype=dtype)
    if entry.base is not None:
        return _tuned(name or str(entry.base), entry, home, device, dtype)
    return _BUILTINS[str(entry.builtin)](name, home, device, dtype)


def _tuned(name: str, entry: ModelEntry, home: str | Path | None, device: str | torch.device, dtype: torch.dtype | str | None) -> Model:
    from reasoner.models._embedded import load_smollm2
    from reasoner.models._local import TransformersModel

    base, adapter = str(entry.base), entry.adapter
    if base in (SMOLLM2_NAME, SMOLLM2_BASE_NAME):  # the embedded weights, with this adapter instead of the shipped one
        model: Model = load_smollm2(home, device=device, dtype=dtype, name=name, adapter=adapter)
        return model
    if base in BUILTIN_NAMES:
        raise ConfigError(f"model {name!r}: base {base!r} is not a local transformers model; use smollm2-135m-base or a folder")
    return TransformersModel.from_folder(base, name=name, device=device, dtype=dtype, adapter=adapter)


def _check_adapter(entry: ModelEntry) -> tuple[bool, str]:
    adapter = Path(str(entry.adapter))
    missing = [f for f in ("adapter_config.json", "adapter_model.safetensors") if not (adapter / f).is_file()]
    if missing:
        return False, f"the adapter folder {adapter} lacks {', '.join(missing)}"
    if entry.base not in BUILTIN_NAMES:
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
