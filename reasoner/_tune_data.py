"""Training data for ``reasoner tune``: registries, saved traces, and offline synthesis.

* :func:`resolve_registry` turns an example's ``tools`` reference into a registry.
* :func:`examples_from_trace` turns the events of a finished run into one example.
* :func:`expand_seeds` fills seed templates with values (offline synthesis), and
  :func:`complete` executes an example's plans and fills in what they returned; an
  example whose plan does not validate or whose calls fail is dropped, never kept.

A seed is an example (see ``reasoner.planner._examples``) whose strings hold slots,
plus a ``values`` table for slots the caller's pools do not cover::

    {"question": "What did {{co.name}} close at on {{date}}?",
     "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}", "date": "{{date}}"}}]},
     "answer": "{{co.name}} ({{co.ticker}}) closed at {{$1.close}} {{$1.currency}} on {{date}} (sample data).",
     "values": {"date": ["2024-12-02", "2024-12-03"]}}

``{{slot}}`` or ``{{slot.field}}`` draws a value from the pool named like the slot, less
any trailing digits (``co2`` draws from ``co``; slots of one pool get distinct values).
Pools come from the seed's ``values``, then the caller's ``pools``, then the ``enum`` or
``examples`` of any tool parameter of that name. A string that is exactly one slot takes
the value itself (a number stays a number). ``{{$ID.path}}`` in ``answer`` and in the
replan's plan is the executed output of node ID at ``path``.
"""

from __future__ import annotations

import functools
import importlib
import json
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.errors import PlanError, UsageError
from reasoner.planner import Plan
from reasoner.planner._examples import ObservationRecord, TuneExample, check_example

if TYPE_CHECKING:
    from reasoner.events import Event
    from reasoner.tools import ToolRegistry

__all__ = ["complete", "demo_pools", "examples_from_trace", "expand_seeds", "resolve_registry"]

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*|\$\d+)((?:\.[A-Za-z0-9_]+)*)\s*\}\}")
_MAX_TRIES = 20


_BUILTIN = re.compile(r"(demo|demo\+practice)(?:~(\d+))?")


def resolve_registry(ref: str, *, chart_dir: str | None = None) -> ToolRegistry:
    """The registry an example's ``tools`` names: ``"demo"`` (the demo toolkit),
    ``"demo+practice"`` (it and the training-only practice tools), either with ``~N``
    (the same tools listed in the order seed ``N`` shuffles them into), or ``"module:attr"``
    (a function, ToolSpec, list of them, or a ToolRegistry).

    Raises:
        UsageError: the module or attribute cannot be found, or is not tools.
    """
    from reasoner.tools import ToolRegistry

    builtin = _BUILTIN.fullmatch(ref)
    if builtin:
        from reasoner.tools.demo import demo_tools

        specs = list(demo_tools(chart_dir=chart_dir))
        if builtin.group(1) == "demo+practice":
            from reasoner._tune_practice import practice_tools

            specs += practice_tools()
        if builtin.group(2) is not None:
            random.Random(int(builtin.group(2))).shuffle(specs)
        return ToolRegistry(specs)
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise UsageError(f"tools {ref!r}: use \"demo\" or module:attr (e.g. mytools:all)")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"tools {ref!r}: cannot import it: {exc}") from exc
    if callable(value) and not hasattr(value, "__reasoner_tool__") and not isinstance(value, ToolRegistry):
        try:
            produced = value()
        except TypeError:
            produced = None
        if isinstance(produced, (list, tuple, ToolRegistry)):
            value = produced
    try:
        return ToolRegistry.of(value)
    except (TypeError, UsageError) as exc:
        raise UsageError(f"tools {ref!r} is not a tool, a list of tools or a ToolRegistry: {exc}") from exc


_NAMES = {
    "AAPL": "Apple", "ADBE": "Adobe", "AMD": "AMD", "AMZN": "Amazon", "ASML": "ASML", "BABA": "Alibaba",
    "CRM": "Salesforce", "CSCO": "Cisco", "GOOGL": "Alphabet", "IBM": "IBM", "INTC": "Intel", "META": "Meta",
    "MSFT": "Microsoft", "NFLX": "Netflix", "NVDA": "Nvidia", "ORCL": "Oracle", "SAP": "SAP", "TSLA": "Tesla",
    "TSM": "TSMC", "UBER": "Uber",
}  # fmt: skip


