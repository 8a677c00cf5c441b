"""``reasoner tune``: LoRA fine-tuning of a local model for the planner, joiner and answerer.

::

    reasoner tune --data examples.jsonl --out my-adapter          # your own examples
    reasoner tune --traces runs/*.jsonl --out my-adapter          # saved traces of finished runs
    reasoner tune --from-feedback --out my-adapter                # runs people marked or corrected
    reasoner tune --synthesize --seeds seeds.jsonl --out a        # seeds expanded offline
    reasoner tune --synthesize --teacher big --questions q.txt    # a catalog model teaches
    reasoner tune --recipe embedded --out DIR                      # the shipped adapter's recipe

Every example is checked against its registry (and synthesized ones executed) before
training. Progress (step, loss, tokens/s, ETA) goes to stderr; the held-out scores,
before and after, to stdout; the adapter and its card to ``--out``.
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.cli._common import CliError, Command, Context, debug_flag, positive_int

if TYPE_CHECKING:
    from reasoner.evals import ItemResult
    from reasoner.models._tune import Progress
    from reasoner.planner._examples import TuneExample

__all__ = ["TUNE"]


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data (any mix)")
    data.add_argument("--data", action="append", metavar="FILE", help="an examples JSONL file (repeatable)")
    data.add_argument("--traces", action="append", metavar="FILE", help="a saved trace (reasoner run --save-trace) of a finished run (repeatable)")
    data.add_argument(
        "--from-feedback", nargs="?", const="", metavar="DIR",
        help="the runs people gave feedback on (reasoner feedback, or the prompt after reasoner run) in DIR (default: the runs folder)",
    )  # fmt: skip
    data.add_argument("--synthesize", action="store_true", help="generate examples: from --seeds offline, or with --teacher")
    data.add_argument("--seeds", metavar="FILE", help="seed templates (JSONL) to expand over the tools' values and the demo data")
    data.add_argument("--per-seed", type=positive_int, metavar="N", help="fillings per seed (default: 10)")
    data.add_argument("--teacher", metavar="MODEL", help="a catalog model that plans, joins and answers --questions")
    data.add_argument("--questions", metavar="FILE|N", help="questions for --teacher, one per line; or N: the teacher writes N")
    data.add_argument("--tools", default="demo", metavar="REF", help='the registry synthesized and traced examples use: "demo" or module:attr (default: demo)')
    data.add_argument("--recipe", choices=["embedded"], help="a built-in recipe: its seeds, data and settings (flags override)")
    data.add_argument("--save-data", metavar="FILE", help="also write the examples used (JSONL)")
    train = parser.add_argument_group("training")
    train.add_argument("--base", metavar="MODEL", help="the model to tune (default: smollm2-135m-base, the untuned embedded model)")
    train.add_argument("--out", required=True, metavar="DIR", help="the adapter folder to write")
    train.add_argument("--epochs", type=float, metavar="N")
    train.add_argument("--lr", type=float, metavar="RATE", help="learning rate")
    train.add_argument("--rank", type=positive_int, metavar="R", help="LoRA rank")
    train.add_argument("--batch-tokens", type=positive_int, metavar="N", help="tokens per step (a shared prompt prefix counts once)")
    train.add_argument("--dtype", choices=["auto", "bfloat16", "float32"], help="auto: bfloat16 where the CPU or GPU supports it")
    train.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    train.add_argument("--seed", type=int, metavar="N", help="fixes the data split, order and initialization (default: 0)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    train.add_argument("--max-steps", type=positive_int, metavar="N", help="stop after N steps (the checkpoint stays for --resume)")
    score = parser.add_argument_group("held-out scoring")
    score.add_argument("--holdout", type=_fraction, metavar="FRACTION", help="share of examples held out and scored before and after (default: 0.1)")
    score.add_argument("--eval-limit", type=positive_int, metavar="N", help="score at most N held-out examples (default: 24)")
    debug_flag(parser, top=False)


def _recipe(args: argparse.Namespace) -> dict[str, Any]:
    if args.recipe != "embedded":
        return {}
    from reasoner._tune_recipe import EMBEDDED

    return dict(EMBEDDED)


def _examples(args: argparse.Namespace, ctx: Context, recipe: dict[str, Any]) -> list[TuneExample]:
    import anyio

    from reasoner._tune_data import (
        complete,
        demo_pools,
        examples_from_trace,
        expand_seeds,
        load_seeds,
        resolve_registry,
        vary_registries,
    )
    from reasoner.events import load_trace
    from reasoner.planner._examples import load_examples

    out: list[TuneExample] = []
    for file in args.data or ():
        out += load_examples(file)
    for file in args.traces or ():
        try:
            events = load_trace(file)
        except (OSError, ValueError) as exc:
            raise CliError(f"--traces {file!r}: {exc}", "pass a trace saved with reasoner run --save-trace") from exc
        example = examples_from_trace(events, tools=args.tools)
        if example is None:
            ctx.stderr.write(f"skipped {file}: the run did not finish with an answer (or had more than two plans)\n")
        else:
            out.append(example)
    if args.from_feedback is not None:
        from reasoner._feedback import feedback_examples, runs_dir

        folder = Path(args.from_feedback).expanduser() if args.from_feedback else runs_dir(ctx.env)
        made, none = feedback_examples(folder, tools=args.tools)
        ctx.stderr.write(f"{len(made)} example(s) from feedback in {folder}" + (f"; {len(none)} run(s) with feedback made none\n" if none else "\n"))
        out += made
    seeds: list[dict[str, Any]] = []
    if args.synthesize or args.recipe:
        if args.seeds:
            seeds = load_seeds(args.seeds)
        elif args.recipe:
            from reasoner._tune_recipe import SEEDS

            seeds = SEEDS
    if seeds:
        registry = resolve_registry(args.tools)
        per_seed = args.per_seed or int(recipe.get("per_seed", 10))
        raws = expand_seeds(seeds, registry, per_seed=per_seed, seed=int(recipe.get("seed", 0)), pools=demo_pools() if args.tools == "demo" else None)

        registries = {args.tools: registry}

        async def run_all() -> list[TuneExample | None]:
            made = []
            for raw in raws:
                ref = str(raw.get("tools", args.tools))
                if ref not in registries:
                    registries[ref] = resolve_registry(ref)
                made.append(await complete(raw, registries[ref]))
            return made

        made = [e for e in anyio.run(run_all) if e is not None]
        ctx.stderr.write(f"synthesized {len(made)} examples from {len(seeds)} seeds ({len(raws) - len(made)} dropped: invalid plan, failed call or failed check)\n")
        if recipe.get("vary"):
            made = vary_registries(made, **recipe["vary"], seed=int(recipe.get("seed", 0)))
        out += made
    if args.synthesize and args.teacher:
        from reasoner._tune_teacher import teach

        questions = _questions(args.questions)
        made = anyio.run(lambda: teach(args.teacher, questions, resolve_registry(args.tools), tools=args.tools, catalog_env=ctx.env))
        asked = questions if isinstance(questions, int) else len(questions)
        ctx.stderr.write(f"the teacher {args.teacher} answered {len(made)} of {asked} questions with valid, executed plans\n")
        out += made
    elif args.synthesize and not seeds:
        raise CliError("--synthesize needs --seeds FILE or --teacher MODEL --questions FILE", "see reasoner tune --help")
    if not out:
        raise CliError("no examples: give --data, --traces, --from-feedback, --synthesize or --recipe", "see reasoner tune --help")
    return out


def _questions(path: str | None) -> list[str] | int:
    if not path:
        raise CliError("--teacher needs --questions FILE (one question per line) or N", "write the questions, or let the teacher write N")
    if path.isdigit():
        return int(path)
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read --questions {path!r}: {exc.strerror or exc}", "check the path") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _progress(stream: Any) -> Any:
    tty = bool(getattr(stream, "isatty", lambda: False)())

    def show(p: Progress) -> None:
        width = 24
        filled = int(width * p.step / max(1, p.steps))
        eta = time.strftime("%H:%M:%S", time.gmtime(p.eta_s))
        line = f"[{'#' * filled}{'-' * (width - filled)}] step {p.step}/{p.steps}  loss {p.loss:.3f}  {p.tokens_per_s:.0f} tok/s  ETA {eta}"
        stream.write(("\r" + line) if tty else line + "\n")
        if tty and p.step == p.steps:
            stream.write("\n")
        stream.flush()

    return show


def _eval_line(stream: Any) -> Any:
    def show(which: str, row: ItemResult) -> None:
        stream.write(f"{which}: {row.id} {row.latency_s:5.1f} s plan {'valid' if row.plan_valid else 'INVALID'} tools {row.tool_selection:.2f} answer {row.answer_accuracy:.2f}\n")
        stream.flush()

    return show


def handle(args: argparse.Namespace, ctx: Context) -> int:
    import json

    from reasoner._tune import tune
    from reasoner.models._tune import LoraConfig

    recipe = _recipe(args)
    examples = _examples(args, ctx, recipe)
    if args.save_data:
        Path(args.save_data).expanduser().write_text("".join(e.to_line() + "\n" for e in examples), encoding="utf-8")
    lora: dict[str, Any] = dict(recipe.get("lora", {}))
    for flag, key in (("epochs", "epochs"), ("lr", "learning_rate"), ("rank", "rank"), ("batch_tokens", "batch_tokens"), ("dtype", "dtype"), ("seed", "seed")):
        if getattr(args, flag) is not None:
            lora[key] = getattr(args, flag)
    if args.rank is not None:
        lora["alpha"] = 2 * args.rank
    config = LoraConfig(**lora)
    holdout = args.holdout if args.holdout is not None else float(recipe.get("holdout", 0.1))
    ctx.stderr.write(f"tuning on {len(examples)} examples ({holdout:.0%} held out); adapter -> {args.out}\n")
    ctx.stderr.flush()
    result = tune(
        examples, args.out, base=args.base or str(recipe.get("base", "smollm2-135m-base")), config=config, holdout=holdout,
        eval_limit=args.eval_limit or int(recipe.get("eval_limit", 24)), weights=recipe.get("roles"), resume=args.resume,
        device=args.device, command=shlex.join(["reasoner", *getattr(args, "argv", ["tune"])]),
        recipe=recipe, on_progress=_progress(ctx.stderr), on_eval_item=_eval_line(ctx.stderr), max_steps=args.max_steps,
    )  # fmt: skip
    t = result.train
    ctx.stdout.write(f"trained {t.steps} steps on {t.samples} samples: {t.tokens:,} tokens in {t.seconds:.0f} s ({t.tokens_per_s:.0f} tok/s, {t.dtype}, {t.device}); final loss {t.final_loss:.3f}\n")
    if result.before is not None or result.after is not None:
        ctx.stdout.write("held-out questions through the real loop:\n")
        for key in ("n", "plan_validity", "tool_selection", "argument_accuracy", "answer_accuracy", "latency_median_s"):
            before = (result.before or {}).get(key, "-")
            after = (result.after or {}).get(key, "-")
            ctx.stdout.write(f"  {key:<20} before {before!s:<8} after {after!s}\n")
    ctx.stdout.write(f"adapter: {result.adapter} (card: {result.adapter / 'card.json'})\n")
    ctx.stdout.write(json.dumps({"before": result.before, "after": result.after}) + "\n")
    ctx.stdout.flush()
    return 0


TUNE = Command(
    name="tune",
    help="fine-tune a local model (LoRA) for the planner, joiner and answerer roles",
    description="Fine-tune a local model with LoRA (peft) on examples from a file, from saved traces, or synthesized "
    "(seeds expanded offline, or a teacher model), then score held-out questions through the real loop before and after. "
    "Writes a peft adapter folder and a card.",
    configure=configure,
    handler=handle,
)
