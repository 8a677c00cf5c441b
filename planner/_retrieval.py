"""Tool retrieval: above a threshold of tools, the planner sees (and its grammar allows)
only the top-k tools for the question, ranked by BM25 over each tool's name, description
and parameter names and docs. Two additions find tools a question implies without naming
them: a few hint patterns add words to the query (a date adds "date", "difference" or
"%" add "arithmetic"), and a tool whose output feeds a chosen tool's required parameter
(``search`` returns ``tickers``, ``stock_price`` needs a ``ticker``) joins the selection.

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
# What a question implies without naming it: words added to the query when a pattern matches
_HINTS = (
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b(?:yesterday|today|tomorrow)\b", re.I), "date day"),
    (
        re.compile(
            r"%|\b(?:differ\w*|doubl\w*|tripl\w*|half|halve\w*|total|sum|average|mean|ratio|percent\w*|times|plus|minus"
            r"|divid\w*|multipl\w*|combined|gain\w*|fall|fell|drop\w*|rise|rose|increase\w*|decrease\w*|squared?|root)\b",
            re.I,
        ),
        "arithmetic calculate math",
    ),
)


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
        self._params: list[list[str]] = []  # required parameters, stemmed
        self._fields: list[set[str]] = []  # output fields, stemmed
        for spec in registry:
            terms = _tool_words(spec)
            self._params.append([_stem(p.lower()) for p in spec.input_schema.get("required", ())])
            output = spec.output_schema.get("properties", {}) if isinstance(spec.output_schema, Mapping) else {}
            self._fields.append({_stem(f.lower()) for f in output})
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
        """The BM25 score of every tool for ``query`` (with the words its hints imply: a
        date, arithmetic), in registry order."""
        implied = " ".join(extra for pattern, extra in _HINTS if pattern.search(query))
        terms = [t for t in words(f"{query} {implied}") if t in self._idf]
        out = []
        for doc, length in zip(self._docs, self._lengths):
            norm = _K1 * (1 - _B + _B * length / self._avg) if self._avg else _K1
            out.append(sum(self._idf[t] * doc[t] * (_K1 + 1) / (doc[t] + norm) for t in terms if t in doc))
        return out

    def select(self, query: str, k: int) -> Retrieved:
        """The ``k`` best tools for ``query`` (ties: registry order), best first, then up to
        ``k // 4`` producers: for a chosen tool's parameter that no chosen tool returns,
        the best-scoring other tool whose output has that field (``tickers`` feeds
        ``ticker``), when the question matches it at all."""
        scores = self.scores(query)
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        chosen = ranked[:k]
        for i in list(chosen):
            if len(chosen) >= k + k // 4:
                break
            for param in self._params[i]:
                if any(param in self._fields[j] for j in chosen if j != i):
                    continue
                producer = next((j for j in ranked[k:] if scores[j] > 0 and param in self._fields[j] and j not in chosen), None)
                if producer is not None and len(chosen) < k + k // 4:
                    chosen.append(producer)
        return Retrieved(tuple(self._names[i] for i in chosen), tuple(scores[i] for i in chosen), len(self._names))
