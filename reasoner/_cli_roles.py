"""Which models serve the planner, joiner and answerer of a ``reasoner run``.

Precedence, per role: ``--planner``/``--joiner``/``--answerer`` on the command line; else
the role in the config file (``--config``, ``$REASONER_CONFIG``, ``./reasoner.toml`` or
``<home>/config.toml``), when there is one; else the planner's models (the planner's own
default being ``smollm2-135m``). A name found in the ``models`` mapping handed to
:func:`reasoner.cli.main` is that object; any other name is checked now (so a typo fails
before anything runs) and loaded on first use.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reasoner._cli_common import CliError, split_names
from reasoner.errors import ConfigError

if TYPE_CHECKING:
    from reasoner.models import Catalog, Model

__all__ = ["DEFAULT_PLANNER", "ROLES", "Roles", "add_model_options", "resolve_roles"]

DEFAULT_PLANNER = "smollm2-135m"
ROLES = ("planner", "joiner", "answerer")


@dataclass(frozen=True, slots=True)
class Roles:
    """Each role's models in fallback order, and the catalog that loads names (``None``:
    names go to :func:`reasoner.models.load_model`, which also takes a model folder)."""

    planner: list[str | Model]
    joiner: list[str | Model]
    answerer: list[str | Model]
    catalog: Catalog | None


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--planner``, ``--joiner``, ``--answerer`` and ``--config`` (shared by run and serve)."""
    models = parser.add_argument_group(
        "models",
        "A model is a catalog name, a local transformers folder, or a model of the config file; "
        "repeat an option or comma-separate names for fallbacks, tried in order.",
    )
    models.add_argument("--planner", action="append", metavar="NAME", help=f"the planner (default: the config file's, else {DEFAULT_PLANNER})")
    models.add_argument("--joiner", action="append", metavar="NAME", help="the joiner (default: the config file's, else the planner)")
    models.add_argument("--answerer", action="append", metavar="NAME", help="the answerer (default: the config file's, else the planner)")
    models.add_argument(
        "--config",
        metavar="FILE",
        help="the model catalog, a TOML file (default: $REASONER_CONFIG, ./reasoner.toml, then <reasoner home>/config.toml)",
    )


def resolve_roles(args: argparse.Namespace, env: Mapping[str, str], models: Mapping[str, Model]) -> Roles:
    """The models of each role (see the module doc).

    Raises:
        CliError: a model name that neither ``models``, the config file, the built-in
            catalog nor a local folder knows; the hint lists the known names.
        ConfigError: the config file is missing or invalid (its message names the key).
    """
    from reasoner.models import Catalog, catalog_names

    catalog = Catalog.load(getattr(args, "config", None), env=env)
    from_file = catalog.source is not None
    given = {role: split_names(getattr(args, role, None)) for role in ROLES}
    planner = given["planner"] or (catalog.role("planner") if from_file else [DEFAULT_PLANNER])
    names = {
        "planner": planner,
        **{role: given[role] or (catalog.role(role) if from_file and catalog.sets_role(role) else planner) for role in ("joiner", "answerer")},
    }
    for role, listed in names.items():
        for name in listed:
            if name in models:
                continue
            if from_file:
                try:
                    catalog.entry(name)
                except ConfigError as exc:
                    raise CliError(str(exc), f"fix --{role}, or add [models.{name}] to {catalog.source}") from exc
            elif name not in catalog_names() and not Path(name).expanduser().is_dir():
                known = ", ".join(catalog_names())
                raise CliError(
                    f"--{role}: unknown model {name!r}",
                    f"use a catalog name ({known}), a local transformers folder, or a model defined in a config file (--config)",
                )
    resolved = {role: [models.get(n, n) for n in listed] for role, listed in names.items()}
    return Roles(resolved["planner"], resolved["joiner"], resolved["answerer"], catalog if from_file else None)
