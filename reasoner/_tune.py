"""``reasoner.tune()``: fine-tune a local model for the planner, joiner and answerer roles.

From examples (``reasoner.planner._examples`` defines the JSONL format) to a peft LoRA
adapter folder with a card::

    <out>/adapter_config.json  adapter_model.safetensors   (peft format)
    <out>/card.json   <out>/README.md                      (base, data hash, metrics, date, command)

Steps: check every example against its registry; split off a held-out share (never
trained on); turn the rest into role samples whose prompts are built by the loop's own
prompt functions; train (``reasoner.models._tune.train_lora``); then score the held-out
questions through the real loop and grammar, with the base model and with the tuned one
(loaded the way the catalog loads ``base`` + ``adapter``), and write the card.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.errors import UsageError
from reasoner.planner._examples import (
    RoleSample,
    TuneExample,
    check_example,
    role_samples,
)

if TYPE_CHECKING:
    from reasoner.evals import EvalReport, ItemResult
    from reasoner.models import Model
    from reasoner.models._tune import LoraConfig, Progress, TrainResult
    from reasoner.tools import ToolRegistry

__all__ = ["TuneResult", "evaluate_examples", "split_examples", "training_samples", "tune"]

_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


@dataclass(frozen=True, slots=True)
class TuneResult:
    """What :func:`tune` made: the adapter folder, its card, and the scores."""

    adapter: Path
    card: dict[str, Any]
    train: TrainResult
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def data_hash(examples: Sequence[TuneExample]) -> str:
    """sha256 of the examples' canonical JSONL (what the card records)."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(example.to_line().encode() + b"\n")
    return digest.hexdigest()


def split_examples(examples: Sequence[TuneExample], holdout: float, seed: int) -> tuple[list[TuneExample], list[TuneExample]]:
    """``(train, held_out)``: a seeded shuffle, ``holdout`` of it held out. Examples of one
    seed or trace (``source``) stay on one side, so a held-out question is never a
    paraphrase-by-template of a trained one... unless ``source`` is absent."""
    if not 0 <= holdout < 1:
        raise UsageError(f"holdout={holdout!r} must be at least 0 and below 1")
    rng = random.Random(seed)
    order = list(examples)
    rng.shuffle(order)
    n = round(len(order) * holdout)
    return order[n:], order[:n]


def training_samples(
    examples: Sequence[TuneExample],
    registries: Mapping[str, ToolRegistry],
    *,
    weights: Mapping[str, float] | None = None,
    seed: int = 0,
) -> list[RoleSample]:
    """Role samples of ``examples``; ``weights`` (role -> share kept, default 1) thins the
    easy roles. A joiner ``replan`` decision is always kept: it is the rare, useful one."""
    weights = {"planner": 1.0, "joiner": 1.0, "answerer": 1.0, **(weights or {})}
    rng = random.Random(seed)
    out = []
    for example in examples:
        for sample in role_samples(example, registries[example.tools]):
            keep = sample.role == "joiner" and '"replan"' in sample.output
            if keep or rng.random() < weights[sample.role]:
                out.append(sample)
    return out


def _facts(example: TuneExample) -> list[str | float]:
    if not example.answer:
        return []
    text = _DATE.sub(" ", example.answer)
    facts: list[str | float] = []
    for match in _NUMBER.findall(text):
        try:
            facts.append(float(match.replace(",", "")))
        except ValueError:
            continue
    return facts[:6]


def eval_item(example: TuneExample, index: int) -> dict[str, Any]:
    """An eval item (``reasoner.evals`` format) for a held-out example: the tools its plans
    call, the calls whose arguments are literal, the numbers its answer states."""
    nodes = [n for step in example.steps() for n in step.plan["nodes"]]
    literal = [n for n in nodes if "$ref" not in json.dumps(n["args"])]
    return {
        "id": f"held-out-{index + 1}",
        "question": example.question,
        "expected_tools": sorted({n["tool"] for n in nodes}),
        "expected_args": [{"tool": n["tool"], "args": n["args"]} for n in literal],
        "expected_facts": _facts(example),
    }


def summary(report: EvalReport) -> dict[str, Any]:
    """The headline numbers of an eval report."""
    median = report.latency_median_s
    args = report.argument_accuracy
    return {
        "n": report.n,
        "plan_validity": round(report.plan_validity, 3),
        "tool_selection": round(report.tool_selection, 3),
        "argument_accuracy": None if args is None else round(args, 3),
        "answer_accuracy": round(report.answer_accuracy, 3),
        "latency_median_s": None if median is None else round(median, 2),
    }


async def evaluate_examples(
    model: Model,
    examples: Sequence[TuneExample],
    registries: Mapping[str, ToolRegistry],
    *,
    timeout: float = 60.0,
    on_item: Callable[[ItemResult], None] | None = None,
) -> EvalReport | None:
    """Score ``model`` (every role) on ``examples`` through the real loop and plan grammar."""
    from reasoner._engine import Engine
    from reasoner._roles import Budget
    from reasoner.evals import run_eval

    if not examples:
        return None
    merged: EvalReport | None = None
    groups: dict[str, list[tuple[int, TuneExample]]] = {}
    for i, example in enumerate(examples):
        groups.setdefault(example.tools, []).append((i, example))
    for ref, members in groups.items():
        engine = Engine(tools=registries[ref], planner=model, joiner=model, answerer=model, budget=Budget(seconds=timeout))
        report = await run_eval(engine, [eval_item(e, i) for i, e in members], on_item=on_item, dataset="held-out")
        merged = report if merged is None else dataclasses.replace(merged, items=merged.items + report.items)
    return merged


