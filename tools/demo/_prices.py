"""stock_price: closing prices from the bundled sample table (sample data, not real quotes).

The table is ``reasoner/tools/data/sample_prices.csv``: 20 tickers, five trading days
(2024-12-02 to 2024-12-06), made up for the demo. Every :class:`Price` carries
``source="sample data"`` so no answer can pass it off as a real quote.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from dataclasses import dataclass
from importlib import resources

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ToolRetry
from reasoner.tools import tool

__all__ = ["SAMPLE_SOURCE", "Price", "sample_tickers", "stock_price"]

SAMPLE_SOURCE = "sample data"

# Company names a small planner tends to write instead of the symbol.
_ALIASES: dict[str, str] = {
    "adobe": "ADBE",
    "alibaba": "BABA",
    "alphabet": "GOOGL",
    "amazon": "AMZN",
    "apple": "AAPL",
    "asml": "ASML",
    "cisco": "CSCO",
    "facebook": "META",
    "google": "GOOGL",
    "goog": "GOOGL",
    "ibm": "IBM",
    "intel": "INTC",
    "meta": "META",
    "microsoft": "MSFT",
    "netflix": "NFLX",
    "nvidia": "NVDA",
    "oracle": "ORCL",
    "salesforce": "CRM",
    "sap": "SAP",
    "tesla": "TSLA",
    "tsmc": "TSM",
    "uber": "UBER",
}


class Price(BaseModel):
    """One closing price from the bundled sample table."""

    model_config = ConfigDict(frozen=True)

    ticker: str
    name: str
    close: float
    currency: str
    date: str
    source: str = SAMPLE_SOURCE


@dataclass(frozen=True, slots=True)
class _Listing:
    ticker: str
    name: str
    currency: str
    closes: tuple[tuple[dt.date, float], ...]  # ascending by date


@functools.cache
def _table() -> dict[str, _Listing]:
    text = resources.files("reasoner.tools").joinpath("data", "sample_prices.csv").read_text(encoding="utf-8")
    rows: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        rows.setdefault(row["ticker"], []).append(row)
    table: dict[str, _Listing] = {}
    for ticker, items in rows.items():
        closes = sorted((dt.date.fromisoformat(r["date"]), float(r["close"])) for r in items)
        table[ticker] = _Listing(ticker, items[0]["name"], items[0]["currency"], tuple(closes))
    return table


def sample_tickers() -> list[str]:
    """The ticker symbols in the sample price table, sorted."""
    return sorted(_table())


def _find(ticker: str) -> _Listing:
    table = _table()
    key = ticker.strip().lstrip("$").rsplit(":", 1)[-1].strip()  # "$MSFT", "NASDAQ:MSFT"
    listing = table.get(key.upper()) or table.get(_ALIASES.get(key.casefold(), ""))
    if listing is None:
        raise ToolRetry(
            f"stock_price: unknown ticker {ticker!r}; the sample price table has "
            f"{', '.join(sorted(table))}: pass one of these symbols, e.g. 'MSFT'"
        )
    return listing


@tool(timeout=10, cache=True)
def stock_price(ticker: str, date: str | None = None) -> Price:
    """Closing stock price for a ticker, from a bundled sample table (sample data, not real quotes).

    Args:
        ticker: Stock symbol, e.g. "MSFT" (company names like "Microsoft" also work).
        date: Trading day as YYYY-MM-DD; omit for the latest close.

    Raises:
        ToolRetry: the ticker is not in the table, or the date is malformed or outside it.
    """
    listing = _find(ticker)
    first, last = listing.closes[0][0], listing.closes[-1][0]
    if date is None or not date.strip():
        day, close = listing.closes[-1]
    else:
        try:
            wanted = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise ToolRetry(f"stock_price: date {date!r} is not YYYY-MM-DD; write e.g. '{last}'") from None
        if not first <= wanted <= last:
            raise ToolRetry(
                f"stock_price: no sample price for {listing.ticker} on {wanted}; "
                f"the table covers {first} to {last} (omit date for the latest close)"
            )
        # the last trading day on or before the wanted date (weekends fall back to Friday)
        day, close = max(item for item in listing.closes if item[0] <= wanted)
    return Price(
        ticker=listing.ticker, name=listing.name, close=close, currency=listing.currency, date=day.isoformat()
    )
