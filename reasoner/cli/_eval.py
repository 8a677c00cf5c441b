"""``reasoner eval`` (also ``python -m reasoner.evals``): score a model on an eval dataset.

Each item's question is one fresh run with the tools and models ``reasoner run`` would
use; progress goes to stderr, one line per item, and the report to stdout (a table, or
JSON with ``--json``; ``--out FILE`` also saves the JSON). Models named on the command
line are loaded before the first item, so no item's latency includes a model load.

``--mode react`` runs the sequential baseline (one call per model turn, ``Engine(mode=
"react")``); ``--mode both`` runs each item in plan mode and then in react mode (so both
see the same machine load) and prints the two reports side by side. ``--dataset
bfcl:CATEGORY`` plans BFCL questions instead (``reasoner/cli/_eval_bfcl.py``).
``--compare A.json [B.json]`` prints saved reports side by side without running
anything; ``--plot DIR`` draws PNGs of the reports run or compared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reasoner._options import CHART_DIR_ENV, Roles, build_registry, engine_from_options, resolve_roles
from reasoner.cli._common import CliError, Command, Context, debug_flag, positive_int, positive_seconds, split_names
from reasoner.cli._options import add_model_options, add_tool_options, engine_options
from reasoner.cli._run import _approve_all, _refuse
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
    data.add_argument("--limit", type=positive_int, metavar="N", help="only the first N items (after --ids and --sample)")
    data.add_argument("--sample", type=positive_int, metavar="N", help="N items drawn at random (see --seed), kept in dataset order")
    data.add_argument("--seed", type=int, default=0, metavar="S", help="the seed of --sample (default: 0)")
    data.add_argument(
        "--mode", choices=("plan", "react", "both"), default="plan",
        help="plan: the planner writes the whole graph (default); react: one tool call per model turn, the sequential "
        "baseline; both: each item in both modes, reported side by side",
    )  # fmt: skip
    add_model_options(parser)
    budget = parser.add_argument_group("budget (per item)")
    budget.add_argument(
        "--max-iterations", type=positive_int, metavar="N",
        help="plans at most: the first and each replan (default: 3); in react mode, turns (one call each; default: 8)",
    )  # fmt: skip
    budget.add_argument("--max-tokens", type=positive_int, metavar="N", help="prompt plus completion tokens over all model calls (default: 32000)")
    budget.add_argument("--timeout", type=positive_seconds, metavar="SECONDS", help="wall time of one item's run (default: 300)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the report as JSON (every item's plan and answer) instead of a table")
    out.add_argument("--out", metavar="FILE", help="also write the JSON report to FILE (--mode both, several BFCL categories: {\"reports\": [...]})")
    out.add_argument("--plot", metavar="DIR", help="write PNGs of the report(s) to DIR: accuracy per BFCL category, latency, plan vs react")
    out.add_argument(
        "--compare", nargs="+", metavar="FILE",
        help="run nothing: print saved reports (from --out) side by side, each against the first of the same dataset; with --plot, draw them all",
    )  # fmt: skip
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
    if args.compare:
        return _compare(args, ctx)
    if args.out and not Path(args.out).expanduser().resolve().parent.is_dir():
        raise CliError(f"--out {args.out!r}: the folder {str(Path(args.out).parent)!r} does not exist", "create it, or pick another path")
    if args.dataset.startswith("bfcl:"):
        from reasoner.cli._eval_bfcl import handle_bfcl

        return handle_bfcl(args, ctx, _load_models)
    from reasoner.evals import Dataset, load_dataset

    dataset = load_dataset(args.dataset)
    try:
        selected = dataset.select(split_names(args.ids) or None)
        sampled = args.sample is not None and args.sample < len(selected)
        if sampled:
            chosen = set(random.Random(args.seed).sample(range(len(selected)), args.sample))
            selected = Dataset(selected.name, selected.source, tuple(item for k, item in enumerate(selected) if k in chosen))
        selected = selected.select(limit=args.limit)
    except UsageError as exc:
        raise CliError(str(exc), f"pick ids from {dataset.source}, or leave out --ids") from exc

    with ExitStack() as stack:
        if not args.chart_dir and not ctx.env.get(CHART_DIR_ENV):
            # an eval's charts are by-products: keep them out of the current folder
            args.chart_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="reasoner-eval-charts-"))
        options = engine_options(args)
        registry = build_registry(options, ctx.env)
        roles = resolve_roles(options, ctx.env, ctx.models)
        reports = _evaluate(args, ctx, selected, registry, roles)
    if sampled:
        reports = [dataclasses.replace(r, sample=args.sample, seed=args.seed) for r in reports]

    payload = reports[0].to_dict() if len(reports) == 1 else {"reports": [r.to_dict() for r in reports]}
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if args.out:
        write_text(args.out, text + "\n")
    if args.json:
        ctx.stdout.write(text + "\n")
    else:
        ctx.stdout.write("\n\n".join(str(r) for r in reports) + "\n")
        if len(reports) == 2:
            from reasoner.evals._compare import compare_reports

            ctx.stdout.write("\nplan mode (a) against react mode (b):\n" + compare_reports(payload["reports"][0], payload["reports"][1]) + "\n")
    ctx.stdout.flush()
    if args.plot:
        plot(args.plot, [r.to_dict() for r in reports], ctx)
    invalid = sum(not row.plan_valid for r in reports for row in r.items)
    if args.require_valid_plans and invalid:
        what = "items" if len(reports) == 1 else "runs (both modes)"
        ctx.stderr.write(f"error: {invalid} of {sum(r.n for r in reports)} {what} have no valid plan\n")
        return 1
    return 0


def write_text(path: str, text: str) -> None:
    """Write a report file; CliError when it cannot be written."""
    try:
        Path(path).expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write the report to {path!r}: {exc.strerror or exc}", "check the path and its permissions") from exc


def plot(folder: str, reports: list[dict[str, Any]], ctx: Context) -> None:
    """Draw the reports' PNGs into ``folder`` and list them on stderr."""
    from reasoner.evals._plots import write_plots

    try:
        paths = write_plots(reports, folder)
    except UsageError as exc:
        raise CliError(str(exc), "pick a folder you can write to") from exc
    ctx.stderr.write("".join(f"wrote {p}\n" for p in paths))
    ctx.stderr.flush()


