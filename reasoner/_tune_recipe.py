"""The recipe of the shipped adapter (``reasoner tune --recipe embedded``): seeds and settings.

The seeds below are templates over the demo toolkit (see ``reasoner._tune_data`` for the
slot syntax); :func:`recipe_examples` expands them with the demo data (tickers, trading
days) and the values each seed lists, executes every plan, and keeps what succeeds.
None of these questions is an eval question (a test checks every 8-word run against
``evals/datasets``), and the facts the answers cite come from executing the tools.
"""

from __future__ import annotations

from typing import Any

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

SEEDS: list[dict[str, Any]] = [
    # one price, by name or ticker
    *[{"id": f"price-{i}", "question": q, "plan": _P1, "answer": _PRICE_ANSWER} for i, q in enumerate([
        "What did {{co.name}} stock close at most recently?",
        "{{co.name}} share price?",
        "Latest closing price for {{co.ticker}}, please.",
        "How much is one {{co.name}} share worth right now?",
        "Look up the most recent close of {{co.ticker}}.",
        "what's {{co.ticker}} trading at",
        "Tell me the current stock price of {{co.full}}.",
        "I need the last close for {{co.name}}.",
    ])],
    # one price on a day
    *[{"id": f"price-date-{i}", "question": q, "plan": _P1_DATE, "answer": _PRICE_ANSWER} for i, q in enumerate([
        "What was {{co.name}}'s closing price on {{date}}?",
        "{{co.ticker}} close on {{date}}?",
        "How much did {{co.name}} stock cost at the close of {{date}}?",
        "Show the {{date}} closing price of {{co.ticker}}.",
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
       "values": {"n": [2, 3, 4, 5, 7, 8, 10, 12, 15, 20, 25, 40, 50, 100]},
       "answer": "{{n}} shares of {{$1.name}} at {{$1.close}} {{$1.currency}} cost {{$2.text}} {{$1.currency}} (sample data)."} for i, q in enumerate([
        "How much would {{n}} shares of {{co.name}} cost at the last close?",
        "Price of {{n}} {{co.ticker}} shares at the latest sample price?",
        "I want to buy {{n}} shares of {{co.name}}. What is the total?",
    ])],
    {"id": "calc-fx", "question": "Convert {{co.name}}'s last close to {{fx.cur}} at 1 USD = {{fx.rate}} {{fx.cur}}.",
     "plan": {"nodes": [_price(1, "co"), {"id": 2, "tool": "calculator", "args": {"expression": "p * {{fx.rate}}", "variables": {"p": _ref(1, "close")}}}]},
     "values": {"fx": [{"cur": "EUR", "rate": 0.92}, {"cur": "GBP", "rate": 0.79}, {"cur": "JPY", "rate": 151.3}, {"cur": "CHF", "rate": 0.88}, {"cur": "EUR", "rate": 0.95}, {"cur": "CAD", "rate": 1.36}]},
     "answer": "{{$1.name}} closed at {{$1.close}} {{$1.currency}}, which is {{$2.text}} {{fx.cur}} at that rate (sample data)."},
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
    ])],
    *[{"id": f"calc-pair-{i}", "question": q,
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
    *[{"id": f"search-price-{i}", "question": q,
       "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{topic.query}}"}},
                          {"id": 2, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.0")}}]},
       "values": {"topic": [
           {"q": "the company that designs the iPhone", "query": "iPhone maker"},
           {"q": "the owner of Instagram and WhatsApp", "query": "Instagram WhatsApp owner"},
           {"q": "the maker of Photoshop", "query": "Photoshop maker"},
           {"q": "the company behind the Azure cloud", "query": "Azure cloud company"},
           {"q": "the biggest video streaming service", "query": "largest video streaming service"},
           {"q": "the maker of x86 processors founded by Gordon Moore", "query": "x86 processors Gordon Moore"},
           {"q": "the ride-hailing company", "query": "ride-hailing platform"},
           {"q": "the maker of network routers and switches", "query": "network routers switches"},
           {"q": "the German enterprise software company", "query": "German enterprise software"},
           {"q": "the electric car maker", "query": "electric cars maker"},
           {"q": "the company that runs customer relationship software in the cloud", "query": "customer relationship management software"},
           {"q": "the parent company of Google", "query": "Google parent company"},
           {"q": "the Chinese e-commerce company", "query": "Chinese e-commerce company"},
           {"q": "the company that makes EPYC server processors", "query": "EPYC server processors"},
       ]},
       "answer": "{{$2.name}} ({{$2.ticker}}) closed at {{$2.close}} {{$2.currency}} (sample data)."} for i, q in enumerate([
        "Find {{topic.q}} and give its latest share price.",
        "What is the stock price of {{topic.q}}?",
    ])],
    *[{"id": f"search-group-{i}", "question": q,
       "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{g.query}}"}},
                          {"id": 2, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.0")}},
                          {"id": 3, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.1")}},
                          {"id": 4, "tool": "stock_price", "args": {"ticker": _ref(1, "tickers.2")}}, *extra]},
       "values": {"g": [
           {"q": "biggest cloud companies", "query": "biggest cloud infrastructure providers"},
           {"q": "most valuable chip companies", "query": "most valuable semiconductor companies"},
           {"q": "largest listed companies by value", "query": "most valuable listed companies"},
           {"q": "cloud vendors behind the big three", "query": "smaller cloud vendors"},
       ]},
       "answer": a} for i, (q, extra, a) in enumerate([
        ("Who are the three {{g.q}}, and what are their share prices?", [], "{{$2.name}} {{$2.close}}, {{$3.name}} {{$3.close}} and {{$4.name}} {{$4.close}} {{$2.currency}} (sample data)."),
        ("Chart the share prices of the three {{g.q}}.", [_chart(5, [2, 3, 4], "{{g.q}} (sample data)")],
         "{{$2.name}} {{$2.close}}, {{$3.name}} {{$3.close}}, {{$4.name}} {{$4.close}} (sample data); chart: {{$5.path}}."),
    ])],
    # conversions
    *[{"id": f"units-{i}", "question": q, "plan": {"nodes": [{"id": 1, "tool": "convert_units", "args": {"value": "{{v}}", "from_unit": "{{u.f}}", "to_unit": "{{u.t}}"}}]},
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
                        {"f": "°C", "t": "K", "fn": "degrees Celsius", "tn": "kelvin"}, {"f": "MB", "t": "kB", "fn": "megabytes", "tn": "kilobytes"}]},
       "answer": "{{v}} {{u.fn}} is {{$1.result}} {{u.tn}}."} for i, q in enumerate([
        "Convert {{v}} {{u.fn}} to {{u.tn}}.",
        "How many {{u.tn}} is {{v}} {{u.fn}}?",
        "{{v}} {{u.fn}} in {{u.tn}}?",
    ])],
    # plain arithmetic
    *[{"id": f"calc-{i}", "question": q, "plan": {"nodes": [{"id": 1, "tool": "calculator", "args": {"expression": e}}]},
       "values": {"a": [3, 6, 9, 14, 18, 27, 33, 48, 56, 64, 81, 125, 144, 360, 729, 1024], "b": [2, 3, 4, 5, 6, 8, 11, 12, 16], "p": [5, 10, 12, 20, 25, 35, 40, 75]},
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
    ])],
    # facts from the search corpus: answered from the snippet
    {"id": "fact", "question": "{{f.q}}", "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{f.query}}"}}]},
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
         {"q": "What does ASML make?", "query": "ASML lithography", "a": "ASML makes the extreme ultraviolet lithography machines used to print the smallest chips."},
         {"q": "When was Salesforce started?", "query": "Salesforce founded", "a": "Salesforce was founded in 1999 by Marc Benioff."},
         {"q": "Where is SAP headquartered?", "query": "SAP headquarters", "a": "SAP is headquartered in Walldorf, Germany."},
         {"q": "When was Cisco founded?", "query": "Cisco founded", "a": "Cisco was founded in 1984 and is headquartered in San Jose, California."},
         {"q": "How high is Mont Blanc?", "query": "Mont Blanc height", "a": "Mont Blanc is about 4,806 metres high."},
         {"q": "How long is the Amazon River?", "query": "Amazon River length", "a": "The Amazon River is about 6,400 kilometres long."},
         {"q": "How big is the Sahara?", "query": "Sahara size", "a": "The Sahara covers about 9.2 million square kilometres."},
         {"q": "What is the capital of Japan?", "query": "capital of Japan", "a": "Tokyo is the capital of Japan."},
         {"q": "How many feet are in a mile?", "query": "mile feet", "a": "A mile is 5,280 feet (1,609.344 metres)."},
         {"q": "How fast does light travel?", "query": "speed of light", "a": "Light travels at 299,792,458 metres per second."},
         {"q": "What is standard gravity on Earth?", "query": "Earth gravity", "a": "Standard gravity is 9.80665 metres per second squared."},
         {"q": "How many kilograms is a pound?", "query": "pound kilograms", "a": "A pound is exactly 0.45359237 kilograms."},
         {"q": "At what temperature does water boil in Fahrenheit?", "query": "water boils Fahrenheit", "a": "Water boils at 212 degrees Fahrenheit (100 degrees Celsius) at sea level."},
         {"q": "How big is the Pacific Ocean?", "query": "Pacific Ocean area", "a": "The Pacific covers about 165 million square kilometres."},
         {"q": "How long does sunlight take to reach Earth?", "query": "sunlight time to Earth", "a": "Sunlight takes about 8 minutes and 20 seconds to reach Earth."},
         {"q": "What share of cloud spending does Microsoft Azure have?", "query": "Azure cloud market share", "a": "Microsoft Azure has about 21% of the cloud market."},
         {"q": "What is a knot in kilometres per hour?", "query": "knot speed", "a": "A knot is exactly 1.852 kilometres per hour."},
         {"q": "When did Microsoft launch Azure?", "query": "Azure launched", "a": "Microsoft Azure was launched in 2010."},
         {"q": "What does a stock's closing price mean?", "query": "closing price", "a": "A stock's closing price is the last price at which it traded during a regular session."},
     ]},
     "answer": "{{f.a}}"},
    # numbers that only appear in text: search, then replan with what the results say
    {"id": "text-then-convert", "question": "{{t.q}}",
     "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{t.query}}"}}]},
     "join": {"action": "replan", "reason": "{{t.reason}}"},
     "replan": {"plan": {"nodes": [{"id": 2, "tool": "convert_units", "args": {"value": "{{t.v}}", "from_unit": "{{t.f}}", "to_unit": "{{t.t}}"}}]}},
     "values": {"t": [
         {"q": "How many feet high is Mont Blanc?", "query": "Mont Blanc height", "reason": "convert 4806 m to feet", "v": 4806, "f": "m", "t": "ft", "a": "Mont Blanc is about 4,806 metres, or {{$2.result}} feet, high."},
         {"q": "How long is the Amazon River in miles?", "query": "Amazon River length", "reason": "convert 6400 km to miles", "v": 6400, "f": "km", "t": "mi", "a": "The Amazon River is about 6,400 km, or {{$2.result}} miles, long."},
         {"q": "What is the depth of Lake Baikal in feet?", "query": "Lake Baikal depth", "reason": "convert 1642 m to feet", "v": 1642, "f": "m", "t": "ft", "a": "Lake Baikal is 1,642 metres, or {{$2.result}} feet, deep."},
         {"q": "What is the speed of light in miles per hour?", "query": "speed of light", "reason": "convert 299792458 m/s to mph", "v": 299792458, "f": "m/s", "t": "mph", "a": "Light travels at 299,792,458 m/s, which is {{$2.result}} miles per hour."},
         {"q": "How deep is the Mariana Trench in miles?", "query": "Mariana Trench depth", "reason": "convert 10935 m to miles", "v": 10935, "f": "m", "t": "mi", "a": "The Mariana Trench reaches about 10,935 metres, or {{$2.result}} miles."},
         {"q": "What is Earth's standard gravity in feet per second squared?", "query": "Earth gravity", "reason": "convert 9.80665 m to feet", "v": 9.80665, "f": "m", "t": "ft", "a": "Standard gravity is 9.80665 m/s², or {{$2.result}} ft/s²."},
         {"q": "How fast is a knot in metres per second?", "query": "knot speed", "reason": "convert 1 kn to m/s", "v": 1, "f": "kn", "t": "m/s", "a": "One knot is {{$2.result}} metres per second."},
         {"q": "What is the boiling point of water in kelvin?", "query": "water boiling point", "reason": "convert 100 °C to K", "v": 100, "f": "°C", "t": "K", "a": "Water boils at 100 °C, which is {{$2.result}} K."},
     ]},
     "answer": "{{t.a}}"},
    {"id": "text-then-calc", "question": "{{t.q}}",
     "plan": {"nodes": [{"id": 1, "tool": "search", "args": {"query": "{{t.query}}"}}]},
     "join": {"action": "replan", "reason": "{{t.reason}}"},
     "replan": {"plan": {"nodes": [{"id": 2, "tool": "calculator", "args": {"expression": "{{t.e}}"}}]}},
     "values": {"t": [
         {"q": "What is the combined cloud market share of AWS and Azure?", "query": "cloud market share", "reason": "add 30 and 21", "e": "30 + 21", "a": "AWS has about 30% and Azure about 21%: {{$2.text}}% together."},
         {"q": "How many years passed between Apple's founding and Microsoft's?", "query": "Apple Microsoft founded", "reason": "subtract 1975 from 1976", "e": "1976 - 1975", "a": "Apple was founded in 1976 and Microsoft in 1975: {{$2.text}} year apart."},
         {"q": "How much longer is the Nile than the Amazon River, in km?", "query": "Nile Amazon river length", "reason": "subtract 6400 from 6650", "e": "6650 - 6400", "a": "The Nile (about 6,650 km) is {{$2.text}} km longer than the Amazon (about 6,400 km)."},
         {"q": "How much higher is Everest than Mont Blanc, in metres?", "query": "Everest Mont Blanc height", "reason": "subtract 4806 from 8849", "e": "8849 - 4806", "a": "Everest (8,849 m) is {{$2.text}} m higher than Mont Blanc (4,806 m)."},
         {"q": "How old was IBM in 2024?", "query": "IBM founded", "reason": "subtract 1911 from 2024", "e": "2024 - 1911", "a": "IBM was founded in 1911, so it was {{$2.text}} years old in 2024."},
         {"q": "How many times deeper is the Mariana Trench than Lake Baikal?", "query": "Mariana Trench Lake Baikal depth", "reason": "divide 10935 by 1642", "e": "10935 / 1642", "a": "The Mariana Trench (10,935 m) is {{$2.text}} times as deep as Lake Baikal (1,642 m)."},
     ]},
     "answer": "{{t.a}}"},
]

# settings for `reasoner tune --recipe embedded` (documented in the adapter's card)
EMBEDDED: dict[str, Any] = {
    "base": "smollm2-135m-base",
    "tools": "demo",
    "per_seed": 12,
    "seed": 0,
    "holdout": 0.04,
    "eval_limit": 16,
    "roles": {"planner": 1.0, "joiner": 0.1, "answerer": 0.3},
    "lora": {"rank": 16, "alpha": 32, "dropout": 0.05, "learning_rate": 2e-3, "epochs": 1.0, "batch_tokens": 1536, "warmup_steps": 5, "checkpoint_every": 5},
}
