"""``reasoner run "question"``: one reasoning run shown live (or as plain lines, or JSONL)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner._cli_common import CliError, Command, Context, debug_flag, positive_int, positive_seconds
from reasoner._cli_load import add_tool_options, build_registry, load_output
from reasoner._cli_roles import add_model_options, resolve_roles
from reasoner.errors import ToolError

if TYPE_CHECKING:
    from reasoner._cli_view import View
    from reasoner.events import Event

__all__ = ["RUN"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", help='the question, e.g. "Compare MSFT and AAPL closing prices"; - reads it from stdin')
    add_model_options(parser)
    budget = parser.add_argument_group("budget")
    budget.add_argument("--max-iterations", type=positive_int, metavar="N", help="plans at most: the first and each replan (default: 3)")
    budget.add_argument("--max-tokens", type=positive_int, metavar="N", help="prompt plus completion tokens over all model calls (default: 32000)")
    budget.add_argument("--timeout", type=positive_seconds, metavar="SECONDS", help="wall time of the whole run (default: 300)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON event per line instead of the live view")
    out.add_argument("--plain", action="store_true", help="print plain lines even on a terminal")
    out.add_argument(
        "--output",
        metavar="MODULE:MODEL|FILE.json",
        help="make the answer structured: a pydantic model (module:Model) or a JSON Schema file",
    )
    out.add_argument("--trace", metavar="FILE", help="save every event of the run to FILE as JSON lines (replayable)")
    out.add_argument("-y", "--yes", action="store_true", help="approve every call to a tool that requires approval")
    add_tool_options(parser)
    debug_flag(parser, top=False)


def _question(text: str) -> str:
    if text == "-":
        text = sys.stdin.read()
    text = text.strip()
    if not text:
        raise CliError("the question is empty", 'pass it as an argument (reasoner run "your question") or on stdin with -')
    return text


def _view(args: argparse.Namespace, ctx: Context) -> View:
    from reasoner._cli_view import JsonView, LiveView, PlainView

    if args.json:
        return JsonView(ctx.stdout)
    if not args.plain and _is_tty(ctx.stdout) and ctx.env.get("TERM", "").lower() not in ("dumb", "unknown"):
        from rich.console import Console

        return LiveView(Console(file=ctx.stdout, force_terminal=True)).start()
    return PlainView(ctx.stdout)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _approve_all(node: Any, spec: Any) -> bool:
    return True


def _refuse(node: Any, spec: Any) -> bool:
    raise ToolError(f"tool {spec.name!r} requires approval: rerun with --yes (-y) to approve its calls", tool=spec.name, node_id=node.id)


async def _consume(stream: AsyncIterator[Event], view: View, events: list[Event]) -> None:
    async with aclosing(stream):  # type: ignore[type-var]
        async for event in stream:
            events.append(event)
            view.handle(event)


def handle(args: argparse.Namespace, ctx: Context) -> int:
    question = _question(args.question)
    if args.trace and not Path(args.trace).expanduser().resolve().parent.is_dir():
        raise CliError(f"--trace {args.trace!r}: the folder {str(Path(args.trace).parent)!r} does not exist", "create it, or pick another path")
    registry = build_registry(args, ctx.env)
    output = load_output(args.output) if args.output else None

    import anyio

    from reasoner._engine import Engine
    from reasoner._roles import Budget
    from reasoner.events import save_trace

    limits = {"iterations": args.max_iterations, "tokens": args.max_tokens, "seconds": args.timeout}
    budget = Budget(**{k: v for k, v in limits.items() if v is not None})
    roles = resolve_roles(args, ctx.env, ctx.models)
    engine = Engine(
        tools=registry,
        planner=roles.planner,
        joiner=roles.joiner,
        answerer=roles.answerer,
        catalog=roles.catalog,
        budget=budget,
        approve=_approve_all if args.yes else _refuse,
    )

    events: list[Event] = []
    view = _view(args, ctx)
    failure: BaseException | None = None
    try:
        anyio.run(_consume, engine.stream(question, output=output), view, events)
    except BaseException as exc:  # noqa: BLE001 - re-raised below, once the trace is saved
        failure = exc
    finally:
        view.close(failure is None)
    if args.trace:
        try:
            save_trace(events, args.trace)
        except OSError as exc:
            if failure is None:
                raise CliError(f"cannot write the trace to {args.trace!r}: {exc.strerror or exc}", "check the path and its permissions") from exc
            ctx.stderr.write(f"warning: cannot write the trace to {args.trace!r}: {exc.strerror or exc}\n")
    if failure is not None:
        raise failure
    return 0


RUN = Command(
    name="run",
    help="answer a question: plan tool calls, run them in parallel, stream the answer",
    description="Answer a question with the reasoning loop: the planner writes a plan of tool calls, "
    "the calls run in parallel where the plan allows, the joiner decides to finish or replan, "
    "and the answerer streams the answer. On a terminal the run is shown live.",
    configure=configure,
    handler=handle,
)
