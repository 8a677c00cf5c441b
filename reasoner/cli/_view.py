"""How ``reasoner run`` shows a run: a rich live view on a terminal, plain lines otherwise,
or one JSON event per line (``--json``). Each view takes events through ``handle`` and
is closed with ``close(ok)``; all three read the same :class:`RunState`.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TextIO

from reasoner.cli._state import NodeView, RunState, call_text, is_sample_data, preview
from reasoner.events import Event

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.live import Live
    from rich.spinner import Spinner

__all__ = ["JsonView", "LiveView", "PlainView", "View", "summary_lines"]

SAMPLE_NOTE = "note: {n} tool result(s) came from the demo's sample data, not real quotes"


class View(Protocol):
    state: RunState

    def handle(self, event: Event) -> None: ...

    def close(self, ok: bool) -> None: ...

    def pause(self) -> None: ...  # a question is open on the terminal: hold the display

    def resume(self) -> None: ...


def _sample_count(state: RunState) -> int:
    return sum(1 for n in state.nodes.values() if n.status == "done" and is_sample_data(n.output))


class JsonView:
    """``--json``: one ``event.to_json()`` per line, flushed as it comes."""

    def __init__(self, out: TextIO) -> None:
        self.state = RunState()
        self._out = out

    def handle(self, event: Event) -> None:
        self.state.apply(event)
        self._out.write(event.to_json() + "\n")
        self._out.flush()

    def close(self, ok: bool) -> None:
        self._out.flush()

    def pause(self) -> None:  # JSON lines go to stdout, questions to stderr: nothing to hold
        pass

    def resume(self) -> None:
        pass


# -- plain lines ---------------------------------------------------------------------------


def summary_lines(state: RunState) -> list[str]:
    """The end-of-run summary as plain text lines: wall time, tool time, tokens per role."""
    lines = ["summary"]
    if state.run_id:
        lines.append(f"  run         {state.run_id}")
    wall = state.wall_time
    if wall is not None:
        lines.append(f"  wall time   {wall:.2f} s")
    calls, summed, elapsed = state.tool_times()
    if calls:
        lines.append(f"  tool time   {summed:.2f} s summed over {calls} call(s), {elapsed:.2f} s elapsed")
    if state.usage:
        header = ("role", "model", "calls", "prompt", "completion", "forced", "seconds")
        rows = [
            (u.role, u.model, str(u.calls), str(u.prompt_tokens), str(u.completion_tokens), str(u.forced_tokens), f"{u.seconds:.2f}")
            for u in state.usage.values()
        ]
        total = [u for u in state.usage.values()]
        rows.append(
            (
                "total",
                "",
                str(sum(u.calls for u in total)),
                str(sum(u.prompt_tokens for u in total)),
                str(sum(u.completion_tokens for u in total)),
                str(sum(u.forced_tokens for u in total)),
                f"{sum(u.seconds for u in total):.2f}",
            )
        )
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
            lines.append("  " + "  ".join(cells).rstrip())
    samples = _sample_count(state)
    if samples:
        lines.append(SAMPLE_NOTE.format(n=samples))
    return lines


class PlainView:
    """Plain lines, no ANSI codes: for pipes, files and dumb terminals."""

    def __init__(self, out: TextIO) -> None:
        self.state = RunState()
        self._target = out
        self._out: TextIO = out
        self._held: io.StringIO | None = None
        self._in_answer = False

    def pause(self) -> None:
        """Hold the lines (the other branches' progress) while a question is open."""
        if self._held is None:
            self._held = self._out = io.StringIO()

    def resume(self) -> None:
        if self._held is not None:
            text, self._held, self._out = self._held.getvalue(), None, self._target
            self._out.write(text)
            self._out.flush()

    def _line(self, text: str) -> None:
        if self._in_answer:  # a line in the middle of a streamed answer starts on its own line
            self._out.write("\n")
            self._in_answer = False
        self._out.write(text + "\n")
        self._out.flush()

    def handle(self, event: Event) -> None:
        state = self.state
        state.apply(event)
        d, nid = event.data, event.node_id
        node = state.nodes.get(nid) if nid is not None else None
        kind = event.type
        if kind == "run.started":
            self._line(f"question: {state.query}")
            if state.roles:
                self._line("models:   " + ", ".join(f"{role} {'/'.join(names)}" for role, names in state.roles.items()))
        elif kind == "retrieval.selected":
            self._line(f"tools     {len(d.get('tools') or [])} of {d.get('of')} by retrieval: {', '.join(d.get('tools') or [])}")
        elif kind == "plan.node":
            node_id = int((d.get("node") or {}).get("id", nid or 0))
            planned = state.nodes[node_id]
            prefix = "plan" if planned.iteration == 0 else f"replan {planned.iteration}"
            self._line(f"{prefix:<10}#{node_id} {call_text(planned.tool, planned.args, '...')}")
        elif kind == "plan.completed":
            self._line(f"planned   {d.get('nodes')} node(s) with {d.get('model')}" + (f" (ended early: {d['stopped']})" if d.get("stopped") else ""))
        elif node is not None:
            self._node_line(kind, node, d)
        elif kind == "model.fallback":
            self._line(f"fallback  {state.fallbacks[-1]}")
        elif kind == "join.decision":
            self._line(f"join      {d.get('action')}" + (f": {d.get('reason')}" if d.get("reason") else ""))
        elif kind == "answer.delta":
            if not self._in_answer:
                self._out.write("answer:\n")
                self._in_answer = True
            self._out.write(str(d.get("text", "")))
            self._out.flush()
        elif kind == "answer.reset" and self._in_answer:
            self._out.write(f"\n(answer restarted: {d.get('reason')})\n")
        elif kind == "answer.completed":
            if not self._in_answer:
                self._out.write("answer:\n" + state.answer_display())
            self._in_answer = True
            self._line("")
            if d.get("partial"):
                self._line(f"partial:  {d['partial']}")

    def _node_line(self, kind: str, node: NodeView, d: dict[str, Any]) -> None:
        head = f"#{node.id} {node.tool}"
        if kind == "node.started":
            self._line(f"start     {head}")
        elif kind == "node.completed":
            cached = " (cached)" if node.cached else f" (repeats #{d['aliased_to']})" if d.get("aliased_to") else ""
            sample = "  [sample data]" if is_sample_data(node.output) else ""
            self._line(f"done      {head} {node.duration or 0.0:.2f} s{cached} -> {preview(node.output, 100, '...')}{sample}")
        elif kind == "node.failed":
            tries = f" after {node.attempts} attempt(s)" if node.attempts else ""
            self._line(f"failed    {head}{tries}: {node.error}")
        elif kind == "node.retrying":
            self._line(f"retrying  {head}: {node.note}")
        elif kind == "node.skipped":
            self._line(f"skipped   {head}: {node.note}")
        elif kind == "approval.requested":
            self._line(f"approval  {head}: waiting for approval of {call_text(node.tool, d.get('args') or {}, '...')}")
        elif kind == "approval.resolved":
            self._line(f"approval  {head}: {node.note}")

    def close(self, ok: bool) -> None:
        if self._in_answer:
            self._line("")
        if ok:
            for line in summary_lines(self.state):
                self._line(line)


# -- the live view -------------------------------------------------------------------------

_BAR = 20  # timeline width in cells
_STYLE = {"done": "green", "failed": "red", "running": "cyan", "retrying": "yellow", "approval": "yellow", "skipped": "dim"}


class LiveView:
    """A ``rich.live.Live`` view: the plan as it is decoded, each call with a spinner and
    its duration, a timeline where parallel calls overlap, the answer as it streams, and
    a summary table at the end. Events arrive on the event loop's thread; rich refreshes
    from its own thread, so both sides hold a lock."""

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.time, refresh_per_second: float = 12) -> None:
        self.state = RunState()
        self.console = console
        self._clock = clock
        self._lock = threading.Lock()
        self._spinners: dict[int, Spinner] = {}
        self._status: Spinner | None = None
        self._refresh = refresh_per_second
        self._live: Live | None = None
        self._paused = False

    def start(self) -> Self:
        from rich.live import Live

        self._live = Live(self, console=self.console, refresh_per_second=self._refresh, transient=False)
        self._live.start()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close(exc is None)

    def handle(self, event: Event) -> None:
        with self._lock:
            self.state.apply(event)

    def pause(self) -> None:
        """Stop redrawing (its last frame stays on screen) while a question is open."""
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self.start()

    def close(self, ok: bool) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()
        if ok:
            self.console.print(self.summary())

    # -- rendering -------------------------------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        with self._lock:
            yield self.render()

    def render(self) -> RenderableType:
        """The current view (plan, calls, answer, status) as one renderable."""
        from rich.console import Group
        from rich.text import Text

        state = self.state
        parts: list[RenderableType] = [Text.assemble(("❯ ", "bold cyan"), (state.query, "bold"))]
        iterations = sorted({n.iteration for n in state.nodes.values()} | set(state.decisions))
        window = self._window()
        for it in iterations:
            model = state.plan_models.get(it)
            title = "plan" if it == 0 else f"replan {it}"
            parts.append(Text.assemble((title, "bold"), (f"  {model}" if model else "  decoding…", "dim")))
            nodes = [n for n in state.nodes.values() if n.iteration == it]
            if nodes:
                parts.append(self._node_table(nodes, window))
            if it in state.decisions:
                action, reason = state.decisions[it]
                mark, style = ("↳ finish", "green") if action == "finish" else ("↻ replan", "yellow")
                parts.append(Text.assemble((mark, style), (f"  {reason}" if reason else "", "dim")))
        parts.extend(Text(f"⚠ {line}", style="yellow") for line in state.fallbacks)
        answer = state.answer_display()
        if answer:
            parts.append(Text("answer", style="bold"))
            text = Text(answer)
            if not state.answered:
                text.append("▌", style="dim")
            parts.append(text)
        if state.error:
            parts.append(Text(f"✗ {state.error}", style="bold red"))
        elif state.ended is None:
            parts.append(self._status_spinner(state.status_line))
        samples = _sample_count(state)
        if samples:
            parts.append(Text(f"sample data: {samples} result(s) came from the demo's sample price table, not real quotes", style="yellow"))
        return Group(*parts)

    def _status_spinner(self, text: str) -> RenderableType:
        from rich.spinner import Spinner

        if self._status is None:
            self._status = Spinner("dots", style="cyan")
        self._status.update(text=f"{text}…")
        return self._status

    def _window(self) -> tuple[float, float] | None:
        starts = [n.started for n in self.state.nodes.values() if n.started is not None]
        if not starts:
            return None
        now = self._clock()
        ends = [n.ended if n.ended is not None else now for n in self.state.nodes.values() if n.started is not None]
        return min(starts), max(max(ends), min(starts) + 1e-3)

    def _node_table(self, nodes: list[NodeView], window: tuple[float, float] | None) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=4, justify="right", style="dim")
        table.add_column(ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column(width=12, no_wrap=True)
        table.add_column(width=_BAR, no_wrap=True)
        table.add_column(ratio=2, no_wrap=True, overflow="ellipsis")
        for node in nodes:
            detail: Text
            if node.status == "done":
                detail = Text(preview(node.output, 80), style="dim")
                if is_sample_data(node.output):
                    detail = Text.assemble(("sample data ", "bold yellow"), detail)
            elif node.status == "failed":
                detail = Text(node.error or "", style="red")
            else:
                detail = Text(node.note, style="dim")
            table.add_row(f"#{node.id}", Text(call_text(node.tool, node.args)), self._status_cell(node), self._bar(node, window), detail)
        return table

    def _status_cell(self, node: NodeView) -> RenderableType:
        from rich.spinner import Spinner
        from rich.text import Text

        if node.status in ("running", "retrying", "approval"):
            spinner = self._spinners.get(node.id)
            if spinner is None:
                spinner = self._spinners[node.id] = Spinner("dots", style=_STYLE[node.status])
            elapsed = self._clock() - node.started if node.started is not None else 0.0
            label = {"running": f"{elapsed:.1f}s", "retrying": f"retry {elapsed:.1f}s", "approval": "approve?"}[node.status]
            spinner.update(text=Text(label, style=_STYLE[node.status]))
            return spinner
        if node.status == "done":
            return Text(f"✓ {node.duration or 0.0:.2f}s" + (" ⚡" if node.cached else ""), style="green")
        if node.status == "failed":
            return Text(f"✗ {node.duration or 0.0:.2f}s", style="red")
        if node.status == "skipped":
            return Text("– skipped", style="dim")
        return Text("· waiting", style="dim")

    def _bar(self, node: NodeView, window: tuple[float, float] | None) -> RenderableType:
        from rich.text import Text

        if window is None or node.started is None:
            return Text("")
        lo, hi = window
        span = hi - lo
        end = node.ended if node.ended is not None else self._clock()
        a = min(int((node.started - lo) / span * _BAR), _BAR - 1)
        b = min(max(a + 1, round((end - lo) / span * _BAR)), _BAR)
        return Text.assemble(" " * a, ("━" * (b - a), _STYLE.get(node.status, "cyan")), " " * (_BAR - b))

    def summary(self) -> RenderableType:
        """The end-of-run summary: wall time, tool time, tokens and seconds per role/model."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        state = self.state
        lines: list[RenderableType] = []
        facts = [f"run {state.run_id}"] if state.run_id else []
        if state.wall_time is not None:
            facts.append(f"wall time {state.wall_time:.2f} s")
        calls, summed, elapsed = state.tool_times()
        if calls:
            facts.append(f"tool time {summed:.2f} s summed over {calls} call(s), {elapsed:.2f} s elapsed")
        if facts:
            lines.append(Text(" · ".join(facts), style="bold"))
        if state.usage:
            table = Table(title=None, box=None, header_style="bold", padding=(0, 2))
            for name, justify in (("role", "left"), ("model", "left"), ("calls", "right"), ("prompt", "right"),
                                  ("completion", "right"), ("forced", "right"), ("seconds", "right")):  # fmt: skip
                table.add_column(name, justify=justify)  # type: ignore[arg-type]
            usage = list(state.usage.values())
            for u in usage:
                table.add_row(u.role, u.model, str(u.calls), str(u.prompt_tokens), str(u.completion_tokens), str(u.forced_tokens), f"{u.seconds:.2f}")
            table.add_row(
                Text("total", style="bold"),
                "",
                str(sum(u.calls for u in usage)),
                str(sum(u.prompt_tokens for u in usage)),
                str(sum(u.completion_tokens for u in usage)),
                str(sum(u.forced_tokens for u in usage)),
                f"{sum(u.seconds for u in usage):.2f}",
            )
            lines.append(table)
        return Group(Text("summary", style="bold underline"), *lines)
