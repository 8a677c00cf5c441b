"""stock_price: the bundled sample price table, always labelled as sample data."""

from __future__ import annotations

import pytest

from reasoner.errors import ToolRetry
from reasoner.tools.demo import Price, sample_tickers, stock_price


def test_latest_close_is_the_default_and_is_labelled_sample_data() -> None:
    price = stock_price("MSFT")
    assert price == Price(ticker="MSFT", name="Microsoft Corporation", close=413.62, currency="USD", date="2024-12-06")
    assert price.source == "sample data"


def test_a_date_selects_that_day() -> None:
    assert stock_price("NVDA", "2024-12-03").close == 138.33
    assert stock_price("NVDA", date="2024-12-03").date == "2024-12-03"


@pytest.mark.parametrize("spelling", ["msft", " MSFT ", "$MSFT", "NASDAQ:MSFT", "Microsoft", "microsoft"])
def test_symbols_and_company_names_are_accepted(spelling: str) -> None:
    assert stock_price(spelling).ticker == "MSFT"


def test_european_listings_are_priced_in_euros() -> None:
    assert stock_price("SAP").currency == "EUR"
    assert stock_price("ASML").currency == "EUR"


def test_unknown_ticker_tells_the_planner_which_ones_exist() -> None:
    with pytest.raises(ToolRetry) as caught:
        stock_price("ZZZZ")
    message = str(caught.value)
    assert "'ZZZZ'" in message
    assert all(ticker in message for ticker in sample_tickers())


@pytest.mark.parametrize("date", ["2024-11-29", "2025-01-02"])
def test_dates_outside_the_table_name_the_range(date: str) -> None:
    with pytest.raises(ToolRetry, match="2024-12-02 to 2024-12-06"):
        stock_price("AAPL", date)


def test_a_malformed_date_says_the_expected_format() -> None:
    with pytest.raises(ToolRetry, match="YYYY-MM-DD"):
        stock_price("AAPL", "Dec 5")


def test_the_table_has_twenty_tickers_with_five_days_each() -> None:
    tickers = sample_tickers()
    assert len(tickers) == 20
    for ticker in tickers:
        days = {stock_price(ticker, f"2024-12-0{d}").date for d in range(2, 7)}
        assert len(days) == 5
