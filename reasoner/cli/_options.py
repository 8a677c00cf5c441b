"""The options that name an engine (tools, models), shared by ``run``, ``eval``, ``tools`` and
``serve``, and :func:`engine_options`, which reads them into the core's
:class:`~reasoner._options.EngineOptions`."""

from __future__ import annotations

import argparse
from typing import Literal

from reasoner._options import CHART_DIR_ENV, DEFAULT_CHART_DIR, DEFAULT_PLANNER, EngineOptions

__all__ = ["add_model_options", "add_tool_options", "engine_options"]


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--planner``, ``--joiner``, ``--answerer`` and ``--config``."""
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


def add_tool_options(parser: argparse.ArgumentParser) -> None:
    """The options that decide which tools are registered."""
    group = parser.add_argument_group("tools")
    group.add_argument(
        "--tools",
        action="append",
        metavar="MODULE:ATTR",
        help="register your tools: ATTR is a function, a ToolSpec, a list of them or a ToolRegistry "
        "(repeatable; MODULE may also be a path/to/file.py)",
    )
    group.add_argument("--no-demo", action="store_true", help="leave out the demo toolkit (registered by default)")
    group.add_argument(
        "--no-plugins", action="store_true", help="leave out tools installed packages expose (entry-point group reasoner.tools)"
    )
    group.add_argument(
        "--chart-dir",
        metavar="DIR",
        help=f"where the demo chart tool writes PNGs (default: ${CHART_DIR_ENV} or {DEFAULT_CHART_DIR})",
    )


def engine_options(args: argparse.Namespace, *, mode: Literal["plan", "react"] = "plan") -> EngineOptions:
    """The engine the parsed options name (those a command does not have keep their defaults)."""
    return EngineOptions(
        tools=tuple(getattr(args, "tools", None) or ()),
        demo=not getattr(args, "no_demo", False),
        plugins=not getattr(args, "no_plugins", False),
        chart_dir=getattr(args, "chart_dir", None),
        planner=tuple(getattr(args, "planner", None) or ()),
        joiner=tuple(getattr(args, "joiner", None) or ()),
        answerer=tuple(getattr(args, "answerer", None) or ()),
        config=getattr(args, "config", None),
        max_iterations=getattr(args, "max_iterations", None),
        max_tokens=getattr(args, "max_tokens", None),
        timeout=getattr(args, "timeout", None),
        mode=mode,
    )
