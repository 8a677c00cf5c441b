"""search: BM25 over a small bundled corpus, in pure Python, deterministic.

The corpus is ``reasoner/tools/data/demo_corpus.jsonl`` (one ``{"id", "title", "text"}``
per line): short summaries about cloud providers, large tech companies and their
tickers, units, science and geography, written for the demo and possibly out of date.
Each hit lists the tickers of the sample price table that its text mentions, so a
planner can chain ``search`` into ``stock_price`` with a ref such as
``{"$ref": 1, "path": "tickers.0"}``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import ToolRetry
from reasoner.tools import tool
from reasoner.tools.demo._prices import sample_tickers

__all__ = ["SearchHit", "SearchResults", "search"]

MAX_K = 10
_SNIPPET_CHARS = 400
_K1 = 1.2
_B = 0.75
_TITLE_WEIGHT = 2  # title words count this many times
_WORD = re.compile(r"[0-9a-z]+")
_STOPWORDS = frozenset(
    "a about an and are as at be by did do does for from has have how i in is it its me of on or "
    "our show tell than that the their them they this to was were what when where which who why "
    "with you your".split()
)


class SearchHit(BaseModel):
    """One matching document."""

    model_config = ConfigDict(frozen=True)

    title: str
    snippet: str
    tickers: list[str]
    score: float


class SearchResults(BaseModel):
    """The best matches for a query, best first, and the tickers they mention."""

    model_config = ConfigDict(frozen=True)

    query: str
    results: list[SearchHit]
    tickers: list[str]


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.casefold().replace("'s", "")) if w not in _STOPWORDS]


@dataclass(frozen=True, slots=True)
class _Doc:
    title: str
    text: str
    tickers: tuple[str, ...]
    counts: Counter[str]
    length: int


@dataclass(frozen=True, slots=True)
class _Index:
    docs: tuple[_Doc, ...]
    idf: dict[str, float]
    avg_length: float


@functools.cache
def _index() -> _Index:
    raw = resources.files("reasoner.tools").joinpath("data", "demo_corpus.jsonl").read_text(encoding="utf-8")
    known = "|".join(sorted(sample_tickers(), key=len, reverse=True))
    ticker_re = re.compile(rf"\b(?:{known})\b")
    docs = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        title, text = str(item["title"]), str(item["text"])
        tickers = tuple(dict.fromkeys(ticker_re.findall(f"{title} {text}")))
        terms = _terms(title) * _TITLE_WEIGHT + _terms(text)
        docs.append(_Doc(title, text, tickers, Counter(terms), len(terms)))
    df: Counter[str] = Counter(term for doc in docs for term in doc.counts)
    n = len(docs)
    idf = {term: math.log(1 + (n - k + 0.5) / (k + 0.5)) for term, k in df.items()}
    return _Index(tuple(docs), idf, sum(d.length for d in docs) / n)


def _bm25(index: _Index, doc: _Doc, query: list[str]) -> float:
    norm = _K1 * (1 - _B + _B * doc.length / index.avg_length)
    score = 0.0
    for term in query:
        tf = doc.counts.get(term, 0)
        if tf:
            score += index.idf[term] * tf * (_K1 + 1) / (tf + norm)
    return score


def _snippet(text: str) -> str:
    if len(text) <= _SNIPPET_CHARS:
        return text
    return text[: _SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


@tool(timeout=10, cache=True)
def search(query: str, k: Annotated[int, Field(ge=1, le=MAX_K)] = 3) -> SearchResults:
    """Find facts and tickers of companies (bundled corpus: tech, cloud, units, science, geography).

    Args:
        query: A few keywords, e.g. "largest cloud providers".
        k: How many results to return (1 to 10).

    Raises:
        ToolRetry: the query has no searchable words.
    """
    words = list(dict.fromkeys(_terms(query)))
    if not words:
        raise ToolRetry(f"search: the query {query!r} has no searchable words; use keywords, e.g. 'largest cloud providers'")
    index = _index()
    scored = [(_bm25(index, doc, words), i) for i, doc in enumerate(index.docs)]
    # best score first; corpus order breaks ties, so results never depend on dict or float noise
    ranked = sorted((item for item in scored if item[0] > 0), key=lambda item: (-round(item[0], 9), item[1]))
    top = [index.docs[i] for _, i in ranked[: max(1, min(k, MAX_K))]]
    scores = [score for score, _ in ranked]
    hits = [
        SearchHit(title=doc.title, snippet=_snippet(doc.text), tickers=list(doc.tickers), score=round(score, 4))
        for doc, score in zip(top, scores)
    ]
    tickers = list(dict.fromkeys(t for hit in hits for t in hit.tickers))
    return SearchResults(query=query, results=hits, tickers=tickers)
