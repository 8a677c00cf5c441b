"""The recipe of the shipped adapter (``reasoner tune --recipe embedded``): seeds and settings.

The seeds below are templates over the demo toolkit (see ``reasoner._tune_data`` for the
slot syntax); :func:`recipe_examples` expands them with the demo data (tickers, trading
days) and the values each seed lists, executes every plan, and keeps what succeeds.
None of these questions is an eval question (a test checks every 8-word run against
``evals/datasets``), and the facts the answers cite come from executing the tools.
"""

from __future__ import annotations

from typing import Any

from reasoner._tune_practice import COUNTRIES

__all__ = ["EMBEDDED", "SEEDS"]

_P1 = {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}"}}]}
_P1_DATE = {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}", "date": "{{date}}"}}]}
_PRICE_ANSWER = "{{$1.name}} ({{$1.ticker}}) closed at {{$1.close}} {{$1.currency}} on {{$1.date}} (sample data)."


def _price(i: int, slot: str) -> dict[str, Any]:
    return {"id": i, "tool": "stock_price", "args": {"ticker": "{{" + slot + ".ticker}}"}}


def _ref(i: int, path: str) -> dict[str, Any]:
    return {"$ref": i, "path": path}


def _chart(i: int, ids: list[int], title: str) -> dict[str, Any]:
    return {"id": i, "tool": "chart", "args": {"values": [_ref(k, "close") for k in ids], "labels": [_ref(k, "ticker") for k in ids], "title": title}}


_TWO = "{{$1.name}} closed at {{$1.close}} {{$1.currency}} and {{$2.name}} at {{$2.close}} {{$2.currency}} (sample data, {{$1.date}})."
_THREE = "{{$1.name}} {{$1.close}}, {{$2.name}} {{$2.close}} and {{$3.name}} {{$3.close}} {{$1.currency}} (sample data, {{$1.date}})."

_GROUP_PRICES = "{{$2.name}} {{$2.close}}, {{$3.name}} {{$3.close}} and {{$4.name}} {{$4.close}} {{$2.currency}} (sample data)."
_GROUP_CHART = "{{$2.name}} {{$2.close}}, {{$3.name}} {{$3.close}}, {{$4.name}} {{$4.close}} (sample data); chart: {{$5.path}}."

# groups of companies the search corpus lists (first: the ticker a right search puts first)
_GROUPS = [
    {"q": "biggest cloud companies", "query": "biggest cloud infrastructure providers", "title": "Biggest cloud companies", "first": "AMZN"},
    {"q": "leading cloud platforms", "query": "leading cloud providers market share", "title": "Leading cloud platforms", "first": "AMZN"},
    {"q": "cloud giants by market share", "query": "top cloud providers by market share", "title": "Cloud giants", "first": "AMZN"},
    {"q": "cloud vendors behind the big three", "query": "smaller cloud vendors", "title": "Smaller cloud vendors", "first": "BABA"},
    {"q": "next-largest cloud vendors", "query": "cloud vendors after the big three", "title": "Next cloud vendors", "first": "BABA"},
    {"q": "most valuable chip companies", "query": "largest chip companies", "title": "Chip companies", "first": "NVDA"},
    {"q": "top semiconductor firms", "query": "biggest semiconductor companies chips", "title": "Semiconductor firms", "first": "NVDA"},
    {"q": "largest listed companies by value", "query": "most valuable listed companies", "title": "Most valuable companies", "first": "AAPL"},
    {"q": "world's most valuable firms", "query": "most valuable companies in the world", "title": "Most valuable firms", "first": "AAPL"},
]

# a company the question describes without naming it (ticker: what a right search finds first)
_TOPICS = [
    {"q": "the company that designs the iPhone", "query": "iPhone designer", "ticker": "AAPL"},
    {"q": "the owner of Instagram and WhatsApp", "query": "Instagram WhatsApp owner", "ticker": "META"},
    {"q": "the maker of Photoshop", "query": "Photoshop Acrobat maker", "ticker": "ADBE"},
    {"q": "the company behind the Azure cloud", "query": "Azure cloud company", "ticker": "MSFT"},
    {"q": "the biggest video streaming service", "query": "largest video streaming service", "ticker": "NFLX"},
    {"q": "the maker of x86 processors founded by Gordon Moore", "query": "x86 processors Gordon Moore", "ticker": "INTC"},
    {"q": "the ride-hailing company", "query": "ride-hailing platform", "ticker": "UBER"},
    {"q": "the maker of network routers and switches", "query": "network routers switches", "ticker": "CSCO"},
    {"q": "the German enterprise software company", "query": "German enterprise software", "ticker": "SAP"},
    {"q": "the electric car maker", "query": "electric cars maker", "ticker": "TSLA"},
    {"q": "the company that runs customer relationship software in the cloud", "query": "customer relationship management software", "ticker": "CRM"},
    {"q": "the parent company of Google", "query": "Google parent company", "ticker": "GOOGL"},
    {"q": "the Chinese e-commerce company", "query": "Chinese e-commerce company", "ticker": "BABA"},
    {"q": "the company that makes EPYC server processors", "query": "EPYC server processors", "ticker": "AMD"},
]

_PRACTICE: dict[str, list[Any]] = {
    "text": ["seven small tools answer most questions here", "plans run in parallel where they can", "small models need good data",
             "a knot is one nautical mile per hour", "measure twice and cut once", "every answer cites its tools", "hello world"],
    "d": ["2024-01-15", "2024-02-29", "2024-03-10", "2024-04-01", "2024-06-21", "2024-09-02", "2024-12-25", "2025-01-01", "2025-03-31"],
    "country": sorted(COUNTRIES),
    "total": [18, 42.5, 60, 84, 120, 75.4, 230, 99.99], "people": [2, 3, 4, 5, 6, 8], "tip": [10, 12, 15, 18, 20], "n": [2, 3, 5, 10, 20],
}

