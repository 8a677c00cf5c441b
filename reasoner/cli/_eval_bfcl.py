"""``reasoner eval --dataset bfcl:CATEGORY[,CATEGORY...]``: plan BFCL questions, score them.

Each category is one report (``reasoner.evals._bfcl_run``); ``bfcl:all`` is every AST
category plus irrelevance. ``--sample N --seed S`` draws N items per category, ``--limit``
keeps the first ones. Only the planner role is used (plans are scored, nothing runs),
and only ``--mode plan``: a BFCL question is one turn with its calls known up front.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reasoner._options import Roles, engine_from_options, resolve_roles
from reasoner.cli._common import CliError, Context
from reasoner.cli._options import engine_options
from reasoner.errors import UsageError

if TYPE_CHECKING:
    from reasoner._engine import Engine
    from reasoner.evals._bfcl_run import BfclReport, BfclRow
    from reasoner.models import Model
    from reasoner.tools import ToolRegistry

__all__ = ["ALL", "bfcl_categories", "handle_bfcl"]

ALL = ("simple", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "irrelevance")


def bfcl_categories(spec: str) -> list[str]:
    """The categories of ``bfcl:a,b`` (``bfcl:all``: :data:`ALL`); CliError for an unknown one."""
    from reasoner.evals._bfcl import BFCL_CATEGORIES

    names = [name.strip() for name in spec.removeprefix("bfcl:").split(",") if name.strip()]
    if names == ["all"]:
        return list(ALL)
    unknown = [name for name in names if name not in BFCL_CATEGORIES]
    if unknown or not names:
        raise CliError(
            f"--dataset {spec!r}: unknown BFCL category {', '.join(map(repr, unknown)) or '(none given)'}",
            f"use bfcl:all or bfcl: with one or more of {', '.join(BFCL_CATEGORIES)} (comma-separated)",
        )
    return list(dict.fromkeys(names))


def _progress(stderr: Any, category: str, total: int) -> Callable[[BfclRow], None]:
    done = 0

    def show(row: BfclRow) -> None:
        nonlocal done
        done += 1
        calls = ", ".join(next(iter(c)) for c in row.calls) or "(no call)"
        why = f"  {row.error_type}: {' '.join(row.error.split())[:110]}" if row.error_type else ""
        stderr.write(f"[{category} {done:>{len(str(total))}}/{total}] {row.id}  {row.latency_s:6.2f} s  {'ok ' if row.valid else 'no '} {calls[:60]}{why}\n")
        stderr.flush()

    return show


def handle_bfcl(args: argparse.Namespace, ctx: Context, load_models: Callable[[Roles, Any], dict[str, list[str | Model]]]) -> int:
    """Run the BFCL categories of ``args.dataset``; print (or save, plot) one report each."""
    import anyio

    from reasoner.evals._bfcl import load_bfcl
    from reasoner.evals._bfcl_run import run_bfcl

    if args.mode != "plan":
        raise CliError(f"--mode {args.mode} does not apply to BFCL", "BFCL scores the calls planned for one turn: leave out --mode")
    if args.ids:
        raise CliError("--ids does not apply to BFCL datasets", "use --sample N --seed S or --limit N")
    categories = bfcl_categories(args.dataset)
    try:
        sets = [load_bfcl(c).select(limit=args.limit, sample=args.sample, seed=args.seed) for c in categories]
    except UsageError as exc:
        raise CliError(str(exc), "pip install --no-deps bfcl-eval") from exc
    options = dataclasses.replace(engine_options(args), max_iterations=None)  # one turn: BFCL scores the first plan
    roles = resolve_roles(options, ctx.env, ctx.models)
    planner = load_models(Roles(roles.planner, roles.planner, roles.planner, roles.catalog), ctx.stderr)["planner"]
    loaded = Roles(planner, planner, planner, roles.catalog)

    def make_engine(registry: ToolRegistry) -> Engine:
        return engine_from_options(options, ctx.env, registry=registry, roles=loaded)

    from reasoner.cli._eval import plot, write_text

    reports: list[BfclReport] = []
    for data in sets:
        ctx.stderr.write(f"planning {len(data)} of {data.total} item(s) of bfcl:{data.category} (bfcl-eval {data.version})\n")
        ctx.stderr.flush()
        show = _progress(ctx.stderr, data.category, len(data))
        reports.append(anyio.run(lambda: run_bfcl(make_engine, data, on_item=show)))  # noqa: B023 - called at once
        dicts = [r.to_dict() for r in reports]
        payload: dict[str, Any] = dicts[0] if len(sets) == 1 else {"reports": dicts}
        text = json.dumps(payload, indent=2, ensure_ascii=False)
        if args.out:  # after each category: a long run that is stopped keeps the categories it finished
            write_text(args.out, text + "\n")
    if args.json:
        ctx.stdout.write(text + "\n")
    else:
        ctx.stdout.write("\n\n".join(str(r) for r in reports) + "\n")
        if len(reports) > 1:
            ctx.stdout.write("\n" + _overview(reports) + "\n")
    ctx.stdout.flush()
    if args.plot:
        plot(args.plot, dicts, ctx)
    return 0


def _overview(reports: list[BfclReport]) -> str:
    from reasoner.evals._report import _seconds, _table

    rows = []
    for r in reports:
        s = r.summary()
        rows.append((r.data.category, f"{100 * r.accuracy:.1f}%", f"{s['correct']}/{r.n}", _seconds(s["latency_median_s"]), _seconds(s["latency_p90_s"])))
    return "\n".join(_table(("category", "accuracy", "correct", "latency median", "p90"), rows))
