"""``reasoner eval`` (also ``python -m reasoner.evals``): score a model on an eval dataset.

Each item's question is one fresh run with the tools and models ``reasoner run`` would
use; progress goes to stderr, one line per item, and the report to stdout (a table, or
JSON with ``--json``; ``--out FILE`` also saves the JSON). Models named on the command
line are loaded before the first item, so no item's latency includes a model load.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner._cli_common import CliError, Command, Context, debug_flag, split_names
from reasoner._cli_load import CHART_DIR_ENV, add_tool_options, build_registry
from reasoner._cli_roles import Roles, add_model_options, resolve_roles
from reasoner._cli_common import positive_int, positive_seconds
from reasoner._cli_run import _approve_all, _refuse
from reasoner.errors import UsageError

if TYPE_CHECKING:
    from reasoner._engine import Engine
    from reasoner.evals import Dataset, EvalReport, ItemResult
    from reasoner.models import Model
    from reasoner.tools import ToolRegistry

__all__ = ["EVAL"]


def configure(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("dataset")
    data.add_argument("--dataset", default="demo", metavar="NAME|PATH", help="a bundled dataset (demo) or a JSONL file (default: demo)")
    data.add_argument("--ids", action="append", metavar="ID,...", help="only these items (comma-separated, repeatable), in dataset order")
    data.add_argument("--limit", type=positive_int, metavar="N", help="only the first N items (after --ids)")
    add_model_options(parser)
    budget = parser.add_argument_group("budget (per item)")
    budget.add_argument("--max-iterations", type=positive_int, metavar="N", help="plans at most: the first and each replan (default: 3)")
    budget.add_argument("--max-tokens", type=positive_int, metavar="N", help="prompt plus completion tokens over all model calls (default: 32000)")
    budget.add_argument("--timeout", type=positive_seconds, metavar="SECONDS", help="wall time of one item's run (default: 300)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the report as JSON (every item's plan and answer) instead of a table")
    out.add_argument("--out", metavar="FILE", help="also write the JSON report to FILE")
    out.add_argument("--concurrency", type=positive_int, default=1, metavar="N", help="items run at once (default: 1; more skews latency)")
    out.add_argument("--require-valid-plans", action="store_true", help="exit with status 1 unless every item's plan is valid")
    out.add_argument("-y", "--yes", action="store_true", help="approve every call to a tool that requires approval")
    add_tool_options(parser)
    debug_flag(parser, top=False)


def _load_models(roles: Roles, stderr: Any) -> dict[str, list[str | Model]]:
    """Each role's models, names loaded now (once per name), so that loading is not timed as part of an item."""
    from reasoner.models import load_model

    loader: Callable[[str], Model] = roles.catalog.model if roles.catalog is not None else load_model
    loaded: dict[str, Model] = {}
    out: dict[str, list[str | Model]] = {}
    for role in ("planner", "joiner", "answerer"):
        out[role] = []
        for spec in getattr(roles, role):
            if isinstance(spec, str):
                if spec not in loaded:
                    start = time.perf_counter()
                    loaded[spec] = loader(spec)
                    stderr.write(f"loaded {spec} in {time.perf_counter() - start:.1f} s\n")
                    stderr.flush()
                spec = loaded[spec]
            out[role].append(spec)
    return out


def _progress(stderr: Any, total: int) -> Callable[[ItemResult], None]:
    done = 0

    def show(row: ItemResult) -> None:
        nonlocal done
        done += 1
        args = "-" if row.argument_accuracy is None else f"{row.argument_accuracy:.2f}"
        line = (
            f"[{done:>{len(str(total))}}/{total}] {row.id}  {row.latency_s:6.2f} s  plan {'valid' if row.plan_valid else 'INVALID'}"
            f"  tools {row.tool_selection:.2f}  args {args}  answer {row.answer_accuracy:.2f}"
        )
        if row.error:
            line += f"  error {row.error['type']}: {' '.join(row.error['message'].split())[:120]}"
        stderr.write(line + "\n")
        stderr.flush()

    return show


def handle(args: argparse.Namespace, ctx: Context) -> int:
    from reasoner.evals import load_dataset

    dataset = load_dataset(args.dataset)
    try:
        selected = dataset.select(split_names(args.ids) or None, args.limit)
    except UsageError as exc:
        raise CliError(str(exc), f"pick ids from {dataset.source}, or leave out --ids") from exc
    if args.out and not Path(args.out).expanduser().resolve().parent.is_dir():
        raise CliError(f"--out {args.out!r}: the folder {str(Path(args.out).parent)!r} does not exist", "create it, or pick another path")

    with ExitStack() as stack:
        if not args.chart_dir and not ctx.env.get(CHART_DIR_ENV):
            # an eval's charts are by-products: keep them out of the current folder
            args.chart_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="reasoner-eval-charts-"))
        registry = build_registry(args, ctx.env)
        roles = resolve_roles(args, ctx.env, ctx.models)
        report = _evaluate(args, ctx, selected, registry, roles)

    text = report.to_json()
    if args.out:
        try:
            Path(args.out).expanduser().write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write the report to {args.out!r}: {exc.strerror or exc}", "check the path and its permissions") from exc
    ctx.stdout.write((text if args.json else str(report)) + "\n")
    ctx.stdout.flush()
    if args.require_valid_plans and report.plan_validity < 1.0:
        ctx.stderr.write(f"error: {report.n - sum(r.plan_valid for r in report.items)} of {report.n} items have no valid plan\n")
        return 1
    return 0


def _evaluate(args: argparse.Namespace, ctx: Context, selected: Dataset, registry: ToolRegistry, roles: Roles) -> EvalReport:
    import anyio

    from reasoner._engine import Engine
    from reasoner._roles import Budget

    limits = {"iterations": args.max_iterations, "tokens": args.max_tokens, "seconds": args.timeout}
    models = _load_models(roles, ctx.stderr)
    engine = Engine(
        tools=registry,
        planner=models["planner"],
        joiner=models["joiner"],
        answerer=models["answerer"],
        catalog=roles.catalog,
        budget=Budget(**{k: v for k, v in limits.items() if v is not None}),
        approve=_approve_all if args.yes else _refuse,
    )
    ctx.stderr.write(f"evaluating {len(selected)} item(s) of {selected.source}\n")
    ctx.stderr.flush()
    return anyio.run(_run, engine, selected, args.concurrency, _progress(ctx.stderr, len(selected)))


async def _run(engine: Engine, selected: Dataset, concurrency: int, on_item: Callable[[ItemResult], None]) -> EvalReport:
    from reasoner.evals import run_eval

    return await run_eval(engine, selected, concurrency=concurrency, on_item=on_item)


EVAL = Command(
    name="eval",
    help="score a model on an eval dataset: plan validity, tool selection, argument and answer accuracy, latency",
    description="Run every question of an eval dataset (default: the bundled demo set) through the reasoning loop, "
    "one fresh run each, and report plan validity, tool-selection F1, argument accuracy, answer accuracy, "
    "median and p90 latency and tokens. Progress goes to stderr, the report to stdout.",
    configure=configure,
    handler=handle,
)