def demo_pools() -> dict[str, list[Any]]:
    """Values the demo data offers: ``co`` (``ticker``, short ``name``, ``full`` name) for
    every ticker of the sample price table, and ``date``, its trading days."""
    from reasoner.tools.demo._prices import _table

    table = _table()
    cos = [{"ticker": t, "name": _NAMES.get(t, listing.name), "full": listing.name} for t, listing in sorted(table.items())]
    dates = sorted({d.isoformat() for listing in table.values() for d, _ in listing.closes})
    return {"co": cos, "date": dates}


def _pool_name(slot: str) -> str:
    return slot.rstrip("0123456789") or slot


def _schema_pools(registry: ToolRegistry) -> dict[str, list[Any]]:
    pools: dict[str, list[Any]] = {}
    for spec in registry:
        for name, schema in spec.input_schema.get("properties", {}).items():
            values = list(schema.get("enum", ())) + list(schema.get("examples", ()))
            if values:
                pools.setdefault(name, []).extend(v for v in values if v not in pools.get(name, []))
    return pools


def _lookup(value: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        if isinstance(value, Mapping):
            value = value[part]
        elif isinstance(value, list):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return format(value, ".12g")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _fill(node: Any, lookup: Callable[[str, str], Any]) -> Any:
    """``node`` with every slot replaced; a string that is one slot becomes its value."""
    if isinstance(node, str):
        whole = _SLOT.fullmatch(node.strip())
        if whole:
            return lookup(whole.group(1), whole.group(2).lstrip("."))
        return _SLOT.sub(lambda m: _fmt(lookup(m.group(1), m.group(2).lstrip("."))), node)
    if isinstance(node, list):
        return [_fill(v, lookup) for v in node]
    if isinstance(node, dict):
        return {k: _fill(v, lookup) for k, v in node.items()}
    return node


def _slots(node: Any) -> list[str]:
    if isinstance(node, str):
        return [m.group(1) for m in _SLOT.finditer(node) if not m.group(1).startswith("$")]
    if isinstance(node, list):
        return [s for v in node for s in _slots(v)]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _slots(v)]
    return []


def _seed_value(chosen: Mapping[str, Any], slot: str, path: str) -> Any:
    if slot.startswith("$"):
        return "{{" + slot + ("." + path if path else "") + "}}"  # an output: filled after execution
    return _lookup(chosen[slot], path)


