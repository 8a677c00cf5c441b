"""Tool retrieval: above a threshold of tools, the planner sees (and its grammar allows)
only the top-k tools for the question, ranked by BM25 over each tool's name, description
and parameter names and docs.

Pure Python, no index to download: a registry of 1,000 tools is indexed in tens of
milliseconds and queried in about a millisecond. Words are lower-cased, split at
non-letters and at ``snake_case``/``camelCase`` boundaries, stripped of common English
stop words and of plural and verb endings (a light stemmer, so "prices" finds ``price``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reasoner.tools import ToolRegistry, ToolSpec

__all__ = ["Retrieved", "ToolRetriever", "words"]

_WORD = re.compile(r"[A-Za-z]+|\d+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_STOP = frozenset(
    "a an and are as at be by for from has have how i in is it its me my of on or our that the their them "
    "then there these this to was what when where which who will with you your do does did can could would "
    "should please get give show tell find".split()
)  # fmt: skip
# BM25 parameters (Robertson's defaults); names count three times: they say most
_K1, _B, _NAME_WEIGHT = 1.2, 0.75, 3


def _stem(word: str) -> str:
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)] + keep
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def words(text: str) -> list[str]:
    """The index terms of ``text``: lower-cased, split, stop words dropped, stemmed."""
    out = []
    for raw in _WORD.findall(_CAMEL.sub(" ", text)):
        word = raw.lower()
        if word not in _STOP:
            out.append(_stem(word))
    return out


def _tool_words(spec: ToolSpec) -> list[str]:
    terms = words(spec.name.replace("_", " ")) * _NAME_WEIGHT + words(spec.description)
    props: Mapping[str, Any] = spec.input_schema.get("properties", {})
    for name, schema in props.items():
        terms += words(name.replace("_", " "))
        if isinstance(schema, Mapping):
            terms += words(str(schema.get("description", "")))
    return terms


@dataclass(frozen=True, slots=True)
class Retrieved:
    """The tools retrieval chose for one question (what ``retrieval.selected`` reports)."""

    tools: tuple[str, ...]
    scores: tuple[float, ...]
    of: int  # tools in the registry

    def to_dict(self) -> dict[str, Any]:
        return {"tools": list(self.tools), "scores": [round(s, 3) for s in self.scores], "of": self.of}


class ToolRetriever:
    """A BM25 index over a registry's tools (build once, query per question)."""

    def __init__(self, registry: ToolRegistry | Iterable[ToolSpec]) -> None:
        self._names: list[str] = []
        self._docs: list[Counter[str]] = []
        self._lengths: list[int] = []
        for spec in registry:
            terms = _tool_words(spec)
            self._names.append(spec.name)
            self._docs.append(Counter(terms))
            self._lengths.append(len(terms))
        n = len(self._docs)
        self._avg = sum(self._lengths) / n if n else 0.0
        frequency: Counter[str] = Counter(term for doc in self._docs for term in doc)
        self._idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}

    def __len__(self) -> int:
        return len(self._names)

    def scores(self, query: str) -> list[float]:
        """The BM25 score of every tool for ``query``, in registry order."""
        terms = [t for t in words(query) if t in self._idf]
        out = []
        for doc, length in zip(self._docs, self._lengths):
            norm = _K1 * (1 - _B + _B * length / self._avg) if self._avg else _K1
            out.append(sum(self._idf[t] * doc[t] * (_K1 + 1) / (doc[t] + norm) for t in terms if t in doc))
        return out

    def select(self, query: str, k: int) -> Retrieved:
        """The ``k`` best tools for ``query`` (ties: registry order), best first."""
        scored = sorted(enumerate(self.scores(query)), key=lambda pair: (-pair[1], pair[0]))[:k]
        return Retrieved(tuple(self._names[i] for i, _ in scored), tuple(s for _, s in scored), len(self._names))