SEEDS: list[dict[str, Any]] = [
    # one price, by name or ticker
    *[{"id": f"price-{i}", "n": 6, "question": q, "plan": _P1, "answer": _PRICE_ANSWER} for i, q in enumerate([
        "What did {{co.name}} stock close at most recently?",
        "{{co.name}} share price?",
        "Latest closing price for {{co.ticker}}, please.",
        "How much is one {{co.name}} share worth right now?",
        "Look up the most recent close of {{co.ticker}}.",
        "what's {{co.ticker}} trading at",
        "Tell me the current stock price of {{co.full}}.",
        "I need the last close for {{co.name}}.",
        "What currency is {{co.name}} quoted in, and what did it last close at?",
        "Most recent {{co.ticker}} close and its currency?",
    ])],
    # one price on a day
    *[{"id": f"price-date-{i}", "n": 10, "question": q, "plan": _P1_DATE, "answer": _PRICE_ANSWER} for i, q in enumerate([
        "What was {{co.name}}'s closing price on {{date}}?",
        "{{co.ticker}} close on {{date}}?",
        "How much did {{co.name}} stock cost at the close of {{date}}?",
        "Show the {{date}} closing price of {{co.ticker}}.",
        "{{co.name}} closing price for {{date}}, please.",
        "I need {{co.ticker}}'s close from {{date}}.",
    ])],
    # two or three prices, side by side
    *[{"id": f"two-{i}", "question": q, "plan": {"nodes": [_price(1, "co1"), _price(2, "co2")]}, "answer": _TWO} for i, q in enumerate([
        "Which closed higher, {{co1.name}} or {{co2.name}}?",
        "Get the latest prices of {{co1.ticker}} and {{co2.ticker}}.",
        "How do {{co1.name}} and {{co2.name}} shares compare right now?",
        "{{co1.name}} vs {{co2.name}} stock price",
    ])],
    *[{"id": f"three-{i}", "question": q, "plan": {"nodes": [_price(1, "co1"), _price(2, "co2"), _price(3, "co3")]}, "answer": _THREE} for i, q in enumerate([
        "Look up the closing prices of {{co1.name}}, {{co2.name}} and {{co3.name}}.",
        "What are {{co1.ticker}}, {{co2.ticker}} and {{co3.ticker}} trading at?",
    ])],
    # charts of prices
    *[{"id": f"chart2-{i}", "question": q, "plan": {"nodes": [_price(1, "co1"), _price(2, "co2"), _chart(3, [1, 2], t)]},
       "answer": _TWO[:-1] + "; the chart is at {{$3.path}}."} for i, (q, t) in enumerate([
        ("Draw a bar chart of {{co1.name}} and {{co2.name}} share prices.", "{{co1.name}} vs {{co2.name}}"),
        ("Plot {{co1.ticker}} against {{co2.ticker}}.", "Latest close"),
        ("Chart the stock prices of {{co1.name}} and {{co2.name}} side by side.", "Latest close (sample data)"),
    ])],
    *[{"id": f"chart3-{i}", "question": q, "plan": {"nodes": [_price(1, "co1"), _price(2, "co2"), _price(3, "co3"), _chart(4, [1, 2, 3], t)]},
       "answer": _THREE[:-1] + "; chart: {{$4.path}}."} for i, (q, t) in enumerate([
        ("Make a chart of the latest closes of {{co1.name}}, {{co2.name}} and {{co3.name}}.", "Latest close"),
        ("Bar chart: {{co1.ticker}}, {{co2.ticker}}, {{co3.ticker}} prices.", "Latest close (sample data)"),
    ])],
    {"id": "chart-dates", "question": "Chart {{co.name}}'s close on {{date1}} next to its close on {{date2}}.",
     "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}", "date": "{{date1}}"}},
                        {"id": 2, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}", "date": "{{date2}}"}},
                        {"id": 3, "tool": "chart", "args": {"values": [_ref(1, "close"), _ref(2, "close")], "labels": [_ref(1, "date"), _ref(2, "date")], "title": "{{co.ticker}} close"}}]},
     "values": {"date": ["2024-12-02", "2024-12-03", "2024-12-04", "2024-12-05", "2024-12-06"]},
     "answer": "{{$1.name}} closed at {{$1.close}} on {{$1.date}} and {{$2.close}} on {{$2.date}} (sample data); chart: {{$3.path}}."},
    # arithmetic on prices: variables bound to results, never numbers copied from memory
    *[{"id": f"calc-shares-{i}", "question": q,
       "plan": {"nodes": [_price(1, "co"), {"id": 2, "tool": "calculator", "args": {"expression": "p * {{n}}", "variables": {"p": _ref(1, "close")}}}]},
       "n": 10, "values": {"n": [2, 3, 4, 5, 7, 8, 10, 12, 15, 20, 25, 40, 50, 100]},
       "answer": "{{n}} shares of {{$1.name}} at {{$1.close}} {{$1.currency}} cost {{$2.text}} {{$1.currency}} (sample data)."} for i, q in enumerate([
        "How much would {{n}} shares of {{co.name}} cost at the last close?",
        "Price of {{n}} {{co.ticker}} shares at the latest sample price?",
        "I want to buy {{n}} shares of {{co.name}}. What is the total?",
        "Buying {{n}} shares of {{co.name}} at its last close: total cost?",
        "What do {{n}} {{co.ticker}} shares come to at the most recent sample close?",
    ])],
    *[{"id": f"calc-fx-{i}", "n": 6, "question": q,
     "plan": {"nodes": [_price(1, "co"), {"id": 2, "tool": "calculator", "args": {"expression": "p * {{fx.rate}}", "variables": {"p": _ref(1, "close")}}}]},
     "values": {"fx": [{"cur": "EUR", "rate": 0.92}, {"cur": "GBP", "rate": 0.79}, {"cur": "JPY", "rate": 151.3}, {"cur": "CHF", "rate": 0.88}, {"cur": "EUR", "rate": 0.95}, {"cur": "CAD", "rate": 1.36}]},
     "answer": "{{$1.name}} closed at {{$1.close}} {{$1.currency}}, which is {{$2.text}} {{fx.cur}} at that rate (sample data)."} for i, q in enumerate([
        "Convert {{co.name}}'s last close to {{fx.cur}} at 1 USD = {{fx.rate}} {{fx.cur}}.",
        "What is {{co.name}}'s last close in {{fx.cur}} if 1 USD is {{fx.rate}} {{fx.cur}}?",
        "Express the latest {{co.ticker}} price in {{fx.cur}}, with one dollar worth {{fx.rate}} {{fx.cur}}.",
    ])],
    *[{"id": f"calc-diff-{i}", "question": q,
       "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}", "date": "{{date1}}"}},
                          {"id": 2, "tool": "stock_price", "args": {"ticker": "{{co.ticker}}", "date": "{{date2}}"}},
                          {"id": 3, "tool": "calculator", "args": {"expression": e, "variables": {"a": _ref(1, "close"), "b": _ref(2, "close")}}}]},
       "values": {"date": ["2024-12-02", "2024-12-03", "2024-12-04", "2024-12-05", "2024-12-06"]},
       "answer": a} for i, (q, e, a) in enumerate([
        ("How much did {{co.name}} stock move from {{date1}} to {{date2}}?", "b - a",
         "{{$1.name}} went from {{$1.close}} to {{$2.close}}, a change of {{$3.text}} {{$1.currency}} (sample data)."),
        ("What was the percentage change in {{co.ticker}} between {{date1}} and {{date2}}?", "(b - a) / a * 100",
         "{{$1.name}} changed by {{$3.text}}% from {{$1.close}} to {{$2.close}} (sample data)."),
        ("How far did {{co.name}} shares drop or climb from {{date1}} to {{date2}}?", "b - a",
         "{{$1.name}} went from {{$1.close}} on {{$1.date}} to {{$2.close}} on {{$2.date}}: {{$3.text}} {{$1.currency}} (sample data)."),
        ("{{co.ticker}}: gain in percent from {{date1}} to {{date2}}?", "(b - a) / a * 100",
         "{{$1.ticker}} moved {{$3.text}}% between {{$1.date}} and {{$2.date}} (sample data)."),
    ])],
    *[{"id": f"calc-pair-{i}", "n": 6, "question": q,
       "plan": {"nodes": [_price(1, "co1"), _price(2, "co2"), {"id": 3, "tool": "calculator", "args": {"expression": e, "variables": {"a": _ref(1, "close"), "b": _ref(2, "close")}}}]},
       "answer": a} for i, (q, e, a) in enumerate([
        ("What is the combined price of one {{co1.name}} share and one {{co2.name}} share?", "a + b",
         "{{$1.close}} + {{$2.close}} = {{$3.text}} (sample data)."),
        ("How much more does a {{co1.ticker}} share cost than a {{co2.ticker}} share?", "a - b",
         "{{$1.name}} closed at {{$1.close}} and {{$2.name}} at {{$2.close}}: a difference of {{$3.text}} (sample data)."),
        ("What is the mean of the last closes of {{co1.name}} and {{co2.name}}?", "(a + b) / 2",
         "The mean of {{$1.close}} and {{$2.close}} is {{$3.text}} (sample data)."),
        ("Ratio of {{co1.name}}'s share price to {{co2.name}}'s?", "a / b",
         "{{$1.close}} / {{$2.close}} = {{$3.text}} (sample data)."),
    ])],
    {"id": "calc-avg3", "question": "Average closing price of {{co1.ticker}}, {{co2.ticker}} and {{co3.ticker}}?",
     "plan": {"nodes": [_price(1, "co1"), _price(2, "co2"), _price(3, "co3"),
                        {"id": 4, "tool": "calculator", "args": {"expression": "(a + b + c) / 3", "variables": {"a": _ref(1, "close"), "b": _ref(2, "close"), "c": _ref(3, "close")}}}]},
     "answer": "The average of {{$1.close}}, {{$2.close}} and {{$3.close}} is {{$4.text}} (sample data)."},
    {"id": "calc-and-price", "question": "What is {{a}} times {{b}}, and what is {{co.name}}'s sample stock price?",
     "plan": {"nodes": [{"id": 1, "tool": "calculator", "args": {"expression": "{{a}} * {{b}}"}}, _price(2, "co")]},
     "values": {"a": [12, 17, 19, 24, 31, 46], "b": [3, 7, 13, 23, 29]},
     "answer": "{{a}} times {{b}} is {{$1.text}}, and {{$2.name}} closed at {{$2.close}} {{$2.currency}} (sample data)."},
    # search, then prices of the companies it finds (refs into the search result)
    *[{"id": f"search-price-{i}", "n": 14, "question": q,
       "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{topic.query}}"}},
                          {"id": 2, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.0")}}]},
       "values": {"topic": _TOPICS}, "check": [["{{$1.tickers.0}}", "{{topic.ticker}}"]],
       "answer": "{{$2.name}} ({{$2.ticker}}) closed at {{$2.close}} {{$2.currency}} (sample data)."} for i, q in enumerate([
        "Find {{topic.q}} and give its latest share price.",
        "What is the stock price of {{topic.q}}?",
        "How much is a share of {{topic.q}} worth?",
    ])],
    # a group the question names but does not list: search first, then one price per ticker it finds
    *[{"id": f"search-group-{i}", "n": 9, "question": q,
       "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{g.query}}"}},
                          {"id": 2, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.0")}},
                          {"id": 3, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.1")}},
                          {"id": 4, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.2")}}, *extra]},
       "values": {"g": _GROUPS}, "check": [["{{$1.tickers.0}}", "{{g.first}}"]],
       "answer": a} for i, (q, extra, a) in enumerate([
        ("Who are the three {{g.q}}, and what are their share prices?", [], _GROUP_PRICES),
        ("List the three {{g.q}} with their latest closes.", [], _GROUP_PRICES),
        ("What do shares of the three {{g.q}} cost now?", [], _GROUP_PRICES),
        ("Top three {{g.q}}: latest share prices, please.", [], _GROUP_PRICES),
        ("Chart the share prices of the three {{g.q}}.", [_chart(5, [2, 3, 4], "{{g.title}} (sample data)")], _GROUP_CHART),
        ("Find the three {{g.q}} and plot their stock prices.", [_chart(5, [2, 3, 4], "Latest close (sample data)")], _GROUP_CHART),
        ("Which are the three {{g.q}}? Draw a bar chart of their closing prices.", [_chart(5, [2, 3, 4], "{{g.title}}")], _GROUP_CHART),
        ("Look up the three {{g.q}}, get their stock prices and chart them.", [_chart(5, [2, 3, 4], "Latest close (sample data)")], _GROUP_CHART),
        ("What would one share of each of the three {{g.q}} cost in total?",
         [{"id": 5, "tool": "calculator", "args": {"expression": "a + b + c", "variables": {"a": _ref(2, "close"), "b": _ref(3, "close"), "c": _ref(4, "close")}}}],
         _GROUP_PRICES[:-1] + "; one share of each costs {{$5.text}} {{$2.currency}} in total."),
        ("Average share price of the three {{g.q}}?",
         [{"id": 5, "tool": "calculator", "args": {"expression": "(a + b + c) / 3", "variables": {"a": _ref(2, "close"), "b": _ref(3, "close"), "c": _ref(4, "close")}}}],
         _GROUP_PRICES[:-1] + "; their average is {{$5.text}} {{$2.currency}}."),
    ])],
    # a product, not a ticker: the call fails, the joiner asks for a search, the replan finds the company
    {"id": "recover-product", "question": "{{p.q}}", "expect_errors": True,
     "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": "{{p.bad}}"}}]},
     "join": {"action": "replan", "reason": "{{p.bad}} is not a ticker; search for the company behind it"},
     "replan": {"plan": {"nodes": [{"id": 2, "tool": "search", "args": {"query": "{{p.query}}"}},
                                   {"id": 3, "tool": "stock_price", "args": {"ticker": _ref(2, "tickers.0")}}]}},
     "values": {"p": [
         {"q": "What is the share price of the company behind AWS?", "bad": "AWS", "query": "AWS owner", "ticker": "AMZN"},
         {"q": "Stock price of the company that owns Instagram?", "bad": "Instagram", "query": "Instagram WhatsApp owner", "ticker": "META"},
         {"q": "How are shares of the Photoshop company doing?", "bad": "Photoshop", "query": "Photoshop Acrobat maker", "ticker": "ADBE"},
         {"q": "What does the maker of the iPhone trade at?", "bad": "iPhone", "query": "iPhone designer", "ticker": "AAPL"},
         {"q": "Latest close of the company running Azure?", "bad": "Azure", "query": "Azure cloud company", "ticker": "MSFT"},
         {"q": "What is the stock price of the YouTube owner?", "bad": "YouTube", "query": "Google parent company", "ticker": "GOOGL"},
         {"q": "Share price of the firm behind EPYC chips?", "bad": "EPYC", "query": "EPYC server processors", "ticker": "AMD"},
     ]},
     "check": [["{{$2.tickers.0}}", "{{p.ticker}}"]],
     "answer": "{{p.bad}} belongs to {{$3.name}} ({{$3.ticker}}), which closed at {{$3.close}} {{$3.currency}} (sample data)."},
    # conversions
    *[{"id": f"units-{i}", "n": 12, "question": q, "plan": {"nodes": [{"id": 1, "tool": "convert_units", "args": {"value": "{{v}}", "from_unit": "{{u.f}}", "to_unit": "{{u.t}}"}}]},
       "values": {"v": [1, 2, 3, 5, 8, 12, 20, 42, 60, 75, 250, 1000, 3.5, 0.5],
                  "u": [{"f": "km", "t": "mi", "fn": "kilometres", "tn": "miles"}, {"f": "mi", "t": "km", "fn": "miles", "tn": "kilometres"},
                        {"f": "kg", "t": "lb", "fn": "kilograms", "tn": "pounds"}, {"f": "lb", "t": "kg", "fn": "pounds", "tn": "kilograms"},
                        {"f": "°C", "t": "°F", "fn": "degrees Celsius", "tn": "Fahrenheit"}, {"f": "°F", "t": "°C", "fn": "degrees Fahrenheit", "tn": "Celsius"},
                        {"f": "m", "t": "ft", "fn": "metres", "tn": "feet"}, {"f": "ft", "t": "m", "fn": "feet", "tn": "metres"},
                        {"f": "in", "t": "cm", "fn": "inches", "tn": "centimetres"}, {"f": "h", "t": "min", "fn": "hours", "tn": "minutes"},
                        {"f": "d", "t": "h", "fn": "days", "tn": "hours"}, {"f": "TB", "t": "GB", "fn": "terabytes", "tn": "gigabytes"},
                        {"f": "GiB", "t": "MiB", "fn": "gibibytes", "tn": "mebibytes"}, {"f": "mph", "t": "km/h", "fn": "miles per hour", "tn": "km/h"},
                        {"f": "m/s", "t": "km/h", "fn": "metres per second", "tn": "kilometres per hour"}, {"f": "yd", "t": "m", "fn": "yards", "tn": "metres"},
                        {"f": "g", "t": "oz", "fn": "grams", "tn": "ounces"}, {"f": "kn", "t": "mph", "fn": "knots", "tn": "miles per hour"},
                        {"f": "°C", "t": "K", "fn": "degrees Celsius", "tn": "kelvin"}, {"f": "MB", "t": "kB", "fn": "megabytes", "tn": "kilobytes"},
                        {"f": "wk", "t": "h", "fn": "weeks", "tn": "hours"}, {"f": "d", "t": "s", "fn": "days", "tn": "seconds"},
                        {"f": "h", "t": "s", "fn": "hours", "tn": "seconds"}, {"f": "min", "t": "s", "fn": "minutes", "tn": "seconds"},
                        {"f": "GB", "t": "kB", "fn": "gigabytes", "tn": "kilobytes"}, {"f": "TiB", "t": "GiB", "fn": "tebibytes", "tn": "gibibytes"},
                        {"f": "km/h", "t": "m/s", "fn": "km/h", "tn": "metres per second"}, {"f": "K", "t": "°C", "fn": "kelvin", "tn": "degrees Celsius"},
                        {"f": "lb", "t": "g", "fn": "pounds", "tn": "grams"}, {"f": "kg", "t": "oz", "fn": "kilograms", "tn": "ounces"}]},
       "answer": "{{v}} {{u.fn}} is {{$1.result}} {{u.tn}}."} for i, q in enumerate([
        "Convert {{v}} {{u.fn}} to {{u.tn}}.",
        "How many {{u.tn}} is {{v}} {{u.fn}}?",
        "{{v}} {{u.fn}} in {{u.tn}}?",
        "{{v}} {{u.fn}}: how much is that in {{u.tn}}?",
    ])],
    # plain arithmetic
    *[{"id": f"calc-{i}", "question": q, "plan": {"nodes": [{"id": 1, "tool": "calculator", "args": {"expression": e}}]},
       "values": {"a": [3, 6, 9, 14, 18, 27, 33, 48, 56, 64, 81, 125, 144, 360, 729, 1024], "b": [2, 3, 4, 5, 6, 8, 11, 12, 16], "p": [5, 10, 12, 20, 25, 35, 40, 75], "k": [2, 3, 4, 5, 6, 8, 10, 12]},
       "answer": "{{$1.expression}} = {{$1.text}}."} for i, (q, e) in enumerate([
        ("What is {{a}} multiplied by {{b}}?", "{{a}} * {{b}}"),
        ("Calculate {{a}} plus {{b}}, times {{b2}}.", "({{a}} + {{b}}) * {{b2}}"),
        ("What is {{p}}% of {{a}}?", "{{p}} / 100 * {{a}}"),
        ("Square root of {{a}}?", "sqrt({{a}})"),
        ("Raise {{b}} to the {{b2}}th power.", "{{b}} ** {{b2}}"),
        ("{{a}} divided by {{b}}, rounded to 3 decimals?", "round({{a}} / {{b}}, 3)"),
        ("What is the base-10 logarithm of {{a}}?", "log10({{a}})"),
        ("Compute {{a}} minus {{b}} squared.", "{{a}} - {{b}} ** 2"),
        ("What is e to the power of {{b}}?", "exp({{b}})"),
        ("Work out ({{a}} - {{b}}) * {{b2}}.", "({{a}} - {{b}}) * {{b2}}"),
        ("What do you get from ({{a}} + {{b}}) / {{b2}}?", "({{a}} + {{b}}) / {{b2}}"),
        ("{{b}} to the power of {{k}}?", "{{b}} ** {{k}}"),
        ("Natural log of {{a}}?", "log({{a}})"),
        ("Compute the natural logarithm of {{a}}, please.", "log({{a}})"),
        ("ln({{a}}) = ?", "log({{a}})"),
        ("Take {{a}} over {{b}} and round it to 2 decimals.", "round({{a}} / {{b}}, 2)"),
        ("Multiply pi by {{b}}.", "pi * {{b}}"),
        ("Square root of {{a}}, times {{b}}?", "sqrt({{a}}) * {{b}}"),
        ("log base 10 of {{a}}, please", "log10({{a}})"),
    ])],
    # facts from the search corpus: answered from the snippet
    {"id": "fact", "n": 28, "question": "{{f.q}}", "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{f.query}}"}}]},
     "values": {"f": [
         {"q": "When was Oracle founded, and by whom?", "query": "Oracle founded", "a": "Oracle was founded in 1977 by Larry Ellison."},
         {"q": "Where is IBM based?", "query": "IBM headquarters", "a": "IBM is headquartered in Armonk, New York."},
         {"q": "Who started Alibaba?", "query": "Alibaba founder", "a": "Alibaba was founded in 1999 by Jack Ma in Hangzhou."},
         {"q": "Which people founded Apple?", "query": "Apple founders", "a": "Apple was founded in 1976 by Steve Jobs, Steve Wozniak and Ronald Wayne."},
         {"q": "Who founded Amazon, and when?", "query": "Amazon founded", "a": "Amazon was founded in 1994 by Jeff Bezos."},
         {"q": "What is Meta's former name?", "query": "Meta Platforms formerly", "a": "Meta Platforms was formerly called Facebook."},
         {"q": "Where are Tesla's headquarters?", "query": "Tesla headquarters", "a": "Tesla is headquartered in Austin, Texas."},
         {"q": "Who created Adobe?", "query": "Adobe founders", "a": "Adobe was founded in 1982 by John Warnock and Charles Geschke."},
         {"q": "Which year was Intel established?", "query": "Intel founded", "a": "Intel was founded in 1968 by Gordon Moore and Robert Noyce."},
         {"q": "When was Salesforce started?", "query": "Salesforce founded", "a": "Salesforce was founded in 1999 by Marc Benioff."},
         {"q": "Where is SAP headquartered?", "query": "SAP headquarters", "a": "SAP is headquartered in Walldorf, Germany."},
         {"q": "When was Cisco founded?", "query": "Cisco founded", "a": "Cisco was founded in 1984 and is headquartered in San Jose, California."},
         {"q": "How high is Mont Blanc?", "query": "Mont Blanc height", "a": "Mont Blanc is about 4,806 metres high."},
         {"q": "How long is the Amazon River?", "query": "Amazon River length", "a": "The Amazon River is about 6,400 kilometres long."},
         {"q": "How big is the Sahara?", "query": "Sahara size", "a": "The Sahara covers about 9.2 million square kilometres."},
         {"q": "How fast does light travel?", "query": "speed of light", "a": "Light travels at 299,792,458 metres per second."},
         {"q": "What is standard gravity on Earth?", "query": "Earth gravity", "a": "Standard gravity is 9.80665 metres per second squared."},
         {"q": "At what temperature does water boil in Fahrenheit?", "query": "water boils Fahrenheit", "a": "Water boils at 212 degrees Fahrenheit (100 degrees Celsius) at sea level."},
         {"q": "How long does sunlight take to reach Earth?", "query": "sunlight time to Earth", "a": "Sunlight takes about 8 minutes and 20 seconds to reach Earth."},
         {"q": "When did Microsoft launch Azure?", "query": "Azure launched", "a": "Microsoft Azure was launched in 2010."},
         {"q": "What does a stock's closing price mean?", "query": "closing price", "a": "A stock's closing price is the last price at which it traded during a regular session."},
     ]},
     "answer": "{{f.a}}"},
    # numbers that only appear in text: search, then replan with what the results say
    {"id": "text-then-convert", "n": 14, "question": "{{t.q}}",
     "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{t.query}}"}}]},
     "join": {"action": "replan", "reason": "{{t.reason}}"},
     "replan": {"plan": {"nodes": [{"id": 2, "tool": "convert_units", "args": {"value": "{{t.v}}", "from_unit": "{{t.f}}", "to_unit": "{{t.t}}"}}]}},
     "values": {"t": [
         {"q": "How many feet high is Mont Blanc?", "query": "Mont Blanc height", "reason": "convert 4806 m to feet", "v": 4806, "f": "m", "t": "ft", "a": "Mont Blanc is about 4,806 metres, or {{$2.result}} feet, high."},
         {"q": "How long is the Amazon River in miles?", "query": "Amazon River length", "reason": "convert 6400 km to miles", "v": 6400, "f": "km", "t": "mi", "a": "The Amazon River is about 6,400 km, or {{$2.result}} miles, long."},
         {"q": "What is the speed of light in miles per hour?", "query": "speed of light", "reason": "convert 299792458 m/s to mph", "v": 299792458, "f": "m/s", "t": "mph", "a": "Light travels at 299,792,458 m/s, which is {{$2.result}} miles per hour."},
         {"q": "How many kilometres long is a nautical mile?", "query": "nautical mile", "reason": "convert 1852 m to km", "v": 1852, "f": "m", "t": "km", "a": "A nautical mile is 1,852 metres, or {{$2.result}} km."},
         {"q": "What is the size of the Sahara in square miles?", "query": "Sahara size", "reason": "convert 9.2 million km² to mi²: 9200000 km2 to mi2", "v": 9200000, "f": "km2", "t": "mi2", "a": "The Sahara covers about 9.2 million km², or {{$2.result}} square miles."},
         {"q": "What is Earth's standard gravity in feet per second squared?", "query": "Earth gravity", "reason": "convert 9.80665 m to feet", "v": 9.80665, "f": "m", "t": "ft", "a": "Standard gravity is 9.80665 m/s², or {{$2.result}} ft/s²."},
         {"q": "How fast is a knot in metres per second?", "query": "knot speed", "reason": "convert 1 kn to m/s", "v": 1, "f": "kn", "t": "m/s", "a": "One knot is {{$2.result}} metres per second."},
         {"q": "What is the boiling point of water in kelvin?", "query": "water boiling point", "reason": "convert 100 °C to K", "v": 100, "f": "°C", "t": "K", "a": "Water boils at 100 °C, which is {{$2.result}} K."},
         {"q": "What is the Moon's surface gravity in feet per second squared?", "query": "Moon gravity", "reason": "convert 1.62 m to feet", "v": 1.62, "f": "m", "t": "ft", "a": "Gravity on the Moon is about 1.62 m/s², or {{$2.result}} ft/s²."},
         {"q": "How many feet are in a nautical mile?", "query": "nautical mile", "reason": "convert 1852 m to feet", "v": 1852, "f": "m", "t": "ft", "a": "A nautical mile is 1,852 metres, or {{$2.result}} feet."},
         {"q": "How high is Mont Blanc in kilometres?", "query": "Mont Blanc height", "reason": "convert 4806 m to km", "v": 4806, "f": "m", "t": "km", "a": "Mont Blanc is about 4,806 metres, or {{$2.result}} km, high."},
         {"q": "What is the speed of light in kilometres per hour?", "query": "speed of light", "reason": "convert 299792458 m/s to km/h", "v": 299792458, "f": "m/s", "t": "km/h", "a": "Light travels at 299,792,458 m/s, or {{$2.result}} km/h."},
         {"q": "How long is the Amazon River in metres?", "query": "Amazon River length", "reason": "convert 6400 km to m", "v": 6400, "f": "km", "t": "m", "a": "The Amazon River is about 6,400 km, or {{$2.result}} metres, long."},
     ]},
     "answer": "{{t.a}}"},
    {"id": "text-then-calc", "question": "{{t.q}}",
     "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{t.query}}"}}]},
     "join": {"action": "replan", "reason": "{{t.reason}}"},
     "replan": {"plan": {"nodes": [{"id": 2, "tool": "calculator", "args": {"expression": "{{t.e}}"}}]}},
     "values": {"t": [
         {"q": "How many years passed between Apple's founding and Microsoft's?", "query": "Apple Microsoft founded", "reason": "subtract 1975 from 1976", "e": "1976 - 1975", "a": "Apple was founded in 1976 and Microsoft in 1975: {{$2.text}} year apart."},
         {"q": "How old was IBM in 2024?", "query": "IBM founded", "reason": "subtract 1911 from 2024", "e": "2024 - 1911", "a": "IBM was founded in 1911, so it was {{$2.text}} years old in 2024."},
         {"q": "How many years older is Intel than Apple?", "query": "Intel Apple founded", "reason": "subtract 1968 from 1976", "e": "1976 - 1968", "a": "Intel was founded in 1968 and Apple in 1976: {{$2.text}} years apart."},
         {"q": "How many years after Amazon was Tesla founded?", "query": "Amazon Tesla founded", "reason": "subtract 1994 from 2003", "e": "2003 - 1994", "a": "Amazon was founded in 1994 and Tesla in 2003, {{$2.text}} years later."},
         {"q": "How many pounds make 10 kilograms, using the exact pound?", "query": "pound kilograms", "reason": "divide 10 by 0.45359237", "e": "10 / 0.45359237", "a": "A pound is 0.45359237 kg, so 10 kg is {{$2.text}} pounds."},
         {"q": "How many Saharas would cover 100 million square kilometres?", "query": "Sahara size", "reason": "divide 100 by 9.2", "e": "100 / 9.2", "a": "The Sahara covers about 9.2 million km², so {{$2.text}} Saharas make 100 million km²."},
     ]},
     "answer": "{{t.a}}"},
    # no tool helps: an empty plan, answered directly
    {"id": "no-tool", "n": 18, "question": "{{c.q}}", "plan": {"nodes": []}, "values": {"c": [
        {"q": "Hi!", "a": "Hello! I can search a small corpus, look up sample stock prices, calculate, convert units and draw charts."},
        {"q": "Good morning, how are you?", "a": "Good morning! I am ready to help: ask me about companies, stock prices, numbers or units."},
        {"q": "Thanks, that was helpful.", "a": "You're welcome."},
        {"q": "Who are you?", "a": "I am a reasoning assistant: I plan calls to my tools (search, sample stock prices, a calculator, unit conversion and charts) and answer from their results."},
        {"q": "Tell me a joke.", "a": "Why did the spreadsheet see a therapist? It had too many cells to deal with."},
        {"q": "Write a haiku about autumn.", "a": "Maple lets go red, / the evening comes early now, / cold wind counts the leaves."},
        {"q": "Book a table for two tonight.", "a": "I cannot book tables: none of my tools makes reservations."},
        {"q": "Send an email to my team saying the meeting moved to 3pm.", "a": "I cannot send email: none of my tools does that."},
        {"q": "Play some jazz.", "a": "I cannot play music: none of my tools does that."},
        {"q": "Set a timer for ten minutes.", "a": "I cannot set timers: none of my tools does that."},
        {"q": "Order a large pizza to my address.", "a": "I cannot order food: none of my tools places orders."},
        {"q": "Remind me to call the dentist tomorrow.", "a": "I cannot set reminders: none of my tools does that."},
        {"q": "Turn off the kitchen lights.", "a": "I cannot control lights: none of my tools does that."},
        {"q": "What is your favourite colour?", "a": "I do not have one; I am a program that plans tool calls."},
        {"q": "Can you help me?", "a": "Yes: ask me about companies and their sample stock prices, facts in my corpus, arithmetic or unit conversions."},
        {"q": "Say hello in French.", "a": "Bonjour!"},
        {"q": "Delete my calendar for next week.", "a": "I cannot change calendars: none of my tools does that."},
        {"q": "Buy 10 shares of Apple for me.", "a": "I cannot trade: my stock tool only reads sample prices."},
    ]}, "answer": "{{c.a}}"},
    # the practice tools exist only in some registries: asked where they are missing, no tool helps
    {"id": "missing-tool", "n": 8, "tools": "demo~0", "question": "{{m.q}}", "plan": {"nodes": []}, "values": {"m": [
        {"q": "How many words are in 'the quick brown fox jumps'?", "a": "None of my tools counts words, but by reading it: 5 words."},
        {"q": "What is the ISO code of Norway?", "a": "None of my tools gives country codes; Norway's ISO code is NO."},
        {"q": "What is the calling code of Spain?", "a": "None of my tools gives calling codes; Spain's is +34."},
        {"q": "How many days are there from 2024-01-01 to 2024-03-01?", "a": "None of my tools counts days between dates; by the calendar it is 60 days."},
        {"q": "Split a 90 dollar bill between 3 people.", "a": "None of my tools splits bills, but 90 / 3 is 30 each."},
        {"q": "Count the characters in 'reasoning'.", "a": "None of my tools counts characters; 'reasoning' has 9."},
        {"q": "What is Kenya's three-letter country code?", "a": "None of my tools gives country codes; Kenya's is KEN."},
        {"q": "How many weeks from 2024-05-01 to 2024-06-12?", "a": "None of my tools counts days between dates; it is 6 weeks."},
    ]}, "answer": "{{m.a}}"},
    # the practice tools, where they are listed
    *[{"id": f"practice-{i}", "n": 7, "tools": "demo+practice", "question": q, "plan": {"nodes": nodes}, "values": _PRACTICE, "answer": a}
      for i, (q, nodes, a) in enumerate([
        ("How many words are in the sentence '{{text}}'?", [{"id": 1, "tool": "word_count", "args": {"text": "{{text}}"}}], "It has {{$1.words}} words."),
        ("Count the characters in '{{text}}'.", [{"id": 1, "tool": "word_count", "args": {"text": "{{text}}"}}], "It has {{$1.characters}} characters."),
        ("How many days are there from {{d1}} to {{d2}}?", [{"id": 1, "tool": "days_between", "args": {"start": "{{d1}}", "end": "{{d2}}"}}], "From {{d1}} to {{d2}} is {{$1.days}} days."),
        ("How many weeks between {{d1}} and {{d2}}?", [{"id": 1, "tool": "days_between", "args": {"start": "{{d1}}", "end": "{{d2}}"}}], "That is {{$1.weeks}} weeks ({{$1.days}} days)."),
        ("How many hours pass from {{d1}} to {{d2}}?", [{"id": 1, "tool": "days_between", "args": {"start": "{{d1}}", "end": "{{d2}}"}},
          {"id": 2, "tool": "calculator", "args": {"expression": "d * 24", "variables": {"d": _ref(1, "days")}}}], "{{$1.days}} days, which is {{$2.text}} hours."),
        ("What is the ISO code of {{country}}?", [{"id": 1, "tool": "country_codes", "args": {"country": "{{country}}"}}], "{{$1.country}} is {{$1.alpha2}} ({{$1.alpha3}})."),
        ("Which calling code does {{country}} use?", [{"id": 1, "tool": "country_codes", "args": {"country": "{{country}}"}}], "{{$1.country}} uses {{$1.calling_code}}."),
        ("Calling codes of {{country1}} and {{country2}}?", [{"id": 1, "tool": "country_codes", "args": {"country": "{{country1}}"}}, {"id": 2, "tool": "country_codes", "args": {"country": "{{country2}}"}}],
         "{{$1.country}}: {{$1.calling_code}}; {{$2.country}}: {{$2.calling_code}}."),
        ("Split a {{total}} dollar bill between {{people}} people with a {{tip}}% tip.", [{"id": 1, "tool": "split_bill", "args": {"total": "{{total}}", "people": "{{people}}", "tip_percent": "{{tip}}"}}],
         "With a {{$1.tip}} tip the bill is {{$1.total}}, so each pays {{$1.each}}."),
        ("We are {{people}} and the bill is {{total}}. How much each?", [{"id": 1, "tool": "split_bill", "args": {"total": "{{total}}", "people": "{{people}}"}}], "Each of {{people}} pays {{$1.each}}."),
        ("What would {{n}} {{co.name}} shares cost, split between {{people}} people?", [_price(1, "co"),
          {"id": 2, "tool": "calculator", "args": {"expression": "p * {{n}}", "variables": {"p": _ref(1, "close")}}},
          {"id": 3, "tool": "split_bill", "args": {"total": _ref(2, "value"), "people": "{{people}}"}}],
         "{{n}} shares of {{$1.name}} at {{$1.close}} cost {{$2.text}}: {{$3.each}} each for {{people}} people (sample data)."),
    ])],
]

# settings for `reasoner tune --recipe embedded` (documented in the adapter's card)
EMBEDDED: dict[str, Any] = {
    "base": "smollm2-135m-base",
    "tools": "demo",
    "per_seed": 8,
    "seed": 0,
    "holdout": 0.04,
    "eval_limit": 16,
    "roles": {"planner": 1.0, "joiner": 0.2, "answerer": 0.5},
    "vary": {"shuffled": 0.3, "practice": 0.2, "orders": 12},
    "lora": {"rank": 16, "alpha": 32, "dropout": 0.05, "learning_rate": 2e-3, "epochs": 1.0, "batch_tokens": 1536, "warmup_steps": 5, "checkpoint_every": 5},
}
