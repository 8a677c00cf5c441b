"""What ``reasoner run`` shows, fed events directly: the live view, plain lines, the summary."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from reasoner.cli._state import RunState, call_text, compact
from reasoner.cli._view import LiveView, PlainView
from reasoner.events import Event

T0 = 1_000.0
ROLES = {"planner": ["small"], "joiner": ["small"], "answerer": ["big"]}
MSFT = {"ticker": "MSFT", "name": "Microsoft", "close": 423.5, "currency": "USD", "date": "2024-12-06", "source": "sample data"}
AAPL = {**MSFT, "ticker": "AAPL", "name": "Apple", "close": 242.8}


class Script:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, type: Any, at: float, node_id: int | None = None, iteration: int = 0, **data: Any) -> Event:
        event = Event(type, "run1", len(self.events), T0 + at, iteration, node_id, data)
        self.events.append(event)
        return event


def first_half() -> Script:
    s = Script()
    s("run.started", 0.0, query="Compare MSFT and AAPL", tools=["stock_price", "chart"], roles=ROLES)
    s("plan.node", 0.5, 1, node={"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT"}})
    s("node.started", 0.5, 1, tool="stock_price", args={"ticker": "MSFT"})
    s("plan.node", 0.6, 2, node={"id": 2, "tool": "stock_price", "args": {"ticker": "AAPL"}})
    s("node.started", 0.6, 2, tool="stock_price", args={"ticker": "AAPL"})
    refs = [{"$ref": 1, "path": "close"}, {"$ref": 2, "path": "close"}]
    s("plan.node", 0.8, 3, node={"id": 3, "tool": "chart", "args": {"values": refs, "title": "x" * 80}})
    s("plan.completed", 0.9, nodes=3, plan={}, model="small")
    s("usage", 0.9, role="planner", model="small", prompt_tokens=800, completion_tokens=90, forced_tokens=40, seconds=0.9)
    s("node.completed", 1.0, 1, output=MSFT, duration_s=0.5)
    return s


def second_half(s: Script) -> Script:
    s("node.completed", 1.2, 2, output=AAPL, duration_s=0.6, cached=True)
    s("node.started", 1.2, 3, tool="chart", args={"values": [423.5, 242.8]})
    s("node.retrying", 1.3, 3, attempt=1, delay_s=0.1, error={"type": "OSError", "message": "disk busy"})
    s("node.failed", 1.5, 3, error={"type": "ToolError", "message": "chart: disk full"}, attempts=2)
    s("join.decision", 1.7, action="finish", reason="both prices are known")
    s("usage", 1.7, role="joiner", model="small", prompt_tokens=300, completion_tokens=12, forced_tokens=8, seconds=0.2)
    s("answer.delta", 1.8, text="MSFT closed higher ")
    s("answer.delta", 1.9, text="than AAPL.")
    s("answer.completed", 2.0, answer="MSFT closed higher than AAPL.")
    s("usage", 2.0, role="answerer", model="big", prompt_tokens=400, completion_tokens=20, forced_tokens=0, seconds=0.3)
    s("run.completed", 2.5, answer="MSFT closed higher than AAPL.", usage={})
    return s


def screen(view: LiveView, what: Any) -> str:
    view.console.print(what)
    file = view.console.file
    assert isinstance(file, io.StringIO)
    text = file.getvalue()
    file.seek(0)
    file.truncate()
    return text


def live_view(now: float) -> LiveView:
    console = Console(file=io.StringIO(), force_terminal=True, width=140, color_system=None)
    return LiveView(console, clock=lambda: T0 + now)


def test_compact_forms_show_refs_and_cut_long_values() -> None:
    assert call_text("chart", {"values": [{"$ref": 2, "path": "close"}, {"$ref": 3, "path": ""}]}) == "chart(values=[$2.close, $3])"
    assert call_text("stock_price", {"ticker": "MSFT"}) == 'stock_price(ticker="MSFT")'
    long = compact("y" * 100, 20)
    assert len(long) <= 21 and long.endswith('…"')
    assert compact(list(range(10))) == "[0, 1, 2, 3, 4, 5, …]"


def test_live_view_while_tools_run() -> None:
    view = live_view(now=1.1)
    for event in first_half().events:
        view.handle(event)
    shown = screen(view, view.render())
    lines = shown.splitlines()
    assert lines[0] == "❯ Compare MSFT and AAPL"
    row = {n: next(line for line in lines if line.lstrip().startswith(f"#{n} ")) for n in (1, 2, 3)}
    assert 'stock_price(ticker="MSFT")' in row[1] and "✓ 0.50s" in row[1] and "sample data" in row[1]
    assert "0.5s" in row[2] and "✓" not in row[2]  # still running: a spinner and the time so far
    assert "chart(values=[$1.close, $2.close]" in row[3] and "waiting" in row[3]
    # the timeline: both price calls have a bar, and they overlap in time
    bar1, bar2 = ({i for i, ch in enumerate(row[n]) if ch == "━"} for n in (1, 2))
    assert bar1 & bar2
    assert "running tools" in shown


def test_live_view_at_the_end_and_its_summary() -> None:
    view = live_view(now=2.5)
    for event in second_half(first_half()).events:
        view.handle(event)
    shown = screen(view, view.render())
    row3 = next(line for line in shown.splitlines() if line.lstrip().startswith("#3 "))
    assert "✗" in row3 and "ToolError: chart: disk full" in row3
    assert "↳ finish  both prices are known" in shown
    assert "answer\nMSFT closed higher than AAPL.\n" in shown
    assert "2 result(s) came from the demo's sample price table" in shown
    summary = screen(view, view.summary())
    assert "wall time 2.50 s" in summary
    assert "tool time 1.40 s summed over 3 call(s), 1.00 s elapsed" in summary  # 0.5-1.5 s: parallel calls counted once
    rows = {line.split()[0]: line.split() for line in summary.splitlines() if line.strip()}
    assert rows["planner"][1:] == ["small", "1", "800", "90", "40", "0.90"]
    assert rows["answerer"][1:] == ["big", "1", "400", "20", "0", "0.30"]
    assert rows["total"][1:] == ["3", "1500", "122", "48", "1.40"]


def test_live_view_streams_the_answer_with_a_cursor() -> None:
    s = first_half()
    s("answer.delta", 1.8, text="MSFT closed")
    view = live_view(now=1.9)
    for event in s.events:
        view.handle(event)
    assert "MSFT closed▌" in screen(view, view.render())


def test_plain_view_lines() -> None:
    out = io.StringIO()
    view = PlainView(out)
    for event in second_half(first_half()).events:
        view.handle(event)
    view.close(True)
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[:3] == [
        "question: Compare MSFT and AAPL",
        "models:   planner small, joiner small, answerer big",
        'plan      #1 stock_price(ticker="MSFT")',
    ]
    assert 'done      #2 stock_price 0.60 s (cached) -> {ticker: "AAPL"' in text
    assert "retrying  #3 chart: retry 1 in 0.1 s: OSError: disk busy" in lines
    assert "failed    #3 chart after 2 attempt(s): ToolError: chart: disk full" in lines
    assert "join      finish: both prices are known" in lines
    assert "answer:\nMSFT closed higher than AAPL.\n" in text
    assert "note: 2 tool result(s) came from the demo's sample data, not real quotes" in lines
    assert "\x1b" not in text


def test_replans_and_fallbacks_are_shown() -> None:
    s = first_half()
    s("join.decision", 1.5, action="replan", reason="need the chart")
    s("plan.node", 1.8, 4, iteration=1, node={"id": 4, "tool": "chart", "args": {"values": [{"$ref": 1, "path": "close"}]}})
    s("model.fallback", 1.9, role="answerer", model="big", next="small", reason="ModelError: out of memory")
    state = RunState()
    for event in s.events:
        state.apply(event)
    assert state.nodes[4].iteration == 1 and state.decisions[0] == ("replan", "need the chart")
    view = live_view(now=2.0)
    for event in s.events:
        view.handle(event)
    shown = screen(view, view.render())
    assert "↻ replan  need the chart" in shown and "replan 1" in shown
    assert "⚠ answerer: big failed, trying small (ModelError: out of memory)" in shown
