"""Pictures of eval reports (PNG, matplotlib): :func:`write_plots`.

Works on report dicts (``EvalReport.to_dict()``, ``BfclReport.to_dict()``, or
:func:`~reasoner.evals._compare.load_reports` of saved files), so a picture can be
drawn from runs made on other days or machines:

- ``bfcl_accuracy.png``: BFCL accuracy per category, one bar per model (grouped);
- ``latency.png``: the distribution of per-item latency of every report (box plot);
- ``plan_vs_react_<dataset>.png``: per question, react-mode latency against plan-mode
  latency (a point above the diagonal is a question plan mode answered faster);
- ``plan_vs_react_summary.png``: accuracy, median latency and tokens of both modes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.errors import UsageError
from reasoner.evals._compare import label, paired_latencies

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["write_plots"]

Report = Mapping[str, Any]


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig, fig.add_subplot()


def _planner(report: Report) -> str:
    return ", ".join(report.get("models", {}).get("planner", [])) or "?"


def _with_commit(report: Report) -> str:
    commit = str(report.get("commit") or "")[:7]
    return f"{_planner(report)} @ {commit}" if commit else _planner(report)


def bfcl_accuracy(reports: Sequence[Report], path: Path) -> Path:
    """Grouped bars: BFCL accuracy (%) per category, one colour per model."""
    categories = list(dict.fromkeys(str(r["dataset"]).removeprefix("bfcl:") for r in reports))
    keys = [(_planner(r), str(r["dataset"])) for r in reports]
    # one bar per planner; the same planner at two commits (a new adapter) is two bars
    name_of = _planner if len(set(keys)) == len(keys) else _with_commit
    models = list(dict.fromkeys(name_of(r) for r in reports))
    value = {(name_of(r), str(r["dataset"]).removeprefix("bfcl:")): r["summary"] for r in reports}
    fig, ax = _figure(max(6.0, 1.1 * len(categories) + 2), 4.2)
    width = 0.8 / len(models)
    for m, model in enumerate(models):
        xs, heights, counts = [], [], []
        for c, category in enumerate(categories):
            if (model, category) in value:
                s = value[(model, category)]
                xs.append(c + (m - (len(models) - 1) / 2) * width)
                heights.append(100 * s["accuracy"])
                counts.append(s["n"])
        bars = ax.bar(xs, heights, width, label=model)
        ax.bar_label(bars, labels=[f"{h:.0f}%\nn={n}" for h, n in zip(heights, counts)], fontsize=7)
    ax.set_xticks(range(len(categories)), categories, rotation=25, ha="right")
    ax.set_ylabel("accuracy (%, BFCL AST checker)")
    ax.set_ylim(0, 110)
    ax.set_title("BFCL accuracy per category")
    ax.legend(fontsize=8)
    fig.savefig(path)
    return path


def latency_distribution(reports: Sequence[Report], path: Path) -> Path:
    """One box per report: per-item latency in seconds (whiskers 5th-95th percentile)."""
    fig, ax = _figure(max(6.0, 1.0 * len(reports) + 2), 4.2)
    data = [[float(item["latency_s"]) for item in r["items"]] for r in reports]
    names = [label(r).replace(" ", "\n", 1) if r.get("kind") != "bfcl" else str(r["dataset"]).removeprefix("bfcl:") for r in reports]
    ax.boxplot(data, whis=(5, 95), showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=25, ha="right", fontsize=7)
    ax.set_ylabel("latency per item (s)")
    ax.set_title("Latency distribution")
    fig.savefig(path)
    return path


def plan_vs_react(plan: Report, react: Report, path: Path) -> Path:
    """Per question: react-mode latency (y) against plan-mode latency (x), with y = x."""
    pairs = paired_latencies(plan, react)
    if not pairs:
        raise UsageError(f"the plan and react reports of {plan.get('dataset')} share no item")
    fig, ax = _figure(5.2, 5.0)
    xs, ys = [p[1] for p in pairs], [p[2] for p in pairs]
    top = max(xs + ys) * 1.05
    ax.plot([0, top], [0, top], color="grey", linewidth=1, label="same latency")
    ax.scatter(xs, ys, s=18)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("plan mode latency (s)")
    ax.set_ylabel("react mode latency (s)")
    slower = sum(y > x for x, y in zip(xs, ys))
    ax.set_title(f"{plan.get('dataset')}: per question ({slower}/{len(pairs)} slower in react)")
    ax.legend(fontsize=8)
    fig.savefig(path)
    return path


def plan_vs_react_summary(pairs: Sequence[tuple[Report, Report]], path: Path) -> Path:
    """Three panels (answer accuracy, median latency, tokens per item): plan vs react per dataset."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), dpi=110, layout="constrained")
    axes = fig.subplots(1, 3)
    metrics: tuple[tuple[str, Callable[[Mapping[str, Any]], float]], ...] = (
        ("answer accuracy", lambda s: s["answer_accuracy"]),
        ("median latency (s)", lambda s: s["latency_median_s"] or 0.0),
        ("tokens per item", lambda s: s["total_tokens"] / max(s["n"], 1)),
    )
    names = [str(p.get("dataset")) for p, _ in pairs]
    for ax, (title, get) in zip(axes, metrics):
        for k, mode in enumerate(("plan", "react")):
            values = [get(pair[k]["summary"]) for pair in pairs]
            bars = ax.bar([i + (k - 0.5) * 0.38 for i in range(len(pairs))], values, 0.38, label=mode)
            ax.bar_label(bars, fmt="%.2f" if title == "answer accuracy" else "%.1f", fontsize=7)
        ax.set_xticks(range(len(pairs)), names)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.savefig(path)
    return path


def write_plots(reports: Sequence[Report], folder: str | Path) -> list[Path]:
    """Every picture that applies to ``reports`` (see the module doc), written to ``folder``
    (created if missing). Returns the paths written.

    Raises:
        UsageError: no reports, or a folder that cannot be created.
    """
    if not reports:
        raise UsageError("write_plots needs at least one report")
    out = Path(folder).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the plot folder {str(out)!r}: {exc.strerror or exc}") from exc
    written = []
    bfcl = [r for r in reports if r.get("kind") == "bfcl"]
    if bfcl:
        written.append(bfcl_accuracy(bfcl, out / "bfcl_accuracy.png"))
    written.append(latency_distribution(reports, out / "latency.png"))
    evals = [r for r in reports if r.get("kind") != "bfcl"]
    pairs = []
    for plan in (r for r in evals if r.get("mode", "plan") == "plan"):
        react = next((r for r in evals if r.get("mode") == "react" and r.get("dataset") == plan.get("dataset")), None)
        if react is not None:
            pairs.append((plan, react))
            name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(plan.get("dataset")))
            written.append(plan_vs_react(plan, react, out / f"plan_vs_react_{name}.png"))
    if pairs:
        written.append(plan_vs_react_summary(pairs, out / "plan_vs_react_summary.png"))
    return written
