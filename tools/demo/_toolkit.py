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

__all__ = ["DEMO_EXAMPLES", "demo_tools"]


def demo_tools(*, chart_dir: str | os.PathLike[str] | None = None) -> list[Callable[..., Any]]:
    """The demo tools, offline and deterministic: search, stock_price, chart, calculator, convert_units.

    ``chart_dir`` is where ``chart`` writes its PNGs (default: :func:`default_chart_dir`).
    Prices come from a bundled sample table and are labelled "sample data".
    """
    return [search, stock_price, make_chart(chart_dir) if chart_dir is not None else chart, calculator, convert_units]


# Worked examples for the planner prompt (Engine(examples=...)). Their questions are not
# in the eval set (evals/datasets/demo.jsonl), so eval scores do not reward memorising them.
DEMO_EXAMPLES: list[tuple[str, str]] = [
    (
        "Which two companies lead the smartphone market? Chart their latest share prices.",
        '{"nodes":[{"id":1,"tool":"search","args":{"query":"largest smartphone makers"}},'
        '{"id":2,"tool":"stock_price","args":{"ticker":{"$ref":1,"path":"tickers.0"}}},'
        '{"id":3,"tool":"stock_price","args":{"ticker":{"$ref":1,"path":"tickers.1"}}},'
        '{"id":4,"tool":"chart","args":{"values":[{"$ref":2,"path":"close"},{"$ref":3,"path":"close"}],'
        '"labels":[{"$ref":2,"path":"ticker"},{"$ref":3,"path":"ticker"}],"title":"Latest close"}}]}',
    ),
    ("How many metres are in 3 miles?", '{"nodes":[{"id":1,"tool":"convert_units","args":{"value":3,"from_unit":"mile","to_unit":"metre"}}]}'),
    ("What is 12 times 7, plus 5?", '{"nodes":[{"id":1,"tool":"calculator","args":{"expression":"12*7+5"}}]}'),
]
