"""BM25 tool retrieval over names, descriptions and parameter docs."""

from __future__ import annotations

from reasoner.planner._retrieval import ToolRetriever, words
from reasoner.tools import ToolRegistry, ToolSpec
from reasoner.tools.demo import demo_tools


def _spec(name: str, description: str, params: dict[str, str]) -> ToolSpec:
    schema = {
        "type": "object",
        "properties": {p: {"type": "string", "description": d} for p, d in params.items()},
        "required": list(params),
        "additionalProperties": False,
    }
    return ToolSpec(name=name, description=description, input_schema=schema, output_schema=None, fn=lambda **kw: kw, is_async=False)


DISTRACTORS = [
    _spec("crypto_price", "Latest price of a cryptocurrency in US dollars.", {"coin": "Coin symbol, e.g. BTC."}),
    _spec("weather_forecast", "Weather forecast for a city.", {"city": "City name."}),
    _spec("translate_text", "Translate text between languages.", {"text": "The text.", "target": "Language code."}),
    _spec("send_email", "Send an email message.", {"to": "Recipient address.", "body": "Message body."}),
    _spec("currency_rate", "Exchange rate between two currencies.", {"base": "e.g. USD.", "quote": "e.g. EUR."}),
]


def test_words_split_names_drop_stop_words_and_stem() -> None:
    assert words("What are the stock prices of convert_units and toCelsius?") == ["stock", "pric", "convert", "unit", "celsiu"]
    assert words("price") == words("prices") == words("priced")


def test_bm25_ranks_the_tool_a_question_needs_first() -> None:
    retriever = ToolRetriever(ToolRegistry.of([*demo_tools(), *DISTRACTORS]))
    assert retriever.select("What is the latest stock price of Microsoft?", 3).tools[0] == "stock_price"
    assert retriever.select("How many kilometres are 26 miles? Convert the units", 3).tools[0] == "convert_units"
    assert retriever.select("Will it rain in Oslo tomorrow? weather", 3).tools[0] == "weather_forecast"
    assert retriever.select("Draw a bar chart of these numbers", 2).tools[0] == "chart"


def test_select_reports_scores_best_first_and_the_registry_size() -> None:
    retriever = ToolRetriever(ToolRegistry.of([*demo_tools(), *DISTRACTORS]))
    picked = retriever.select("bitcoin crypto price", 4)
    assert picked.of == 10 and len(picked.tools) == 4
    assert list(picked.scores) == sorted(picked.scores, reverse=True)
    assert picked.to_dict()["tools"] == list(picked.tools)


def test_words_a_question_implies_reach_the_tools_that_need_them() -> None:
    retriever = ToolRetriever(ToolRegistry.of([*demo_tools(), *DISTRACTORS]))
    # no word of these names the calculator: "difference", "%", "fall" imply arithmetic
    for question in ("What is the difference between 1,234 and 987?", "Is 12% of 80 more than 9?", "How far did it fall from 90 to 72?"):
        assert "calculator" in retriever.select(question, 2).tools, question
    assert "calculator" not in retriever.select("What is the weather in Oslo?", 2).tools


def test_a_tool_whose_output_feeds_a_chosen_tool_joins_it() -> None:
    # search returns "tickers", stock_price needs a "ticker": a question about companies it
    # does not name needs both, though its words point at prices and charts
    near = [
        _spec("company_news", "Latest news about listed companies and their stock.", {"symbol": "Symbol."}),
        _spec("company_profile", "Profile of companies: sector, stock exchange.", {"symbol": "Symbol."}),
        _spec("line_chart", "Draw a line chart of stock prices.", {"values": "Numbers."}),
        _spec("stock_dividend", "Dividend of a stock, per share.", {"symbol": "Symbol."}),
    ]
    retriever = ToolRetriever(ToolRegistry.of([*demo_tools(), *DISTRACTORS, *near]))
    question = "Chart the stock prices of the biggest streaming companies"
    picked = retriever.select(question, 4)
    assert "stock_price" in picked.tools[:4] and picked.tools[4:] == ("search",)
    # a question that matches no word of the producer does not pull it in
    assert "search" not in retriever.select("Chart the stock price of MSFT", 4).tools
