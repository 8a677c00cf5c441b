"""``reasoner run "question"``: one reasoning run shown live (or as plain lines, or JSONL).

On a terminal (stdin is one), a person is asked: before each call of a tool that requires
approval (approve, deny with a reason, or edit the arguments), with ``--review`` about the
whole plan before anything runs, and after the answer for feedback. Elsewhere such calls
need ``--yes``. Each run's trace is kept in the runs folder (``reasoner feedback RUN_ID``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner._load import load_output
from reasoner._options import build_registry, engine_from_options
from reasoner.cli._ask import Prompter, TerminalApprover, ask_feedback, review_plan
from reasoner.cli._common import CliError, Command, Context, debug_flag, positive_int, positive_seconds
from reasoner.cli._options import add_model_options, add_tool_options, engine_options
from reasoner.errors import ToolError

if TYPE_CHECKING:
    from reasoner.cli._view import View
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
    out.add_argument("--no-save", action="store_true", help="do not keep the run's trace in the runs folder ($REASONER_RUNS_DIR, default <reasoner home>/runs)")
    people = parser.add_argument_group("people in the loop (asked on a terminal)")
    people.add_argument("-y", "--yes", action="store_true", help="approve every call to a tool that requires approval, without asking")
    people.add_argument("--review", action="store_true", help="show the plan before anything runs, to run, edit or cancel it")
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
    from reasoner.cli._view import JsonView, LiveView, PlainView

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
    raise ToolError(
        f"tool {spec.name!r} requires approval: rerun with --yes (-y) to approve its calls, or on a terminal to be asked",
        tool=spec.name,
        node_id=node.id,
    )


async def _consume(stream: AsyncIterator[Event], view: View, events: list[Event]) -> None:
    async with aclosing(stream):  # type: ignore[type-var]
        async for event in stream:
            events.append(event)
            view.handle(event)


def handle(args: argparse.Namespace, ctx: Context) -> int:
    question = _question(args.question)
    if args.trace and not Path(args.trace).expanduser().resolve().parent.is_dir():
        raise CliError(f"--trace {args.trace!r}: the folder {str(Path(args.trace).parent)!r} does not exist", "create it, or pick another path")
    prompter = Prompter(ctx.stdin, ctx.stderr, ctx.env) if _is_tty(ctx.stdin) else None
    if args.review and prompter is None:
        raise CliError("--review asks on a terminal, and stdin is not one", "run it on a terminal, or drop --review")
    options = engine_options(args)
    registry = build_registry(options, ctx.env)
    output = load_output(args.output) if args.output else None

    import anyio

    from reasoner._feedback import append_feedback, runs_dir, save_run
    from reasoner.events import save_trace

    engine = engine_from_options(options, ctx.env, ctx.models, approve=_approve_all if args.yes else _refuse, registry=registry)

    def explain_plan(plan: dict[str, Any]) -> Any:
        return anyio.run(partial(engine.explain, plan=plan))

    given = None
    if args.review and prompter is not None:
        prompter.say("planning (nothing runs before you say so)...")
        given = review_plan(prompter, anyio.run(engine.explain, question), explain_plan)
        if given is None:
            ctx.stderr.write("cancelled: nothing ran\n")
            return 1

    events: list[Event] = []
    view = _view(args, ctx)
    approve = TerminalApprover(prompter, view).approve if prompter is not None and not args.yes else None
    failure: BaseException | None = None
    try:
        anyio.run(_consume, engine.stream(question, output=output, plan=given, approve=approve), view, events)
    except BaseException as exc:  # noqa: BLE001 - re-raised below, once the trace is saved
        failure = exc
    finally:
        view.close(failure is None)
    saved = None
    if events and not args.no_save:
        try:
            saved = save_run(events, runs_dir(ctx.env))
        except OSError as exc:
            ctx.stderr.write(f"warning: cannot keep the run in {runs_dir(ctx.env)}: {exc.strerror or exc}\n")
    if args.trace:
        try:
            save_trace(events, args.trace)
        except OSError as exc:
            if failure is None:
                raise CliError(f"cannot write the trace to {args.trace!r}: {exc.strerror or exc}", "check the path and its permissions") from exc
            ctx.stderr.write(f"warning: cannot write the trace to {args.trace!r}: {exc.strerror or exc}\n")
    if failure is not None:
        raise failure
    if prompter is not None and saved is not None and not args.json:
        feedback = ask_feedback(prompter, explain_plan)
        if feedback is not None:
            append_feedback(saved, events, feedback)
            prompter.say(f"feedback kept with run {events[0].run_id} (reasoner tune --from-feedback learns from it)")
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
