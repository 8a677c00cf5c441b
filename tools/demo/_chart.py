"""chart: a bar chart written as a PNG with matplotlib; returns the file's path.

Charts are drawn on a bare :class:`matplotlib.figure.Figure` rendered by the Agg
canvas: pyplot is never imported, so the process-wide backend, the user's open
figures and GUI event loops are left alone, and tool calls in worker threads do not
share state (a lock serialises the drawing itself, which takes a few milliseconds).

Where files go: ``make_chart(output_dir)`` picks the folder; the default ``chart``
tool writes to ``<system temp dir>/reasoner-<uid>/reasoner-charts/``, inside a folder
only this user may enter (created with mode 0700; refused when it is a symlink, someone
else's, or open to others: a shared temp dir is where another user plants a symlink).
The CLI may pass a folder it read from its options or the environment. File names are a hash of the inputs,
so the same chart is written to the same path, atomically. Every chart carries the
footer "sample data (reasoner demo)": the demo's prices are not real quotes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ToolError, ToolRetry
from reasoner.tools import tool

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ChartResult", "chart", "default_chart_dir", "make_chart"]

MAX_BARS = 50
FOOTER = "sample data (reasoner demo)"
_WIDTH_IN, _HEIGHT_IN, _DPI = 6.4, 4.0, 100
_MAX_LABEL_CHARS = 24
_MAX_TITLE_CHARS = 100
_LOCK = threading.Lock()


class ChartResult(BaseModel):
    """Where a chart was written, and what it shows."""

    model_config = ConfigDict(frozen=True)

    path: str
    title: str
    bars: int
    width: int
    height: int


def default_chart_dir() -> Path:
    """The folder the default ``chart`` tool writes to: ``<temp dir>/reasoner-<uid>/reasoner-charts``."""
    return Path(tempfile.gettempdir()) / f"reasoner-{_uid()}" / "reasoner-charts"


def _uid() -> int | str:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid is not None else os.environ.get("USERNAME", "user")


def _private(folder: Path) -> None:
    """Create ``folder`` (mode 0700) and check nobody else can have planted or entered it."""
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    getuid = getattr(os, "getuid", None)
    if (
        stat.S_ISLNK(info.st_mode)
        or not stat.S_ISDIR(info.st_mode)
        or (getuid is not None and (info.st_uid != getuid() or info.st_mode & 0o077))
    ):
        raise ToolError(
            f"chart: {folder} is not a private folder of this user (a symlink, someone else's, or open to others); "
            "remove it, or give the chart tool a folder (make_chart(output_dir), --chart-dir)"
        )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(values: list[float], labels: list[str], title: str) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(values)))
    bars = axes.bar(positions, values, color="#4C72B0")
    axes.bar_label(bars, labels=[f"{v:,.6g}" for v in values], fontsize=8, padding=2)
    rotation, align = (30, "right") if len(values) > 6 else (0, "center")
    axes.set_xticks(positions, labels, rotation=rotation, ha=align, parse_math=False)
    axes.axhline(0, color="black", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if title:
        axes.set_title(title, parse_math=False)  # a model's "$x^{$" is text, not TeX to parse
    figure.supxlabel(FOOTER, x=0.99, ha="right", fontsize=7, color="gray")  # constrained layout leaves room for it
    return figure


def _check(values: list[float], labels: list[str] | None) -> list[str]:
    if not values:
        raise ToolRetry("chart: values is empty; pass at least one number, e.g. [1.5, 2.0]")
    if len(values) > MAX_BARS:
        raise ToolRetry(f"chart: {len(values)} values is more than {MAX_BARS} bars; pass fewer")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise ToolRetry(f"chart: values must be finite numbers, got {bad[0]!r}")
    if labels is None:
        return [str(i) for i in range(1, len(values) + 1)]
    if len(labels) != len(values):
        raise ToolRetry(f"chart: {len(labels)} labels for {len(values)} values; pass one label per value, or none")
    return [_clip(str(label), _MAX_LABEL_CHARS) for label in labels]


def make_chart(output_dir: str | os.PathLike[str] | None = None) -> Callable[..., ChartResult]:
    """Make a ``chart`` tool that writes its PNGs to ``output_dir`` (default: :func:`default_chart_dir`)."""
    folder = Path(output_dir) if output_dir is not None else None

    @tool(timeout=60)  # the first matplotlib import in a fresh install builds a font cache
    def chart(values: list[float], labels: list[str] | None = None, title: str = "") -> ChartResult:
        """Draw a bar chart of numbers as a PNG file and return its path.

        Args:
            values: The numbers to plot, one bar each.
            labels: One label per bar, e.g. tickers; omit to number the bars.
            title: Chart title.

        Raises:
            ToolRetry: no values, too many, non-finite ones, or labels that do not match.
        """
        names = _check(values, labels)
        title = _clip(title, _MAX_TITLE_CHARS)
        target = folder if folder is not None else default_chart_dir()
        digest = hashlib.sha256(json.dumps([values, names, title]).encode()).hexdigest()[:16]
        path = (target / f"chart-{digest}.png").absolute()  # a path that opens from anywhere
        metadata = {"Title": title or "bar chart", "Source": FOOTER, "Software": "reasoner"}
        if folder is None:
            _private(target.parent)
        target.mkdir(parents=True, exist_ok=True)
        with _LOCK:
            figure = _figure(values, names, title)
            handle, temporary = tempfile.mkstemp(dir=target, prefix=".chart-", suffix=".png")
            try:
                with os.fdopen(handle, "wb") as file:
                    figure.savefig(file, format="png", metadata=metadata)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        return ChartResult(
            path=str(path), title=title, bars=len(values), width=int(_WIDTH_IN * _DPI), height=int(_HEIGHT_IN * _DPI)
        )

    return chart


chart = make_chart()