def tune(
    examples: Sequence[TuneExample],
    out: str | Path,
    *,
    base: str = "smollm2-135m",
    config: LoraConfig | None = None,
    holdout: float = 0.1,
    eval_limit: int | None = 24,
    weights: Mapping[str, float] | None = None,
    registries: Mapping[str, ToolRegistry] | None = None,
    resume: bool = False,
    device: str | None = None,
    command: str = "",
    recipe: Mapping[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_eval_item: Callable[[str, ItemResult], None] | None = None,
    load: Callable[[str], Model] | None = None,
    max_steps: int | None = None,
) -> TuneResult:
    """Fine-tune ``base`` on ``examples`` with LoRA and write the adapter and card to ``out``.

    Args:
        examples: checked examples (``load_examples``, ``examples_from_trace``, synthesis).
        out: the adapter folder (created; a checkpoint lives there while training runs).
        base: a catalog name or model folder (the catalog's untuned weights).
        config: LoRA settings (``reasoner.models.LoraConfig``); its seed also splits the data.
        holdout: share of examples held out and scored before and after (0: none).
        eval_limit: score at most this many held-out examples (None: all).
        weights: role -> share of that role's samples kept (see :func:`training_samples`).
        registries: tools reference -> registry (default: ``resolve_registry`` of each).
        resume: continue from the checkpoint in ``out``.
        device: "cpu" or "cuda" (default: cuda when available).
        command: the command line, recorded in the card.
        on_progress: called after each training step; on_eval_item: per scored question
            with "before" or "after".
        load: how to load ``base`` (default: ``reasoner.models.load_model``).
        max_steps: stop training after this many steps (a checkpoint is kept for ``resume``).

    Raises:
        PlanError: an example's plan does not fit its registry.
        UsageError: no examples, or bad settings.
    """
    import anyio
    import torch

    from reasoner._tune_data import resolve_registry
    from reasoner.models import TransformersModel, load_model
    from reasoner.models._tune import LoraConfig, merge_adapter, train_lora

    if not examples:
        raise UsageError("tune needs at least one example")
    config = config or LoraConfig()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    registries = dict(registries or {})
    for ref in {e.tools for e in examples} - set(registries):
        registries[ref] = resolve_registry(ref)
    for example in examples:
        check_example(example, registries[example.tools])
    train, held_out_all = split_examples(examples, holdout, config.seed)
    held_out = held_out_all[:eval_limit] if eval_limit is not None else held_out_all
    samples = training_samples(train, registries, weights=weights, seed=config.seed)
    folder = Path(out).expanduser()
    # float32 weights: training casts to its own dtype, and scores compare as before
    loader = load or (lambda name: load_model(name, device=device, dtype="float32"))

    base_model = loader(base)
    if not isinstance(base_model, TransformersModel):
        raise UsageError(f"tune needs a local transformers model; {base!r} is {type(base_model).__name__}")
    result = train_lora(
        base_model.model, base_model.tokenizer, [(s.messages, s.output) for s in samples], folder,
        config=config, resume=resume, on_progress=on_progress, max_steps=max_steps,
    )  # fmt: skip

    def report(which: str, model: Model) -> dict[str, Any] | None:
        def item(row: ItemResult) -> None:
            if on_eval_item is not None:
                on_eval_item(which, row)

        scored = anyio.run(lambda: evaluate_examples(model, held_out, registries, on_item=item))
        return summary(scored) if scored is not None else None

    before = report("before", loader(base)) if held_out else None
    tuned = loader(base)
    if isinstance(tuned, TransformersModel):
        tuned = TransformersModel(merge_adapter(tuned.model, folder), tuned.tokenizer, name=f"{base}+adapter", device=tuned.device, dtype=tuned.dtype)
    after = report("after", tuned) if held_out else None

    counts = {role: sum(s.role == role for s in samples) for role in ("planner", "joiner", "answerer")}
    card = {
        "base": base,
        "adapter": "lora (peft)",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "data": {"sha256": data_hash(examples), "examples": len(examples), "trained": len(train), "held_out": len(held_out_all), "scored": len(held_out), "samples": counts},
        "lora": config.to_dict(),
        "training": {
            "steps": result.steps, "tokens": result.tokens, "seconds": round(result.seconds, 1),
            "tokens_per_s": round(result.tokens_per_s, 1), "final_loss": round(result.final_loss, 4),
            "dtype": result.dtype, "device": result.device, "resumed_from": result.resumed_from,
        },
        "held_out": {"before": before, "after": after},
        "recipe": dict(recipe or {}),
    }  # fmt: skip
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(_card_markdown(card), encoding="utf-8")
    return TuneResult(folder, card, result, before, after)


def _card_markdown(card: Mapping[str, Any]) -> str:
    lines = [
        f"# LoRA adapter for {card['base']}",
        "",
        "Tuned by `reasoner tune` for the planner, joiner and answerer roles.",
        "",
        f"- base: `{card['base']}`",
        f"- created: {card['created']}",
        f"- command: `{card['command']}`",
        (
            f"- data: {card['data']['examples']} examples (sha256 `{card['data']['sha256'][:16]}…`), "
            f"{card['data']['trained']} trained, {card['data']['held_out']} held out ({card['data']['scored']} scored); samples {card['data']['samples']}"
        ),
        f"- training: {card['training']}",
        "",
        "## Held-out questions, through the real loop and grammar",
        "",
        "| | before | after |",
        "|---|---|---|",
    ]
    before, after = card["held_out"]["before"] or {}, card["held_out"]["after"] or {}
    for key in ("n", "plan_validity", "tool_selection", "argument_accuracy", "answer_accuracy", "latency_median_s"):
        lines.append(f"| {key} | {before.get(key, '-')} | {after.get(key, '-')} |")
    return "\n".join(lines) + "\n"
