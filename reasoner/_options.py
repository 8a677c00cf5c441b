"""Building an :class:`~reasoner.Engine` from names: what the CLI's flags and ``reasoner serve``
hand over (:class:`EngineOptions`), turned into tools, models and a budget by
:func:`engine_from_options`, the one place both faces build their engine.

Roles, per role: the names given (``planner``/``joiner``/``answerer``); else the role in
the config file (``config``, ``$REASONER_CONFIG``, ``./reasoner.toml`` or
``<home>/config.toml``), when there is one; else the planner's models (the planner's own
default being ``smollm2-135m``). A name found in the ``models`` mapping is that object; any
other name is checked now (so a typo fails before anything runs) and loaded on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from reasoner._load import OptionError, add_tools
from reasoner.errors import ConfigError, UsageError
from reasoner.tools import ToolRegistry

if TYPE_CHECKING:
    from reasoner._approval import Approver
    from reasoner._engine import Engine
    from reasoner._roles import Budget
    from reasoner.models import Catalog, Model

__all__ = [
    "CHART_DIR_ENV",
    "DEFAULT_CHART_DIR",
    "DEFAULT_PLANNER",
    "ROLES",
    "EngineOptions",
    "OptionError",
    "Roles",
    "build_registry",
    "engine_from_options",
    "resolve_roles",
    "split_names",
]

DEFAULT_PLANNER = "smollm2-135m"
ROLES = ("planner", "joiner", "answerer")
DEFAULT_CHART_DIR = "./reasoner-charts"
CHART_DIR_ENV = "REASONER_CHART_DIR"


def split_names(values: Sequence[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]`` (repeatable, comma-separated options)."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """An engine described by names, as a command line or a server's settings give it.

    Attributes:
        tools: ``module:attr`` (or ``path/to/file.py:attr``) specs of tools to register.
        demo: register the demo toolkit first.
        plugins: register the tools installed packages expose (entry-point group ``reasoner.tools``).
        chart_dir: where the demo chart tool writes (default ``$REASONER_CHART_DIR``, else
            ``./reasoner-charts``).
        planner, joiner, answerer: each role's models in fallback order (comma-separated
            entries are split); empty: see the module doc.
        config: the model catalog file (default: ``$REASONER_CONFIG``, ``./reasoner.toml``, ...).
        max_iterations, max_tokens, timeout: the run budget; ``None`` keeps the default.
        mode: ``"plan"`` (the planner's DAG) or ``"react"`` (one call per turn).
    """

    tools: Sequence[str] = ()
    demo: bool = True
    plugins: bool = True
    chart_dir: str | None = None
    planner: Sequence[str] = ()
    joiner: Sequence[str] = ()
    answerer: Sequence[str] = ()
    config: str | None = None
    max_iterations: int | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    mode: Literal["plan", "react"] = "plan"

    def budget(self) -> Budget:
        """The budget these limits give (defaults for those left ``None``)."""
        from reasoner._roles import Budget

        limits: dict[str, Any] = {"iterations": self.max_iterations, "tokens": self.max_tokens, "seconds": self.timeout}
        return Budget(**{k: v for k, v in limits.items() if v is not None})


@dataclass(frozen=True, slots=True)
class Roles:
    """Each role's models in fallback order, and the catalog that loads names (``None``, when
    there is no catalog file: names go to :func:`reasoner.models.load_model`, which resolves
    them as a catalog without a file does)."""

    planner: list[str | Model]
    joiner: list[str | Model]
    answerer: list[str | Model]
    catalog: Catalog | None


def resolve_roles(options: EngineOptions, env: Mapping[str, str], models: Mapping[str, Model]) -> Roles:
    """The models of each role (see the module doc).

    Raises:
        OptionError: a model name that neither ``models``, the config file, the built-in
            catalog nor a local folder knows; the hint lists the known names.
        ConfigError: the config file is missing or invalid (its message names the key).
    """
    from reasoner.models import Catalog, catalog_names

    catalog = Catalog.load(options.config, env=env)
    from_file = catalog.source is not None
    given = {"planner": split_names(options.planner), "joiner": split_names(options.joiner), "answerer": split_names(options.answerer)}
    planner = given["planner"] or (catalog.role("planner") if from_file else [DEFAULT_PLANNER])
    names = {
        "planner": planner,
        **{role: given[role] or (catalog.role(role) if from_file and catalog.sets_role(role) else planner) for role in ("joiner", "answerer")},
    }
    for role, listed in names.items():
        for name in listed:
            if name in models:
                continue
            try:
                catalog.entry(name)  # the one resolution: the file's entries, the built-ins, local folders
            except ConfigError as exc:
                if from_file:
                    raise OptionError(str(exc), f"fix --{role}, or add [models.{name}] to {catalog.source}") from exc
                raise OptionError(
                    f"--{role}: unknown model {name!r}",
                    f"use a catalog name ({', '.join(catalog_names())}), a local transformers folder, or a model defined in a config file (--config)",
                ) from exc
    resolved = {role: [models.get(n, n) for n in listed] for role, listed in names.items()}
    return Roles(resolved["planner"], resolved["joiner"], resolved["answerer"], catalog if from_file else None)


def chart_dir(options: EngineOptions, env: Mapping[str, str]) -> str:
    """The demo chart folder: ``chart_dir``, else ``$REASONER_CHART_DIR``, else ``./reasoner-charts``."""
    return options.chart_dir or env.get(CHART_DIR_ENV) or DEFAULT_CHART_DIR


def build_registry(options: EngineOptions, env: Mapping[str, str]) -> ToolRegistry:
    """The tools: the demo toolkit (unless ``demo`` is off), installed plugins (unless
    ``plugins`` is off), then each of ``tools`` in order.

    Raises:
        OptionError: a spec that cannot be imported, is not a tool, or clashes with a name
            already taken (the hint says how to fix it).
    """
    registry = ToolRegistry()
    if options.demo:
        from reasoner.tools.demo import demo_tools

        registry = ToolRegistry(demo_tools(chart_dir=chart_dir(options, env)))
    if options.plugins:
        try:
            registry.load_entry_points()
        except UsageError as exc:
            raise OptionError(str(exc), "uninstall or fix that package, or pass --no-plugins to leave plugins out") from exc
    for spec in options.tools:
        clash = "rename the tool with @tool(name=...)" + (", or pass --no-demo" if options.demo else "")
        add_tools(registry, spec, "--tools", clash)
    return registry


def engine_from_options(
    options: EngineOptions,
    env: Mapping[str, str],
    models: Mapping[str, Model] | None = None,
    *,
    approve: Approver | None = None,
    registry: ToolRegistry | None = None,
    roles: Roles | None = None,
) -> Engine:
    """The engine ``options`` describe: its tools (:func:`build_registry`), each role's
    models (:func:`resolve_roles`; ``models`` are objects by name, consulted first), the
    budget and mode, and ``approve`` for calls that need approval.

    ``registry`` and ``roles``, when given, are used instead of building them again (a
    caller that checked them before, or loaded the models once for several engines).

    Raises:
        OptionError: an unknown model or a bad tool spec (the hint says how to fix it).
        ConfigError: the config file is missing or invalid.
    """
    from reasoner._engine import Engine

    roles = roles or resolve_roles(options, env, models or {})
    return Engine(
        tools=registry if registry is not None else build_registry(options, env),
        planner=roles.planner,
        joiner=roles.joiner,
        answerer=roles.answerer,
        catalog=roles.catalog,
        budget=options.budget(),
        approve=approve,
        mode=options.mode,
    )
