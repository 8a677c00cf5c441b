"""What every ``reasoner`` subcommand shares: the command record, the context, CLI errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from reasoner._load import OptionError
from reasoner._options import split_names as split_names

if TYPE_CHECKING:
    from reasoner.models import Model

__all__ = ["CliError", "Command", "Context", "debug_flag", "positive_int", "positive_seconds", "split_names"]


class CliError(OptionError):
    """A command-line mistake: ``message`` says what is wrong, ``hint`` how to fix it."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a command handler may touch besides its arguments.

    Attributes:
        stdout: where results go (events, answers, listings).
        stderr: where errors and hints go.
        env: the environment, read here at the edge and nowhere in the library.
        models: model objects by name, consulted before the catalog (tests inject
            ``ScriptedModel`` instances here).
        stdin: where a person's answers come from (approvals, plan review, feedback);
            they are asked only when it is a terminal.
    """

    stdout: TextIO
    stderr: TextIO
    env: Mapping[str, str]
    models: Mapping[str, Model]
    stdin: TextIO = field(default_factory=lambda: sys.stdin)


@dataclass(frozen=True, slots=True)
class Command:
    """One subcommand: ``configure`` adds its options, ``handler`` runs it and returns the exit code.

    Handlers import heavy modules (torch, the engine) inside themselves, so that
    ``reasoner --help`` and ``reasoner tools`` stay fast.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace, Context], int]
    description: str = ""


def debug_flag(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``--debug`` on the top parser and again on each subcommand (so it may come after it)."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="show the full traceback of an error instead of one line and a hint",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value
