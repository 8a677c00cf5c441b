"""The Berkeley Function Calling Leaderboard (BFCL), read offline from the ``bfcl-eval`` package.

``bfcl-eval`` (PyPI) ships BFCL's questions (``bfcl_eval/data/BFCL_v4_<category>.json``)
and possible answers (``data/possible_answer/...``) as JSON lines. Install it without its
dependencies (``pip install --no-deps bfcl-eval``; ``scripts/setup.sh`` does): only its
data files are read, never its code.

Categories (the AST ones; Python calls): ``simple`` (BFCL v4 calls it ``simple_python``),
``multiple``, ``parallel``, ``parallel_multiple``, their ``live_`` variants, and
``irrelevance`` / ``live_irrelevance`` (no function fits: the right plan is empty).

BFCL is for measuring only: nothing here may feed tuning (``tests/evals`` checks that the
tuning data never holds a BFCL question).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, NoReturn

from reasoner.errors import ToolError, UsageError
from reasoner.evals._bfcl_check import CheckResult, check_calls
from reasoner.evals._dataset import DatasetError

__all__ = [
    "BFCL_CATEGORIES",
    "BfclItem",
    "BfclSet",
    "bfcl_registry",
    "load_bfcl",
    "plan_calls",
    "score_bfcl",
]

# our name -> the file stem after "BFCL_v4_"
BFCL_CATEGORIES: dict[str, str] = {
    "simple": "simple_python",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "live_simple": "live_simple",
    "live_multiple": "live_multiple",
    "live_parallel": "live_parallel",
    "live_parallel_multiple": "live_parallel_multiple",
    "irrelevance": "irrelevance",
    "live_irrelevance": "live_irrelevance",
}
_INSTALL = "install it without its dependencies: pip install --no-deps bfcl-eval (scripts/setup.sh does)"


@dataclass(frozen=True, slots=True)
class BfclItem:
    """One BFCL question: its ``functions`` (BFCL's dialect) and possible ``answer``
    (``[{name: {param: [acceptable values]}}]``; ``None`` for irrelevance)."""

    id: str
    category: str
    question: str
    functions: tuple[Mapping[str, Any], ...]
    answer: tuple[Mapping[str, Any], ...] | None

    @property
    def irrelevant(self) -> bool:
        return self.answer is None


@dataclass(frozen=True, slots=True)
class BfclSet:
    """The items of one BFCL category (all, or a sample) and where they came from.

    ``version`` is the ``bfcl-eval`` package version; ``total`` the category's size;
    ``sample`` / ``seed`` how the items were drawn (``None``: the first ones in file order);
    ``skipped`` items the category has but cannot be planned (no function at all)."""

    category: str
    version: str
    source: str
    items: tuple[BfclItem, ...]
    total: int
    sample: int | None = None
    seed: int | None = None
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[BfclItem]:
        return iter(self.items)

    def select(self, *, limit: int | None = None, sample: int | None = None, seed: int = 0) -> BfclSet:
        """``sample`` items drawn at random with ``seed`` (kept in file order), then the
        first ``limit``. Raises UsageError for a count below 1."""
        items = self.items
        for name, value in (("sample", sample), ("limit", limit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise UsageError(f"{name}={value!r} must be a whole number >= 1")
        if sample is not None and sample < len(items):
            chosen = set(random.Random(seed).sample(range(len(items)), sample))
            items = tuple(item for index, item in enumerate(items) if index in chosen)
        if limit is not None:
            items = items[:limit]
        drawn = sample is not None and sample < len(self.items)
        return BfclSet(self.category, self.version, self.source, items, self.total, sample if drawn else None, seed if drawn else None, self.skipped)


def _data_dir() -> Path:
    try:
        folder = resources.files("bfcl_eval") / "data"
    except ModuleNotFoundError as exc:
        raise DatasetError("the BFCL data needs the bfcl-eval package, which is not installed", source="bfcl", hint=_INSTALL) from exc
    return Path(str(folder))


def _question(turns: Any, where: str) -> str:
    if not isinstance(turns, list) or not turns or not isinstance(turns[0], list) or not turns[0]:
        raise DatasetError(f"{where}: 'question' is not a list of turns of messages", source=where)
    messages = turns[-1] if len(turns) == 1 else [m for turn in turns for m in turn]
    if len(messages) == 1:
        return str(messages[0]["content"])
    return "\n\n".join(f"{str(m['role']).capitalize()}: {m['content']}" for m in messages)


def _read_lines(path: Path, source: str) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}", source=source, hint=f"reinstall bfcl-eval; {_INSTALL}") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not JSON: {exc}", source=source, line=number) from exc
    return rows


def load_bfcl(category: str) -> BfclSet:
    """Every item of a BFCL category (see the module doc for the names), in file order.

    Raises:
        DatasetError: bfcl-eval is not installed, or its files cannot be read.
        UsageError: an unknown category.
    """
    if category not in BFCL_CATEGORIES:
        raise UsageError(f"unknown BFCL category {category!r}; pick one of {', '.join(BFCL_CATEGORIES)}")
    folder = _data_dir()
    stem = f"BFCL_v4_{BFCL_CATEGORIES[category]}.json"
    source = f"bfcl:{category}"
    questions = _read_lines(folder / stem, source)
    answers: dict[str, Any] = {}
    if "irrelevance" not in category:
        answers = {row["id"]: row["ground_truth"] for row in _read_lines(folder / "possible_answer" / stem, source)}
    items, skipped = [], 0
    for row in questions:
        functions = row.get("function") or []
        if not functions:
            skipped += 1  # nothing to plan with (a few live_irrelevance items)
            continue
        answer = None
        if "irrelevance" not in category:
            if row["id"] not in answers:
                raise DatasetError(f"{stem}: item {row['id']!r} has no possible answer", source=source, hint=f"reinstall bfcl-eval; {_INSTALL}")
            answer = tuple(answers[row["id"]])
        items.append(BfclItem(row["id"], category, _question(row["question"], f"{stem} {row['id']}"), tuple(functions), answer))
    return BfclSet(category, metadata.version("bfcl-eval"), str(folder / stem), tuple(items), len(questions), skipped=skipped)


def _never_run(**kwargs: Any) -> NoReturn:
    raise ToolError("a BFCL function is only planned, never run")


def bfcl_registry(item: BfclItem) -> Any:
    """The item's functions as a :class:`~reasoner.tools.ToolRegistry`, each through
    :meth:`ToolSpec.from_schema` (implemented by a function that refuses to run).

    Raises:
        ToolDefinitionError: a function spec the engine cannot represent.
    """
    from reasoner.tools import ToolRegistry, ToolSpec

    return ToolRegistry.of([ToolSpec.from_schema(function, _never_run) for function in item.functions])


def plan_calls(plan: Mapping[str, Any] | None) -> list[dict[str, dict[str, Any]]]:
    """A plan's nodes as BFCL's model output: ``[{tool: args}, ...]`` in node order."""
    if plan is None:
        return []
    return [{str(node["tool"]): dict(node.get("args", {}))} for node in plan.get("nodes", [])]


def score_bfcl(item: BfclItem, calls: Sequence[Mapping[str, Mapping[str, Any]]]) -> CheckResult:
    """BFCL's AST verdict on ``calls`` for ``item``: irrelevance wants no call; the other
    categories go through :func:`~reasoner.evals._bfcl_check.check_calls`."""
    if item.answer is None:
        if calls:
            return CheckResult(False, f"called {', '.join(next(iter(c)) for c in calls)} where no function applies", "irrelevance:called")
        return CheckResult(True)
    return check_calls(item.functions, calls, item.answer, item.category)
