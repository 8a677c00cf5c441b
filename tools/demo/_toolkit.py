"""demo_tools(): the offline demo toolkit the CLI registers by default."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from reasoner.tools.demo._calculator import calculator
from reasoner.tools.demo._chart import chart, make_chart
from reasoner.tools.demo._prices import stock_price
from reasoner.tools.demo._search import search
from reasoner.tools.demo._units import convert_units

__all__ = ["demo_tools"]


def demo_tools(*, chart_dir: str | os.PathLike[str] | None = None) -> list[Callable[..., Any]]:
    """The demo tools, offline and deterministic: search, stock_price, chart, calculator, convert_units.

    ``chart_dir`` is where ``chart`` writes its PNGs (default: ``<temp dir>/reasoner-charts``).
    Prices come from a bundled sample table and are labelled "sample data".
    """
    return [search, stock_price, make_chart(chart_dir) if chart_dir is not None else chart, calculator, convert_units]
