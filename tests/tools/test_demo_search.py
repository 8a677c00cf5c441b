"""search: BM25 over the bundled corpus; deterministic results a planner can chain from."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from reasoner.errors import ToolRetry
from reasoner.tools.demo import sample_tickers, search


def _corpus() -> list[dict[str, str]]:
    text = resources.files("reasoner.tools").joinpath("data", "demo_corpus.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_largest_cloud_providers_lead_to_their_tickers_in_market_share_order() -> None:
    result = search("Which three cloud providers are largest?")
    assert result.results[0].title.startswith("Largest cloud providers")
    assert result.tickers[:3] == ["AMZN", "MSFT", "GOOGL"]
    assert "30%" in result.results[0].snippet


def test_results_are_ranked_best_first_and_identical_on_every_call() -> None:
    first = search("cloud market share", k=5)
    scores = [hit.score for hit in first.results]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert search("cloud market share", k=5) == first


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("how tall is mount everest", "Mount Everest"),
        ("What is the capital of Australia?", "Canberra"),
        ("longest river in the world", "Nile River"),
        ("Amazon river length", "Amazon River"),
        ("kibibyte", "Kilobytes and kibibytes"),
        ("Who founded Nvidia?", "Nvidia"),
    ],
)
def test_factual_questions_find_the_document_that_answers_them(query: str, title: str) -> None:
    assert search(query).results[0].title == title


def test_case_and_plurals_do_not_change_the_ranking() -> None:
    assert search("Cloud Providers").results == search("cloud provider").results


def test_a_river_named_amazon_has_no_ticker() -> None:
    hit = search("Amazon River South America").results[0]
    assert hit.title == "Amazon River"
    assert hit.tickers == []


def test_k_bounds_the_number_of_results() -> None:
    assert len(search("cloud", k=1).results) == 1
    assert len(search("company founded headquartered", k=100).results) == 10
    assert len(search("company founded headquartered", k=0).results) == 1


def test_a_query_matching_nothing_returns_no_results() -> None:
    result = search("zebra quantum xylophone")
    assert result.results == []
    assert result.tickers == []


def test_a_query_of_only_stopwords_asks_the_planner_for_keywords() -> None:
    with pytest.raises(ToolRetry, match="no searchable words"):
        search("what is the")


def test_every_ticker_search_reports_can_be_priced() -> None:
    known = set(sample_tickers())
    for doc in _corpus():
        for ticker in search(doc["title"], k=10).tickers:
            assert ticker in known


def test_corpus_is_small_short_and_well_formed() -> None:
    docs = _corpus()
    assert 30 <= len(docs) <= 60
    assert len({doc["id"] for doc in docs}) == len(docs)
    for doc in docs:
        assert set(doc) == {"id", "title", "text"}
        assert len(doc["text"]) <= 400  # so a snippet is the whole document
    mentioned = {t for doc in docs for t in sample_tickers() if f"({t})" in doc["text"]}
    assert mentioned == set(sample_tickers())  # every priced company can be found by search
