"""Tool retrieval benchmark: recall of the needed tools, planner prompt size and plan-grammar
compile time as the registry grows, all tools (baseline) vs the top-k by BM25 (ours).

Run: ``.venv/bin/python -P benchmarks/bench_retrieval.py`` (about 2 minutes on 2 cores).

Registries of 10, 50, 200 and 1,000 tools: the 5 demo tools plus generated distractors,
some close to the demo tools on purpose (crypto and fund prices, currency and temperature
conversion, news and web search, line and pie charts, equation solvers...), the rest
drawn from 40 topics x 25 actions. For each size:

- recall@k: the share of the needed tools that are among the top k, over two question
  sets: TUNING (written for this benchmark, used to choose the defaults; no question of
  an eval dataset) and the questions of ``evals/datasets/demo.jsonl`` with their
  ``expected_tools`` (reported only, never tuned on);
- prompt tokens: the planner prompt (``plan_messages``) for one question in the SmolLM2
  tokenizer, every tool vs the top k;
- compile ms: the strict plan grammar (``plan_schema``, llguidance, SmolLM2 tokenizer,
  16 nodes) from schema to the first mask, every tool vs the top k; median of 3, the
  compiled-grammar cache cleared before each ("refused": llguidance rejects the grammar
  of every tool as too large);
- retrieval ms: building the BM25 index once, and one query.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reasoner.grammars import clear_caches, compile_json_schema  # noqa: E402
from reasoner.planner import plan_schema  # noqa: E402
from reasoner.planner._prompts import plan_messages  # noqa: E402
from reasoner.planner._retrieval import ToolRetriever  # noqa: E402
from reasoner.tools import ToolRegistry, ToolSpec  # noqa: E402
from reasoner.tools.demo import demo_tools  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))  # benchmarks/, after site-packages (runs under python -P too)
from _machine import header  # noqa: E402

SIZES = (10, 50, 200, 1000)
KS = (5, 8, 12)
K = 8  # Engine(retrieval_k=8), the default
RUNS = 3
ROOT = Path(__file__).resolve().parent.parent

# Questions written for this benchmark (not from evals/datasets), with the tools they need.
TUNING: list[tuple[str, list[str]]] = [
    ("What did Nvidia stock close at yesterday?", ["stock_price"]),
    ("Give me the share price of Apple and of Netflix", ["stock_price"]),
    ("Which companies make the most popular GPUs, and how are their shares doing?", ["search", "stock_price"]),
    ("Plot the closing prices of Tesla, Uber and Intel as bars", ["stock_price", "chart"]),
    ("How many pounds is 70 kilograms?", ["convert_units"]),
    ("Convert 100 degrees Fahrenheit to Celsius", ["convert_units"]),
    ("What is 15% of 2,340?", ["calculator"]),
    ("Compute the square root of 1764 plus 12 times 3", ["calculator"]),
    ("Who founded the largest chip foundry? Look it up", ["search"]),
    ("Find facts about the tallest mountain in Africa", ["search"]),
    ("How fast is 60 miles per hour in kilometres per hour?", ["convert_units"]),
    ("Draw a bar chart of 3, 7, 12 and 5 titled Sales", ["chart"]),
    ("Find the biggest streaming companies and chart their stock prices", ["search", "stock_price", "chart"]),
    ("If Microsoft's share price doubled, what would it be? Use the latest close", ["stock_price", "calculator"]),
    ("How many gigabytes are 5000 megabytes?", ["convert_units"]),
    ("What is the difference between the closing prices of AMD and Intel?", ["stock_price", "calculator"]),
    ("Search for the capital of Australia", ["search"]),
    ("Average of 12, 19 and 31, please calculate it", ["calculator"]),
    ("Look up which firms lead enterprise software, then get their ticker prices", ["search", "stock_price"]),
    ("Make a chart comparing 2.5, 4.1 and 3.3", ["chart"]),
]

_CLOSE = [  # distractors that share words with the demo tools
    ("crypto_price", "Latest price of a cryptocurrency such as bitcoin, in US dollars.", {"coin": "Coin symbol, e.g. BTC."}),
    ("fund_price", "Net asset value of a mutual fund or ETF.", {"fund": "Fund ticker, e.g. VOO."}),
    ("stock_news", "Recent news headlines about a company's stock.", {"ticker": "Stock symbol."}),
    ("stock_dividend", "Dividend history of a stock.", {"ticker": "Stock symbol."}),
    ("company_profile", "Profile of a company: sector, employees, headquarters.", {"company": "Company name."}),
    ("web_search", "Search the web and return result links.", {"q": "Search terms."}),
    ("news_search", "Search news articles by keyword.", {"keywords": "Words to search for."}),
    ("line_chart", "Draw a line chart of a time series.", {"series": "Comma-separated numbers."}),
    ("pie_chart", "Draw a pie chart of shares of a whole.", {"parts": "Comma-separated numbers."}),
    ("currency_convert", "Convert an amount between currencies at today's rate.", {"amount": "Amount.", "to": "Currency code."}),
    ("temperature_now", "Current temperature in a city.", {"city": "City name."}),
    ("equation_solver", "Solve an algebraic equation for x.", {"equation": "e.g. 2x+3=7."}),
    ("statistics_summary", "Mean, median and spread of a list of numbers.", {"values": "Comma-separated numbers."}),
    ("date_difference", "Days between two dates.", {"start": "YYYY-MM-DD.", "end": "YYYY-MM-DD."}),
    ("time_zone_convert", "Convert a time between time zones.", {"time": "HH:MM.", "to_zone": "Zone name."}),
]
_TOPICS = (
    "weather flight hotel recipe movie music lyrics podcast calendar email contact invoice payroll inventory "
    "shipment order ticket parking traffic transit bike fitness sleep nutrition pharmacy appointment library "
    "book course exam grade garden pet vet wine restaurant museum concert sport league translation"
).split()
_ACTIONS = (
    "lookup list create update delete search summarize schedule cancel book rate review export import share "
    "archive restore notify remind track compare recommend validate estimate report"
).split()


def _spec(name: str, description: str, params: dict[str, str]) -> ToolSpec:
    schema = {
        "type": "object",
        "properties": {p: {"type": "string", "description": d} for p, d in params.items()},
        "required": list(params),
        "additionalProperties": False,
    }
    return ToolSpec(name=name, description=description, input_schema=schema, output_schema=None, fn=lambda **kw: kw, is_async=False)


def distractors(n: int) -> list[ToolSpec]:
    """``n`` generated tools: the close ones first, then topic x action."""
    out = [_spec(*row) for row in _CLOSE[:n]]
    for i in range(n - len(out)):
        topic, action = _TOPICS[i % len(_TOPICS)], _ACTIONS[(i // len(_TOPICS)) % len(_ACTIONS)]
        suffix = i // (len(_TOPICS) * len(_ACTIONS))
        name = f"{topic}_{action}" + (f"_{suffix}" if suffix else "")
        out.append(_spec(name, f"{action.capitalize()} {topic} records for the user's account.", {"id": f"The {topic} id.", "note": "Free text."}))
    return out


def registry(size: int) -> ToolRegistry:
    demo = ToolRegistry.of(demo_tools())
    return ToolRegistry.of([*demo, *distractors(size - len(demo))])


def eval_questions() -> list[tuple[str, list[str]]]:
    rows = [json.loads(line) for line in (ROOT / "evals" / "datasets" / "demo.jsonl").read_text().splitlines() if line.strip()]
    return [(row["question"], list(row["expected_tools"])) for row in rows if row.get("expected_tools")]


def recall(retriever: ToolRetriever, questions: list[tuple[str, list[str]]], k: int) -> float:
    found = needed = 0
    for question, tools in questions:
        top = set(retriever.select(question, k).tools)
        found += sum(tool in top for tool in tools)
        needed += len(tools)
    return found / needed


def prompt_tokens(tokenizer: Any, reg: ToolRegistry, question: str) -> int:
    messages = plan_messages(question, reg)
    text = tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def compile_ms(tokenizer: Any, reg: ToolRegistry) -> float | None:
    """Median ms from schema to first mask; None when llguidance refuses the grammar."""
    from reasoner.errors import GrammarError
    from reasoner.kernels import allocate_token_bitmask

    times = []
    for _ in range(RUNS):
        clear_caches(adapters=False)
        start = time.perf_counter()
        schema = plan_schema(reg, max_nodes=16, max_string=2048, max_array=64, strict=True, unknown_tool_paths="union")
        try:
            grammar = compile_json_schema(schema, tokenizer)
        except GrammarError:  # "schema too large": the whole registry cannot be a grammar at all
            return None
        grammar.matcher().fill_bitmask(allocate_token_bitmask(grammar.vocab_size))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    from transformers import AutoTokenizer

    from reasoner.models import ensure_smollm2

    tokenizer = AutoTokenizer.from_pretrained(ensure_smollm2(), local_files_only=True)
    compile_json_schema({"type": "string", "maxLength": 4}, tokenizer)  # build the tokenizer adapter once
    evals = eval_questions()
    question = TUNING[12][0]
    print(header("bench_retrieval"))
    print(f"questions: {len(TUNING)} tuning (written for this benchmark), {len(evals)} from evals/datasets/demo.jsonl (report only)")
    print(f"prompt tokens: SmolLM2 tokenizer, question {question!r}; compile: strict plan grammar, 16 nodes, llguidance, median of {RUNS}\n")
    head = ["tools", *[f"recall@{k} tune/eval" for k in KS], "prompt all", f"prompt top{K}", "ratio", "compile all ms", f"compile top{K} ms", "ratio", "index ms", "query ms"]
    rows = [head]
    for size in SIZES:
        reg = registry(size)
        start = time.perf_counter()
        retriever = ToolRetriever(reg)
        index_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        picked = retriever.select(question, K)
        query_ms = (time.perf_counter() - start) * 1000
        top = ToolRegistry.of([reg[name] for name in picked.tools])
        recalls = [f"{recall(retriever, TUNING, k):.3f} / {recall(retriever, evals, k):.3f}" for k in KS]
        p_all, p_top = prompt_tokens(tokenizer, reg, question), prompt_tokens(tokenizer, top, question)
        c_all, c_top = compile_ms(tokenizer, reg), compile_ms(tokenizer, top)
        shown_all = "refused" if c_all is None else f"{c_all:.0f}"
        ratio = "-" if c_all is None or c_top is None else f"{c_all / c_top:.1f}x"
        rows.append([str(size), *recalls, str(p_all), str(p_top), f"{p_all / p_top:.1f}x", shown_all, f"{c_top or 0:.0f}", ratio, f"{index_ms:.1f}", f"{query_ms:.2f}"])
        print(f"  {size} tools done", file=sys.stderr, flush=True)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
