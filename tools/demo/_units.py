"""convert_units: length, mass, temperature, time, data size and speed.

Units are matched by symbol or name, in any case, singular or plural ("km",
"kilometres", "Kilometers"); "degrees" and "°" are optional for temperatures.
Data sizes: kB/MB/GB/TB/PB are powers of 1000 bytes, KiB/MiB/GiB/TiB powers of 1024,
and bits are spelt out ("bit", "kbit", "Mbit", "Gbit", "megabit"): "mb" is a megabyte.
A year is the Julian year of 365.25 days. Results keep 12 significant digits.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ToolRetry
from reasoner.tools import tool

__all__ = ["Conversion", "convert_units", "unit_symbols"]


class Conversion(BaseModel):
    """A value converted from one unit to another."""

    model_config = ConfigDict(frozen=True)

    value: float
    from_unit: str
    to_unit: str
    result: float
    quantity: str


@dataclass(frozen=True, slots=True)
class _Unit:
    symbol: str
    quantity: str
    factor: float  # value in the quantity's base unit = value * factor + offset
    offset: float = 0.0


_MILE = 1609.344
_POUND = 0.45359237
_DAY = 86_400.0
_F = 5 / 9

# (symbol, quantity, factor, offset, names); a name also matches with an "s" added
_DEFINITIONS: tuple[tuple[str, str, float, float, tuple[str, ...]], ...] = (
    ("m", "length", 1.0, 0, ("meter", "metre")),
    ("km", "length", 1e3, 0, ("kilometer", "kilometre")),
    ("cm", "length", 1e-2, 0, ("centimeter", "centimetre")),
    ("mm", "length", 1e-3, 0, ("millimeter", "millimetre")),
    ("um", "length", 1e-6, 0, ("µm", "micrometer", "micrometre", "micron")),
    ("nm", "length", 1e-9, 0, ("nanometer", "nanometre")),
    ("mi", "length", _MILE, 0, ("mile",)),
    ("yd", "length", 0.9144, 0, ("yard",)),
    ("ft", "length", 0.3048, 0, ("foot", "feet")),
    ("in", "length", 0.0254, 0, ("inch", "inches")),
    ("nmi", "length", 1852.0, 0, ("nautical mile",)),
    ("au", "length", 149_597_870_700.0, 0, ("astronomical unit",)),
    ("ly", "length", 9_460_730_472_580_800.0, 0, ("light year", "lightyear")),
    ("kg", "mass", 1.0, 0, ("kilogram", "kilo")),
    ("g", "mass", 1e-3, 0, ("gram", "gramme")),
    ("mg", "mass", 1e-6, 0, ("milligram",)),
    ("ug", "mass", 1e-9, 0, ("µg", "microgram")),
    ("t", "mass", 1e3, 0, ("tonne", "metric ton")),
    ("lb", "mass", _POUND, 0, ("pound", "lbs")),
    ("oz", "mass", _POUND / 16, 0, ("ounce",)),
    ("st", "mass", _POUND * 14, 0, ("stone",)),
    ("K", "temperature", 1.0, 0, ("kelvin",)),
    ("°C", "temperature", 1.0, 273.15, ("celsius", "centigrade", "degc")),
    ("°F", "temperature", _F, 273.15 - 32 * _F, ("fahrenheit", "degf")),
    ("ns", "time", 1e-9, 0, ("nanosecond",)),
    ("ms", "time", 1e-3, 0, ("millisecond",)),
    ("s", "time", 1.0, 0, ("second", "sec")),
    ("min", "time", 60.0, 0, ("minute", "mins")),
    ("h", "time", 3600.0, 0, ("hour", "hr")),
    ("d", "time", _DAY, 0, ("day",)),
    ("wk", "time", 7 * _DAY, 0, ("week",)),
    ("yr", "time", 365.25 * _DAY, 0, ("year", "y")),
    ("B", "data", 1.0, 0, ("byte",)),
    ("kB", "data", 1e3, 0, ("kilobyte",)),
    ("MB", "data", 1e6, 0, ("megabyte",)),
    ("GB", "data", 1e9, 0, ("gigabyte",)),
    ("TB", "data", 1e12, 0, ("terabyte",)),
    ("PB", "data", 1e15, 0, ("petabyte",)),
    ("KiB", "data", 2.0**10, 0, ("kibibyte",)),
    ("MiB", "data", 2.0**20, 0, ("mebibyte",)),
    ("GiB", "data", 2.0**30, 0, ("gibibyte",)),
    ("TiB", "data", 2.0**40, 0, ("tebibyte",)),
    ("bit", "data", 1 / 8, 0, ()),
    ("kbit", "data", 1e3 / 8, 0, ("kilobit",)),
    ("Mbit", "data", 1e6 / 8, 0, ("megabit",)),
    ("Gbit", "data", 1e9 / 8, 0, ("gigabit",)),
    ("m/s", "speed", 1.0, 0, ("meter per second", "metre per second", "meters per second", "metres per second", "mps")),
    ("km/h", "speed", 1e3 / 3600, 0, ("kph", "kmh", "km/hr", "kilometer per hour", "kilometre per hour",
                                      "kilometers per hour", "kilometres per hour")),
    ("mph", "speed", _MILE / 3600, 0, ("mi/h", "mile per hour", "miles per hour")),
    ("kn", "speed", 1852 / 3600, 0, ("knot", "kt", "kts")),
    ("ft/s", "speed", 0.3048, 0, ("fps", "foot per second", "feet per second")),
)


def _key(text: str) -> str:
    folded = text.casefold().replace("°", " ").replace("-", " ").replace("degrees", " ").replace("degree", " ")
    return " ".join(folded.split())


def _build() -> dict[str, _Unit]:
    units: dict[str, _Unit] = {}
    for symbol, quantity, factor, offset, names in _DEFINITIONS:
        unit = _Unit(symbol, quantity, factor, offset)
        for name in (symbol, *names, *(n + "s" for n in names if not n.endswith("s"))):
            key = _key(name)
            if units.setdefault(key, unit) is not unit:
                raise RuntimeError(f"unit name {name!r} is defined twice")  # a bug in the table above
    return units


_UNITS = _build()


def unit_symbols() -> dict[str, list[str]]:
    """The canonical unit symbols, grouped by quantity (length, mass, ...)."""
    groups: dict[str, list[str]] = {}
    for symbol, quantity, *_ in _DEFINITIONS:
        groups.setdefault(quantity, []).append(symbol)
    return groups


def _find(text: str, role: str) -> _Unit:
    unit = _UNITS.get(_key(text))
    if unit is None:
        close = difflib.get_close_matches(_key(text), list(_UNITS), n=5, cutoff=0.6)
        symbols = dict.fromkeys(_UNITS[c].symbol for c in close)
        hint = f"did you mean {' or '.join(map(repr, symbols))}? " if symbols else ""
        known = "; ".join(f"{q}: {' '.join(s)}" for q, s in unit_symbols().items())
        raise ToolRetry(f"convert_units: unknown {role} unit {text!r}; {hint}known units are {known}")
    return unit


@tool(timeout=10, cache=True)
def convert_units(value: float, from_unit: str, to_unit: str) -> Conversion:
    """Convert a value from one unit to another (length, mass, temperature, time, data size, speed).

    Args:
        value: The number to convert.
        from_unit: Its unit, e.g. "mi", "kg", "°F", "GB", "km/h".
        to_unit: The unit wanted, of the same kind, e.g. "km".

    Raises:
        ToolRetry: a unit is unknown, the units measure different things, or the value is impossible.
    """
    source, target = _find(from_unit, "from"), _find(to_unit, "to")
    if source.quantity != target.quantity:
        raise ToolRetry(
            f"convert_units: cannot convert {source.symbol} ({source.quantity}) to {target.symbol} "
            f"({target.quantity}); pick a to_unit of {source.quantity}, e.g. {' '.join(unit_symbols()[source.quantity][:4])}"
        )
    if not math.isfinite(value):
        raise ToolRetry(f"convert_units: value {value!r} is not a finite number")
    base = value * source.factor + source.offset
    if source.quantity == "temperature" and base < 0:
        raise ToolRetry(f"convert_units: {value:g} {source.symbol} is below absolute zero")
    result = float(f"{(base - target.offset) / target.factor:.12g}")
    if not math.isfinite(result):  # 1e308 km in mm: past the largest float
        raise ToolRetry(f"convert_units: {value:g} {source.symbol} in {target.symbol} is too large for a number; use a larger unit")
    return Conversion(value=value, from_unit=source.symbol, to_unit=target.symbol, result=result, quantity=source.quantity)
