"""``reasoner feedback``: mark a finished run good or bad, or correct its answer or plan;
export what people said as training examples.

::

    reasoner feedback 3f2a9c01b7de --good
    reasoner feedback 3f2a9c01b7de --answer "MSFT closed at 413.62."
    reasoner feedback 3f2a9c01b7de --plan @better-plan.json
    reasoner feedback 3f2a9c01b7de                 # on a terminal: shows the run and asks
    reasoner feedback --export examples.jsonl      # every run with feedback, as examples

The feedback is appended to the run's trace in the runs folder (``$REASONER_RUNS_DIR``,
default ``<reasoner home>/runs``); ``reasoner tune --from-feedback`` trains on it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reasoner.cli._common import CliError, Command, Context, debug_flag

__all__ = ["FEEDBACK"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run (reasoner run prints its id in the summary)")
    rating = parser.add_mutually_exclusive_group()
    rating.add_argument("--good", action="store_const", const="good", dest="rating", help="the run is right as it is")
    rating.add_argument("--bad", action="store_const", const="bad", dest="rating", help="the run is wrong")
    parser.add_argument("--answer", metavar="TEXT", help="the correct answer")
    parser.add_argument("--plan", metavar="JSON|@FILE", help='the plan that should have run, {"nodes": [...]}, or @FILE holding it')
    parser.add_argument("--note", metavar="TEXT", help="a remark kept with the feedback")
    parser.add_argument("--export", metavar="FILE", help="write the examples every run with feedback makes (JSONL, the format reasoner tune --data reads)")
    parser.add_argument("--tools", default="demo", metavar="REF", help='the registry exported examples name: "demo" or module:attr (default: demo)')
    parser.add_argument("--runs-dir", metavar="DIR", help="the runs folder (default: $REASONER_RUNS_DIR or <reasoner home>/runs)")
    debug_flag(parser, top=False)


def _plan(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"--plan {text!r}: cannot read it: {exc.strerror or exc}", "check the path") from exc
    try:
        plan = json.loads(text)
    except ValueError as exc:
        raise CliError(f"--plan is not JSON: {exc}", 'give {"nodes": [...]} or @FILE') from exc
    if not isinstance(plan, dict):
        raise CliError(f"--plan must be a JSON object, got {type(plan).__name__}", 'give {"nodes": [...]} or @FILE')
    return plan


def _show(ctx: Context, events: list[Any]) -> None:
    from reasoner.cli._state import RunState, call_text

    state = RunState()
    for event in events:
        state.apply(event)
    ctx.stderr.write(f"question: {state.query}\n")
    for node in state.nodes.values():
        ctx.stderr.write(f"  #{node.id} {call_text(node.tool, node.args)} -> {node.status}\n")
    ctx.stderr.write(f"answer:   {state.answer_display() or '(none)'}\n")


def handle(args: argparse.Namespace, ctx: Context) -> int:
    from reasoner._feedback import Feedback, append_feedback, feedback_examples, find_run, runs_dir
    from reasoner.cli._ask import Prompter, ask_feedback
    from reasoner.errors import UsageError

    folder = Path(args.runs_dir).expanduser() if args.runs_dir else runs_dir(ctx.env)
    if args.export:
        if args.run_id or args.rating or args.answer or args.plan or args.note:
            raise CliError("--export writes every run's feedback; it takes no RUN_ID or feedback options", "run them as two commands")
        examples, none = feedback_examples(folder, tools=args.tools)
        Path(args.export).expanduser().write_text("".join(e.to_line() + "\n" for e in examples), encoding="utf-8")
        ctx.stderr.write(f"wrote {len(examples)} example(s) to {args.export} from the runs with feedback in {folder}")
        ctx.stderr.write(f" ({len(none)} made none: {', '.join(none)})\n" if none else "\n")
        return 0
    if not args.run_id:
        raise CliError("give the RUN_ID to give feedback on, or --export FILE", "reasoner run prints the id in its summary")
    path, events = find_run(args.run_id, folder)
    if args.rating or args.answer or args.plan or args.note:
        try:
            feedback = Feedback(
                rating=args.rating, answer=args.answer, plan=_plan(args.plan) if args.plan else None, note=args.note
            )
        except UsageError as exc:
            raise CliError(str(exc), "see reasoner feedback --help") from exc
    elif _interactive(ctx):
        _show(ctx, events)
        asked = ask_feedback(Prompter(ctx.stdin, ctx.stderr, ctx.env), lambda plan: Feedback(plan=plan))
        if asked is None:
            ctx.stderr.write("no feedback given\n")
            return 0
        feedback = asked
    else:
        raise CliError("say what to record: --good, --bad, --answer TEXT, --plan JSON or --note TEXT", "or run it on a terminal to be asked")
    event = append_feedback(path, events, feedback)
    ctx.stdout.write(json.dumps({"run_id": args.run_id, "feedback": event.data}, ensure_ascii=False) + "\n")
    return 0


def _interactive(ctx: Context) -> bool:
    try:
        return bool(ctx.stdin.isatty())
    except (AttributeError, ValueError):
        return False


FEEDBACK = Command(
    name="feedback",
    help="mark a finished run good or bad, or correct its answer or plan (kept with its trace)",
    description="Record what a person says about a finished run: good or bad, the correct answer, the plan that should have run. "
    "It is appended to the run's trace in the runs folder; --export (or reasoner tune --from-feedback) turns it into training examples.",
    configure=configure,
    handler=handle,
)
