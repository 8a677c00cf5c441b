"""Eval datasets: JSONL files of questions with what a good run should do.

One JSON object per line (blank lines are skipped)::

    {"id": "demo-003", "question": "What share of the cloud market does AWS have ...?",
     "expected_tools": ["search", "stock_price"],
     "expected_args": [{"tool": "stock_price", "args": {"ticker": "AMZN"}}],
     "expected_facts": [30, 203.7],
     "reference_plan": {"nodes": [...]}}

``reference_plan`` is optional: a plan that solves the item, used to check the dataset
and to script models in tests; it is never shown to the model under evaluation.
Datasets shipped with the package live in ``reasoner/evals/datasets/<name>.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from reasoner.errors import ConfigError, UsageError
from reasoner.evals._metrics import plan_valid

__all__ = ["Dataset", "DatasetError", "EvalItem", "ExpectedCall", "bundled_datasets", "load_dataset"]


class DatasetError(ConfigError):
    """A dataset file that cannot be read or has an invalid item.

    Attributes:
        source: the file (or bundled name) at fault.
        line: the 1-based line of the bad item, when the problem belongs to one line.
        hint: how to fix it (the CLI prints it under the error).
    """

    def __init__(self, message: str, *, source: str, line: int | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.hint = hint or "fix that line of the dataset (one JSON object per line: id, question, expected_tools, ...)"


class ExpectedCall(BaseModel):
    """A call the plan should contain: ``tool`` with at least these ``args``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(min_length=1)
    args: dict[str, Any]


class EvalItem(BaseModel):
    """One question and what a good run does with it (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    expected_tools: list[str] = []
    expected_args: list[ExpectedCall] = []
    expected_facts: list[StrictStr | StrictInt | StrictFloat] = []
    reference_plan: dict[str, Any] | None = None

    def expectations(self) -> dict[str, Any]:
        """The item as the plain dict :func:`~reasoner.evals.score_item` reads."""
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Dataset(Sequence[EvalItem]):
    """A named, ordered set of eval items (a sequence of :class:`EvalItem`)."""

    name: str
    source: str
    items: tuple[EvalItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[EvalItem]:
        return iter(self.items)

    @overload
    def __getitem__(self, index: int) -> EvalItem: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[EvalItem, ...]: ...
    def __getitem__(self, index: int | slice) -> EvalItem | tuple[EvalItem, ...]:
        return self.items[index]

    def select(self, ids: Sequence[str] | None = None, limit: int | None = None) -> Dataset:
        """The items with these ``ids`` (in dataset order), then the first ``limit`` of them.

        Raises:
            UsageError: an id the dataset does not have, or a ``limit`` below 1.
        """
        items = self.items
        if ids:
            known = {item.id for item in items}
            unknown = [i for i in dict.fromkeys(ids) if i not in known]
            if unknown:
                shown = ", ".join(item.id for item in items[:3]) + (", ..." if len(items) > 3 else "")
                raise UsageError(f"dataset {self.name!r} has no item {', '.join(map(repr, unknown))}; its ids look like {shown}")
            wanted = set(ids)
            items = tuple(item for item in items if item.id in wanted)
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise UsageError(f"limit={limit!r} must be a whole number >= 1")
            items = items[:limit]
        return Dataset(self.name, self.source, items)


def bundled_datasets() -> list[str]:
    """Names of the datasets shipped with the package (``demo``, ...)."""
    folder = resources.files("reasoner.evals") / "datasets"
    return sorted(entry.name.removesuffix(".jsonl") for entry in folder.iterdir() if entry.name.endswith(".jsonl"))


def load_dataset(path_or_name: str | Path = "demo") -> Dataset:
    """Read a dataset: a bundled name (``"demo"``) or the path of a JSONL file.

    Every line is checked (JSON, the :class:`EvalItem` fields, unique ids, a well-formed
    ``reference_plan``) before anything runs.

    Raises:
        DatasetError: no such dataset or file, an empty one, or a bad line (the message
            starts with ``FILE:LINE:``).
    """
    text, name, source = _read(path_or_name)
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = _parse_line(line, source, number)
        if item.id in seen:
            raise DatasetError(
                f"{source}:{number}: id {item.id!r} is already used on line {seen[item.id]}",
                source=source,
                line=number,
                hint="give every item its own id",
            )
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(f"{source}: the dataset has no items", source=source, hint="write one JSON object per line")
    return Dataset(name, source, tuple(items))


def _read(path_or_name: str | Path) -> tuple[str, str, str]:
    """``(text, name, source)`` of a bundled dataset or a file."""
    path = Path(path_or_name).expanduser()
    if isinstance(path_or_name, str) and path_or_name in bundled_datasets() and not path.is_file():
        resource = resources.files("reasoner.evals") / "datasets" / f"{path_or_name}.jsonl"
        return resource.read_text(encoding="utf-8"), path_or_name, f"{path_or_name}.jsonl"
    if not path.is_file():
        names = ", ".join(bundled_datasets())
        raise DatasetError(
            f"no dataset {str(path_or_name)!r}: it is neither a bundled dataset ({names}) nor a file",
            source=str(path_or_name),
            hint=f"pass a bundled name ({names}) or the path of a .jsonl file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read the dataset {str(path)!r}: {exc}", source=str(path), hint="check the path and that the file is UTF-8 text") from exc
    return text, path.stem, str(path)


def _parse_line(line: str, source: str, number: int) -> EvalItem:
    where = f"{source}:{number}"
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise DatasetError(f"{where}: not JSON: {exc}", source=source, line=number) from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(data).__name__}", source=source, line=number)
    label = f"{where} (item {data['id']!r})" if isinstance(data.get("id"), str) else where
    try:
        item = EvalItem.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'item'}: {e['msg']}" for e in exc.errors())
        raise DatasetError(f"{label}: {problems}", source=source, line=number) from exc
    if item.reference_plan is not None and not plan_valid(item.reference_plan):
        raise DatasetError(
            f"{label}: reference_plan is not a well-formed plan",
            source=source,
            line=number,
            hint='write it as {"nodes": [{"id": 1, "tool": ..., "args": {...}}, ...]} with ids 1, 2, ... and refs to earlier nodes',
        )
    return item
