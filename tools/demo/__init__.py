"""The offline demo toolkit: search, stock_price, chart, calculator, convert_units.

Everything runs without a network: ``search`` ranks a small bundled corpus,
``stock_price`` reads a bundled *sample* price table (labelled "sample data" wherever
it is shown), ``chart`` writes a PNG, ``calculator`` walks the arithmetic AST and
``convert_units`` converts common units. ``demo_tools()`` returns them all.
"""

from reasoner.tools.demo._calculator import CalcResult as CalcResult
from reasoner.tools.demo._calculator import calculator as calculator
from reasoner.tools.demo._chart import ChartResult as ChartResult
from reasoner.tools.demo._chart import chart as chart
from reasoner.tools.demo._chart import default_chart_dir as default_chart_dir
from reasoner.tools.demo._chart import make_chart as make_chart
from reasoner.tools.demo._prices import Price as Price
from reasoner.tools.demo._prices import sample_tickers as sample_tickers
from reasoner.tools.demo._prices import stock_price as stock_price
from reasoner.tools.demo._search import SearchHit as SearchHit
from reasoner.tools.demo._search import SearchResults as SearchResults
from reasoner.tools.demo._search import search as search
from reasoner.tools.demo._toolkit import DEMO_EXAMPLES as DEMO_EXAMPLES
from reasoner.tools.demo._toolkit import demo_tools as demo_tools
from reasoner.tools.demo._units import Conversion as Conversion
from reasoner.tools.demo._units import convert_units as convert_units

__all__ = [
    "CalcResult",
    "ChartResult",
    "Conversion",
    "DEMO_EXAMPLES",
    "Price",
    "SearchHit",
    "SearchResults",
    "calculator",
    "chart",
    "convert_units",
    "default_chart_dir",
    "demo_tools",
    "make_chart",
    "sample_tickers",
    "search",
    "stock_price",
]
