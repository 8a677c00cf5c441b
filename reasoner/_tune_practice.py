"""Practice tools: small, deterministic tools that only the tuning recipe uses.

The shipped adapter is trained mostly on the demo toolkit; a planner that has only ever
seen five tools in one order learns their positions rather than their descriptions. The
recipe therefore lists the demo tools in shuffled orders and, for some examples, beside
these practice tools, with questions that need them. None of them is in
``evals/unseen_tools.py`` (the registry that measures generalisation), and none is
registered anywhere at run time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import ToolRetry
from reasoner.tools import tool

__all__ = ["COUNTRIES", "practice_tools"]

# country -> (ISO 3166 alpha-2, alpha-3, calling code)
COUNTRIES: dict[str, tuple[str, str, str]] = {
    "Argentina": ("AR", "ARG", "+54"), "Brazil": ("BR", "BRA", "+55"), "Canada": ("CA", "CAN", "+1"),
    "Egypt": ("EG", "EGY", "+20"), "Finland": ("FI", "FIN", "+358"), "Greece": ("GR", "GRC", "+30"),
    "Iceland": ("IS", "ISL", "+354"), "Kenya": ("KE", "KEN", "+254"), "Mexico": ("MX", "MEX", "+52"),
    "Norway": ("NO", "NOR", "+47"), "Peru": ("PE", "PER", "+51"), "Portugal": ("PT", "PRT", "+351"),
    "Spain": ("ES", "ESP", "+34"), "Sweden": ("SE", "SWE", "+46"), "Vietnam": ("VN", "VNM", "+84"),
}  # fmt: skip


class Counts(BaseModel):
    """How long a text is."""

    model_config = ConfigDict(frozen=True)
    words: int
    characters: int


class Span(BaseModel):
    """The days from one date to another."""

    model_config = ConfigDict(frozen=True)
    start: str
    end: str
    days: int
    weeks: float


class CountryCodes(BaseModel):
    """A country's codes."""

    model_config = ConfigDict(frozen=True)
    country: str
    alpha2: str
    alpha3: str
    calling_code: str


class Split(BaseModel):
    """A bill shared out."""

    model_config = ConfigDict(frozen=True)
    total: float
    tip: float
    each: float


@tool
def word_count(text: str) -> Counts:
    """Count the words and characters of a text.

    Args:
        text: The text to measure.
    """
    return Counts(words=len(text.split()), characters=len(text))


def _date(text: str, which: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ToolRetry(f"days_between: {which} {text!r} is not a date; use YYYY-MM-DD") from exc


@tool
def days_between(start: str, end: str) -> Span:
    """Days from one date to another.

    Args:
        start: The first date, YYYY-MM-DD.
        end: The second date, YYYY-MM-DD.
    """
    days = (_date(end, "end") - _date(start, "start")).days
    return Span(start=start, end=end, days=days, weeks=round(days / 7, 2))


@tool
def country_codes(country: str) -> CountryCodes:
    """ISO codes and calling code of a country.

    Args:
        country: Country name, e.g. "Spain".
    """
    for name, (alpha2, alpha3, calling) in COUNTRIES.items():
        if country.strip().casefold() in (name.casefold(), alpha2.casefold(), alpha3.casefold()):
            return CountryCodes(country=name, alpha2=alpha2, alpha3=alpha3, calling_code=calling)
    raise ToolRetry(f"country_codes: unknown country {country!r}; known: {', '.join(COUNTRIES)}")


@tool
def split_bill(total: float, people: Annotated[int, Field(ge=1, le=100)], tip_percent: float = 0) -> Split:
    """Share a bill between people, with an optional tip.

    Args:
        total: The bill before the tip.
        people: How many people pay.
        tip_percent: Tip as a percentage of the bill.
    """
    tip = round(total * tip_percent / 100, 2)
    return Split(total=round(total + tip, 2), tip=tip, each=round((total + tip) / people, 2))


def practice_tools() -> list[Callable[..., Any]]:
    """The practice tools, in a fixed order."""
    return [word_count, days_between, country_codes, split_bill]
