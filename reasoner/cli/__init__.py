"""The ``reasoner`` command line.

::

    reasoner run "Compare MSFT and AAPL closing prices"   # live view on a terminal
    reasoner run "..." --json                            # one event per line
    reasoner run "..." --tools mytools:all --no-demo     # your tools only
    reasoner run "..." --output myapp:Report             # a structured answer
    reasoner tools [NAME ...] [--json]                   # what is registered
    reasoner tune --recipe embedded --out DIR            # fine-tune the embedded model (LoRA)
    reasoner feedback RUN_ID --good                      # mark a run good, or correct it

Errors print one line and a hint on stderr and exit with status 1 (2 for a bad
command line, 130 when interrupted); ``--debug`` shows the traceback instead.

Adding a subcommand: write a private module ``reasoner/cli/_<name>.py`` that defines a
:class:`~reasoner.cli._common.Command` (name, help, ``configure(parser)``,
``handler(args, context) -> int``), importing anything heavy inside the handler, and
append it to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from reasoner import __version__
from reasoner.cli._common import Command, Context, debug_flag
from reasoner.cli._eval import EVAL
from reasoner.cli._feedback import FEEDBACK
from reasoner.cli._models import MODELS
from reasoner.cli._run import RUN
from reasoner.cli._serve import SERVE
from reasoner.cli._tools import TOOLS
from reasoner.cli._tune import TUNE
from reasoner.errors import (
    BudgetExceeded,
    ConfigError,
    GrammarError,
    ModelError,
    ModelUnavailable,
    PlanError,
    ReasonerError,
    ToolError,
    UsageError,
)

if TYPE_CHECKING:
    from reasoner.models import Model

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: list[Command] = [RUN, TOOLS, SERVE, MODELS, EVAL, TUNE, FEEDBACK]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="reasoner",
        description="A compound AI reasoning engine: typed plans of tool calls, run in parallel, streamed.",
    )
    parser.add_argument("--version", action="version", version=f"reasoner {__version__}")
    debug_flag(parser, top=True)
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.description or command.help)
        command.configure(sub)
        sub.set_defaults(handler=command.handler)
    return parser


_BUDGET_HINTS = {
    "iterations": "allow more plans with --max-iterations N",
    "tokens": "allow more tokens with --max-tokens N",
    "seconds": "allow more time with --timeout SECONDS",
}


def hint_for(exc: BaseException, command: str | None) -> str:
    """How to fix ``exc``, in one line: the error's own ``hint`` if it has one, else by type."""
    hint = getattr(exc, "hint", None)
    if isinstance(hint, str) and hint:
        return hint
    if isinstance(exc, BudgetExceeded):
        return _BUDGET_HINTS.get(exc.kind, "raise the budget (--max-iterations, --max-tokens, --timeout)")
    if isinstance(exc, ModelUnavailable):
        return "install or fix that model, or pick another with --planner/--joiner/--answerer"
    if isinstance(exc, ModelError):
        return "try another model with --planner/--joiner/--answerer (comma-separate several to fall back in order)"
    if isinstance(exc, GrammarError):
        return "simplify the schema that uses that keyword (a tool's parameters or --output)"
    if isinstance(exc, PlanError):
        return "the plan did not fit the tools: try a stronger --planner, or allow replans with --max-iterations"
    if isinstance(exc, ToolError):
        return "check the tool's arguments and implementation (--debug shows the traceback)"
    if isinstance(exc, ConfigError):
        return "check the model names (--planner/--joiner/--answerer) and the files given on the command line"
    if isinstance(exc, UsageError):
        return f"see reasoner {command or ''} --help".replace("  ", " ")
    if isinstance(exc, TimeoutError):
        return "allow more time with --timeout SECONDS"
    if isinstance(exc, OSError):
        return "check the path and its permissions"
    return "this looks like a bug: rerun with --debug and report the traceback"


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _leaf(exc: BaseException) -> BaseException:
    # a task group may wrap the one error that ended the run
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _report(stderr: TextIO, exc: BaseException, command: str | None) -> None:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        message = f"{exc.strerror}:{where}" if where else exc.strerror
    elif isinstance(exc, ReasonerError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    stderr.write(f"error: {_one_line(message) or type(exc).__name__}\n")
    stderr.write(f"hint: {hint_for(exc, command)}\n")
    stderr.flush()


def _silence_stdout() -> None:
    # the reader of our stdout went away (`reasoner run ... | head`): stop quietly
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None, *, models: Mapping[str, Model] | None = None, stdin: TextIO | None = None) -> int:
    """Run the ``reasoner`` command line and return its exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        models: model objects by name, consulted before the model catalog (so
            ``--planner NAME`` may name one of them); for tests and embedding.
        stdin: where a person's answers are read from (default: ``sys.stdin``); questions
            (approvals, ``--review``, feedback) are asked only when it is a terminal.

    Returns:
        0 on success, 1 for an error (reported as ``error:`` and ``hint:`` lines on
        stderr), 2 for a bad command line, 130 when interrupted. With ``--debug`` errors
        propagate with their traceback instead.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed: `reasoner tune` records it in its card
    ctx = Context(stdout=sys.stdout, stderr=sys.stderr, env=os.environ, models=dict(models or {}), stdin=stdin or sys.stdin)
    debug = bool(getattr(args, "debug", False))
    try:
        code: int = args.handler(args, ctx)
        return code
    except KeyboardInterrupt:
        if debug:
            raise
        ctx.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except Exception as exc:
        if debug:
            raise
        leaf = _leaf(exc)
        if isinstance(leaf, KeyboardInterrupt):
            ctx.stderr.write("error: interrupted\n")
            return 130
        _report(ctx.stderr, leaf, args.command)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
