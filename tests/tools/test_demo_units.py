"""convert_units: six kinds of quantity, forgiving spellings, clear refusals."""

from __future__ import annotations

import itertools

import pytest

from reasoner.errors import ToolRetry
from reasoner.tools.demo import convert_units
from reasoner.tools.demo._units import unit_symbols


@pytest.mark.parametrize(
    ("value", "source", "target", "result"),
    [
        (10, "mi", "km", 16.09344),
        (1, "nmi", "m", 1852),
        (12, "in", "ft", 1),
        (150, "lb", "kg", 68.0388555),
        (1, "st", "lb", 14),
        (100, "°C", "°F", 212),
        (-40, "F", "C", -40),
        (0, "K", "°C", -273.15),
        (1, "wk", "s", 604_800),
        (1, "yr", "d", 365.25),
        (1, "GiB", "MB", 1073.741824),
        (1, "kB", "B", 1000),
        (100, "Mbit", "MB", 12.5),
        (60, "mph", "km/h", 96.56064),
        (1, "kn", "km/h", 1.852),
        (1, "ly", "km", 9_460_730_472_580.8),
    ],
)
def test_conversions(value: float, source: str, target: str, result: float) -> None:
    conversion = convert_units(value, source, target)
    assert conversion.result == pytest.approx(result, rel=1e-12)


@pytest.mark.parametrize(
    ("spelling", "symbol"),
    [
        ("kilometres", "km"),
        ("Kilometers", "km"),
        ("miles", "mi"),
        ("feet", "ft"),
        ("inches", "in"),
        ("degrees Celsius", "°C"),
        ("fahrenheit", "°F"),
        ("mb", "MB"),
        ("µm", "um"),
        ("kilometres per hour", "km/h"),
        ("knots", "kn"),
        ("hours", "h"),
    ],
)
def test_names_plurals_and_case_are_recognised(spelling: str, symbol: str) -> None:
    conversion = convert_units(1, spelling, spelling)
    assert (conversion.from_unit, conversion.result) == (symbol, 1)


def test_output_names_the_canonical_units_and_quantity() -> None:
    conversion = convert_units(5, "feet", "metres")
    assert (conversion.value, conversion.from_unit, conversion.to_unit, conversion.quantity) == (5, "ft", "m", "length")
    assert conversion.result == 1.524


def test_results_drop_floating_point_noise() -> None:
    assert convert_units(100, "C", "F").result == 212.0


def test_every_pair_of_same_kind_units_round_trips() -> None:
    for quantity, symbols in unit_symbols().items():
        for a, b in itertools.permutations(symbols, 2):
            there = convert_units(300.0, a, b).result
            assert convert_units(there, b, a).result == pytest.approx(300.0, rel=1e-9), (quantity, a, b)


def test_units_of_different_kinds_are_refused_with_both_kinds_named() -> None:
    with pytest.raises(ToolRetry, match=r"cannot convert kg \(mass\) to m \(length\)"):
        convert_units(3, "kg", "m")


def test_unknown_units_get_a_suggestion() -> None:
    with pytest.raises(ToolRetry, match="unknown from unit 'kilometr'; did you mean 'km'"):
        convert_units(1, "kilometr", "m")
    with pytest.raises(ToolRetry, match="unknown to unit 'furlong'.*length: m km"):
        convert_units(1, "m", "furlong")


def test_temperatures_below_absolute_zero_are_refused() -> None:
    with pytest.raises(ToolRetry, match="below absolute zero"):
        convert_units(-300, "°C", "K")


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ToolRetry, match="not a finite number"):
        convert_units(float("nan"), "m", "km")


def test_six_kinds_of_quantity() -> None:
    assert set(unit_symbols()) == {"length", "mass", "temperature", "time", "data", "speed"}