def expand_seeds(
    seeds: Sequence[Mapping[str, Any]],
    registry: ToolRegistry,
    *,
    per_seed: int,
    seed: int = 0,
    pools: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Up to ``per_seed`` (or the seed's own ``n``) distinct fillings of each seed (module
    doc), as example dicts whose ``{{$ID.path}}`` output slots are still open
    (:func:`complete` fills them).

    Raises:
        UsageError: a slot no pool covers, or a pool too small for a seed's distinct slots.
    """
    rng = random.Random(seed)
    base = {**_schema_pools(registry), **{k: list(v) for k, v in (pools or {}).items()}}
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(seeds):
        body = {k: v for k, v in raw.items() if k not in ("values", "id", "n")}
        wanted = int(raw.get("n", per_seed))
        table = {**base, **{k: list(v) for k, v in raw.get("values", {}).items()}}
        slots = list(dict.fromkeys(_slots(body)))
        for slot in slots:
            if not table.get(_pool_name(slot)):
                raise UsageError(f"seed {raw.get('id', index + 1)}: no values for slot {{{{{slot}}}}} (add it to \"values\")")
        seen: set[str] = set()
        for _ in range(wanted * _MAX_TRIES):
            if len(seen) >= wanted:
                break
            chosen: dict[str, Any] = {}
            by_pool: dict[str, list[Any]] = {}
            for slot in slots:
                pool = table[_pool_name(slot)]
                used = by_pool.setdefault(_pool_name(slot), [])
                left = [v for v in pool if v not in used]
                if not left:
                    raise UsageError(f"seed {raw.get('id', index + 1)}: pool {_pool_name(slot)!r} has too few values")
                chosen[slot] = rng.choice(left)
                used.append(chosen[slot])

            filled = _fill(body, functools.partial(_seed_value, chosen))
            key = json.dumps(filled, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            filled.setdefault("source", f"seed:{raw.get('id', index + 1)}")
            out.append(filled)
    return out


async def complete(raw: Mapping[str, Any], registry: ToolRegistry) -> TuneExample | None:
    """Validate and execute the plans of example dict ``raw``; fill its observations, output
    slots (``{{$ID.path}}``) and a ``finish`` join where absent (an empty plan gets none: the
    loop answers it directly). ``None`` when a plan is invalid for ``registry``, a call fails
    (unless its step says ``"expect_errors": true``, when one must fail: the failure is
    observed, as the loop shows it), an output slot does not resolve, or one of the seed's
    ``"check": [[got, wanted], ...]`` pairs (say ``["{{$1.tickers.0}}", "AAPL"]``) differs."""
    from reasoner._engine import Engine

    engine = Engine(tools=registry)
    outputs: dict[int, Any] = {}

    def lookup(slot: str, path: str) -> Any:
        if not slot.startswith("$"):
            raise KeyError(slot)
        return _lookup(outputs[int(slot[1:])], path)

    data = dict(raw)
    expect_errors = bool(data.pop("expect_errors", False))
    checks = data.pop("check", [])
    steps: list[dict[str, Any]] = [data] + ([dict(data["replan"])] if data.get("replan") else [])
    previous = Plan(())
    for i, step in enumerate(steps):
        try:
            step["plan"] = _fill(step["plan"], lookup)
            plan = Plan.from_json(step["plan"], first_id=len(previous.nodes) + 1)
        except (KeyError, IndexError, ValueError, PlanError):
            return None
        try:
            result = await engine.execute(Plan(previous.nodes + plan.nodes))
        except (PlanError, UsageError):
            return None
        failed = any(n.id not in result.outputs for n in plan.nodes)
        if failed != (expect_errors and i == 0):
            return None
        outputs.update(result.outputs)
        previous = Plan(previous.nodes + plan.nodes)
        step["observations"] = [_record(n.id, result) for n in plan.nodes]
        if not plan.nodes:
            step.pop("join", None)
        elif i + 1 < len(steps):
            step.setdefault("join", {"action": "replan", "reason": "the results do not answer it yet"})
        else:
            step.setdefault("join", {"action": "finish"})
    if len(steps) > 1:
        data["replan"] = steps[1]
    try:
        if data.get("answer") is not None:
            data["answer"] = _fill(data["answer"], lookup)
        data = _fill(data, lookup)
        if any(got != wanted for got, wanted in _fill(checks, lookup)):
            return None  # the tools did not return what the seed's question presumes
        example = TuneExample.model_validate(data)
        check_example(example, registry)
    except (KeyError, IndexError, ValueError, PlanError):
        return None
    return example


def vary_registries(examples: Sequence[TuneExample], *, shuffled: float, practice: float, orders: int, seed: int = 0) -> list[TuneExample]:
    """``examples`` with the demo registry varied, so that a planner learns to read the tool
    list rather than the positions in it: a share ``shuffled`` of the ``"demo"`` examples
    list the demo tools in one of ``orders`` shuffled orders (``"demo~N"``), a share
    ``practice`` list them beside the practice tools (``"demo+practice~N"``); examples
    written for ``"demo+practice"`` get a shuffled order too."""
    rng = random.Random(seed)
    out = []
    for example in examples:
        draw, order = rng.random(), rng.randint(1, orders)
        if example.tools == "demo+practice":
            example = example.model_copy(update={"tools": f"demo+practice~{order}"})
        elif example.tools == "demo" and draw < shuffled:
            example = example.model_copy(update={"tools": f"demo~{order}"})
        elif example.tools == "demo" and draw < shuffled + practice:
            example = example.model_copy(update={"tools": f"demo+practice~{order}"})
        out.append(example)
    return out


def _record(node_id: int, result: Any) -> dict[str, Any]:
    if node_id in result.outputs:
        return ObservationRecord(id=node_id, output=result.outputs[node_id]).model_dump(mode="json")
    error = result.errors.get(node_id) or f"skipped: {result.skipped.get(node_id)}"  # as the loop shows it
    return ObservationRecord(id=node_id, error=error).model_dump(mode="json")


def examples_from_trace(events: Iterable[Event], *, tools: str = "demo") -> TuneExample | None:
    """The example a finished run's events make (``None`` for a run that did not complete):
    each iteration's plan, its nodes' outputs or errors, the join decisions, the answer."""
    events = list(events)
    started = next((e for e in events if e.type == "run.started"), None)
    done = next((e for e in events if e.type == "run.completed"), None)
    if started is None or done is None or not isinstance(done.data.get("answer"), str):
        return None
    by_iter: dict[int, dict[str, Any]] = {}
    for e in events:
        step = by_iter.setdefault(e.iteration, {})
        if e.type == "plan.completed":
            step["plan"] = e.data["plan"]
        elif e.type == "node.completed" and e.node_id is not None:
            step.setdefault("obs", {})[e.node_id] = {"id": e.node_id, "output": e.data.get("output")}
        elif e.type == "node.failed" and e.node_id is not None:  # shown to the model as the loop shows it
            why = e.data.get("error") or {}
            text = why if isinstance(why, str) else f"{why.get('type', 'Error')}: {why.get('message', '')}"
            step.setdefault("obs", {})[e.node_id] = {"id": e.node_id, "error": text}
        elif e.type == "node.skipped" and e.node_id is not None:
            step.setdefault("obs", {})[e.node_id] = {"id": e.node_id, "error": f"skipped: {e.data.get('reason')}"}
        elif e.type == "join.decision" and e.data.get("by") != "loop":
            step["join"] = {"action": e.data["action"], **({"reason": e.data["reason"]} if e.data["action"] == "replan" else {})}
    steps = [by_iter[i] for i in sorted(by_iter) if "plan" in by_iter[i]]
    if not steps or len(steps) > 2 or any("join" not in s for s in steps):
        return None

    def part(step: dict[str, Any]) -> dict[str, Any]:
        ids = [n["id"] for n in step["plan"]["nodes"]]
        obs = step.get("obs", {})
        return {"plan": step["plan"], "observations": [obs[i] for i in ids if i in obs], "join": step["join"]}

    first = part(steps[0])
    data: dict[str, Any] = {"question": started.data["query"], "tools": tools, **first, "answer": done.data["answer"], "source": f"trace:{started.run_id}"}
    if len(steps) == 2:
        data["replan"] = part(steps[1])
    try:
        return TuneExample.model_validate(data)
    except ValueError:
        return None


def load_seeds(path: str | Path) -> list[dict[str, Any]]:
    """Seed templates from a JSONL file (one JSON object per line; ``#`` lines are comments).

    Raises:
        UsageError: an unreadable file or a line that is not a JSON object (``FILE:LINE:``).
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the seeds file {str(file)!r}: {exc}") from exc
    seeds = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            seed = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{file}:{number}: not JSON: {exc}") from exc
        if not isinstance(seed, dict) or "question" not in seed or "plan" not in seed:
            raise UsageError(f"{file}:{number}: a seed is a JSON object with at least question and plan")
        seeds.append(seed)
    return seeds


_WORD = re.compile(r"[a-z0-9]+(?:['’.-][a-z0-9]+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def contamination(texts: Iterable[str], questions: Iterable[str], *, n: int = 8) -> list[tuple[str, str]]:
    """``(question, text)`` for each eval question that appears in one of ``texts``, whole or
    by any run of ``n`` consecutive words (case and punctuation ignored): data that must not
    be trained on when those questions are used to evaluate."""
    runs: dict[tuple[str, ...], str] = {}
    wholes: dict[str, str] = {}
    for question in questions:
        words = _words(question)
        wholes[" " + " ".join(words) + " "] = question
        for i in range(len(words) - n + 1):
            runs[tuple(words[i : i + n])] = question
    found: list[tuple[str, str]] = []
    for text in texts:
        words = _words(text)
        joined = " " + " ".join(words) + " "
        hit = next((q for whole, q in wholes.items() if whole in joined), None)
        if hit is None:
            hit = next((runs[tuple(words[i : i + n])] for i in range(len(words) - n + 1) if tuple(words[i : i + n]) in runs), None)
        if hit is not None:
            found.append((hit, text))
    return found