def _compare(args: argparse.Namespace, ctx: Context) -> int:
    from reasoner.evals._compare import compare_reports, load_reports

    reports: list[dict[str, Any]] = []
    for path in args.compare:
        try:
            reports += load_reports(path)
        except UsageError as exc:
            raise CliError(str(exc), "pass files written by `reasoner eval --out FILE`") from exc
    first: dict[str, dict[str, Any]] = {}
    blocks = []
    for report in reports:  # each report against the first one of the same dataset
        key = str(report.get("dataset"))
        if key in first:
            blocks.append(compare_reports(first[key], report))
        else:
            first[key] = report
    if not blocks and not args.plot:
        raise CliError(
            f"--compare needs two reports of one dataset; {', '.join(args.compare)} hold {len(reports)} of {', '.join(first)}",
            "pass two report files of the same dataset (or one written by --mode both)",
        )
    ctx.stdout.write("\n\n".join(blocks) + ("\n" if blocks else ""))
    ctx.stdout.flush()
    if args.plot:
        plot(args.plot, reports, ctx)
    return 0


def _engine(args: argparse.Namespace, registry: ToolRegistry, roles: Roles, models: dict[str, list[str | Model]], mode: Literal["plan", "react"]) -> Engine:
    from reasoner._react import REACT_TURNS

    options = dataclasses.replace(engine_options(args, mode=mode), max_iterations=args.max_iterations or (REACT_TURNS if mode == "react" else None))
    loaded = Roles(models["planner"], models["joiner"], models["answerer"], roles.catalog)
    return engine_from_options(options, {}, approve=_approve_all if args.yes else _refuse, registry=registry, roles=loaded)


def _evaluate(args: argparse.Namespace, ctx: Context, selected: Dataset, registry: ToolRegistry, roles: Roles) -> list[EvalReport]:
    import anyio

    models = _load_models(roles, ctx.stderr)
    modes: list[Literal["plan", "react"]] = ["plan", "react"] if args.mode == "both" else [args.mode]
    engines = [_engine(args, registry, roles, models, mode) for mode in modes]
    runs = len(selected) * len(modes)
    ctx.stderr.write(f"evaluating {len(selected)} item(s) of {selected.source} in {' and '.join(modes)} mode\n")
    ctx.stderr.flush()
    return anyio.run(_run, engines, selected, args.concurrency, _progress(ctx.stderr, runs))


async def _run(engines: list[Engine], selected: Dataset, concurrency: int, on_item: Callable[[ItemResult], None]) -> list[EvalReport]:
    """One report per engine; with several engines, item by item (each item in every mode
    before the next item), so that the modes see the same machine load."""
    from reasoner.evals import run_eval

    if len(engines) == 1:
        return [await run_eval(engines[0], selected, concurrency=concurrency, on_item=on_item)]
    parts: list[list[EvalReport]] = [[] for _ in engines]
    for item in selected:
        for k, engine in enumerate(engines):
            parts[k].append(await run_eval(engine, [item], on_item=on_item, dataset=selected.name))
    return [
        dataclasses.replace(
            reports[0], items=tuple(row for r in reports for row in r.items), wall_s=sum(r.wall_s for r in reports)
        )
        for reports in parts
    ]


EVAL = Command(
    name="eval",
    help="score a model on an eval dataset: plan validity, tool selection, argument and answer accuracy, latency",
    description="Run every question of an eval dataset (default: the bundled demo set) through the reasoning loop, "
    "one fresh run each, and report plan validity, tool-selection F1, argument accuracy, answer accuracy, "
    "median and p90 latency and tokens. Progress goes to stderr, the report to stdout. --mode react runs the "
    "one-call-per-turn baseline (--mode both: side by side); --dataset bfcl:CATEGORY plans Berkeley Function Calling "
    "Leaderboard questions (simple, multiple, parallel, parallel_multiple, live_*, irrelevance; several comma-separated, "
    "or bfcl:all) and scores them with BFCL's AST checker; --compare and --plot read and draw saved reports.",
    configure=configure,
    handler=handle,
)
