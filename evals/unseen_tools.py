"""A small registry of tools the shipped adapter never saw in training, for generalization evals.

``reasoner eval --dataset unseen --tools reasoner.evals.unseen_tools:TOOLS --no-demo``
scores a model on ``evals/datasets/unseen.jsonl``: weather, exchange rates and populations
from small bundled tables (sample data, made up for the eval), plus the demo calculator,
which the adapter does know, so that mixed plans are tested too.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ToolRetry
from reasoner.tools import tool
from reasoner.tools.demo import calculator

__all__ = ["TOOLS", "Forecast", "Population", "Rate", "exchange_rate", "population", "weather"]

_WEATHER: dict[str, tuple[float, float, str]] = {
    "oslo": (-2.0, -7.5, "snow"),
    "cairo": (24.5, 13.0, "sunny"),
    "london": (9.0, 4.5, "rain"),
    "madrid": (14.0, 3.5, "clear"),
    "tokyo": (12.5, 5.0, "cloudy"),
    "sydney": (26.0, 18.5, "sunny"),
    "toronto": (1.5, -4.0, "snow"),
    "mumbai": (33.0, 22.5, "haze"),
}
_RATES: dict[str, float] = {"USD": 1.0, "EUR": 0.9512, "GBP": 0.7874, "JPY": 150.12, "CHF": 0.8803, "CAD": 1.4021, "INR": 84.71}
_POPULATION: dict[str, int] = {
    "canada": 41_288_599, "brazil": 212_583_750, "nigeria": 232_679_478, "germany": 84_552_242,
    "france": 66_548_530, "japan": 123_753_041, "india": 1_450_935_791, "australia": 26_713_205,
}  # fmt: skip


class Forecast(BaseModel):
    """The forecast for one city and day (sample data)."""

    model_config = ConfigDict(frozen=True)

    city: str
    date: str
    high_c: float
    low_c: float
    conditions: str


class Rate(BaseModel):
    """How many units of ``quote`` one unit of ``base`` buys (sample data)."""

    model_config = ConfigDict(frozen=True)

    base: str
    quote: str
    rate: float


class Population(BaseModel):
    """A country's population (sample data, 2024)."""

    model_config = ConfigDict(frozen=True)

    country: str
    population: int
    year: int


@tool
def weather(city: str, date: str = "2024-12-06") -> Forecast:
    """Weather forecast for a city: high and low in °C and the conditions.

    Args:
        city: City name, e.g. "Oslo".
        date: Day as YYYY-MM-DD.
    """
    row = _WEATHER.get(city.strip().casefold())
    if row is None:
        raise ToolRetry(f"weather: no forecast for {city!r}; known cities: {', '.join(c.title() for c in _WEATHER)}")
    high, low, conditions = row
    return Forecast(city=city.strip().title(), date=date, high_c=high, low_c=low, conditions=conditions)


@tool
def exchange_rate(base: str, quote: str) -> Rate:
    """Currency exchange rate: units of quote per one unit of base.

    Args:
        base: Currency code to convert from, e.g. "EUR".
        quote: Currency code to convert to, e.g. "USD".
    """
    b, q = base.strip().upper(), quote.strip().upper()
    for code in (b, q):
        if code not in _RATES:
            raise ToolRetry(f"exchange_rate: unknown currency {code!r}; known: {', '.join(_RATES)}")
    return Rate(base=b, quote=q, rate=round(_RATES[q] / _RATES[b], 6))


@tool
def population(country: str) -> Population:
    """Population of a country.

    Args:
        country: Country name, e.g. "Japan".
    """
    count = _POPULATION.get(country.strip().casefold())
    if count is None:
        raise ToolRetry(f"population: no figure for {country!r}; known: {', '.join(c.title() for c in _POPULATION)}")
    return Population(country=country.strip().title(), population=count, year=2024)


TOOLS = [weather, exchange_rate, population, calculator]
