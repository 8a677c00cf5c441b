"""`reasoner eval --mode react|both`, `--compare` and `--plot` with scripted models: the
same questions in plan mode and in the one-call-per-turn baseline, side by side."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reasoner import Engine
from reasoner.cli import main
from reasoner.evals import compare_reports, load_dataset, load_reports, run_eval, write_plots
from reasoner.models import Message, ScriptedModel
from reasoner.tools.demo import demo_tools

PARALLEL = load_dataset("parallel")
BY_QUESTION = {item.question: item for item in [*load_dataset("demo"), *PARALLEL]}
SCRIPTED = ["--planner", "scripted-planner", "--joiner", "scripted-joiner", "--answerer", "scripted-answerer"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("REASONER_CHART_DIR", raising=False)
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REASONER_CONFIG", raising=False)


def models() -> dict[str, ScriptedModel]:
    """A planner that writes the item's reference plan: whole in plan mode, one node a turn
    (then none) in react mode, which it tells by the grammar's one-node limit."""
    planner = ScriptedModel([], name="scripted-planner", chunk_size=16)

    def plan(messages: Sequence[Message]) -> str:
        user = [m.content for m in messages if m.role == "user"][-1]
        item = BY_QUESTION[user.split("\n", 1)[0].removeprefix("Question: ")]
        nodes = (item.reference_plan or {})["nodes"]
        schema = planner.calls[-1].schema or {}
        if schema["properties"]["nodes"].get("maxItems") != 1:
            return json.dumps({"nodes": nodes})
        found = re.search(r"its first id is (\d+)", user)
        turn = int(found.group(1)) if found else 1
        return json.dumps({"nodes": nodes[turn - 1 : turn]})

    def answer(messages: Sequence[Message]) -> str:
        return [m.content for m in messages if m.role == "user"][-1].split("Results:\n", 1)[1]

    planner.responses = [plan] * 200
    return {
        "scripted-planner": planner,
        "scripted-joiner": ScriptedModel(['{"action":"finish"}'] * 200, name="scripted-joiner"),
        "scripted-answerer": ScriptedModel([answer] * 200, name="scripted-answerer", chunk_size=64),
    }


async def test_react_mode_reaches_the_same_answers_with_more_model_calls(tmp_path: Path) -> None:
    m = models()
    roles = {"planner": m["scripted-planner"], "joiner": m["scripted-joiner"], "answerer": m["scripted-answerer"]}
    items = PARALLEL.select(limit=4)
    plan = await run_eval(Engine(tools=demo_tools(chart_dir=tmp_path), **roles), items)  # type: ignore[arg-type]
    react = await run_eval(Engine(tools=demo_tools(chart_dir=tmp_path), mode="react", **roles), items)  # type: ignore[arg-type]

    assert (plan.mode, react.mode) == ("plan", "react")
    assert plan.answer_accuracy == react.answer_accuracy == 1.0
    assert [r.plan for r in react.items] == [r.plan for r in plan.items]  # the same calls, one a turn
    for p, r in zip(plan.items, react.items):
        calls = len((p.plan or {})["nodes"])
        assert p.model_calls == 3  # planner, joiner, answerer
        assert r.model_calls == calls + 2  # a turn per call, one that calls nothing, the answerer
        assert r.plans == calls + 1

    text = compare_reports(plan.to_dict(), react.to_dict())
    assert "answer accuracy" in text and "+0.000" in text and "model calls" in text
    assert re.search(r"model calls\s+12\s+\d+\s+\d\.\d\dx", text)
    assert "per item (4 in both)" in text


def test_cli_both_modes_prints_them_side_by_side_saves_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out, plots = tmp_path / "both.json", tmp_path / "plots"
    code = main(["eval", "--dataset", "parallel", "--sample", "3", "--seed", "2", "--mode", "both", "--out", str(out), "--plot", str(plots), *SCRIPTED], models=models())
    stdout, stderr = capsys.readouterr()

    assert code == 0, stderr
    assert "in plan and react mode" in stderr and "[6/6]" in stderr
    assert "parallel, plan mode, 3 items (sample 3, seed 2)" in stdout and "parallel, react mode, 3 items (sample 3, seed 2)" in stdout
    assert "plan mode (a) against react mode (b)" in stdout
    saved = load_reports(out)
    assert [(r["mode"], r["sample"], r["seed"]) for r in saved] == [("plan", 3, 2), ("react", 3, 2)]
    assert [i["id"] for i in saved[0]["items"]] == [i["id"] for i in saved[1]["items"]]
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["latency.png", "plan_vs_react_parallel.png", "plan_vs_react_summary.png"]
    assert all((plots / n).read_bytes()[:8] == PNG and (plots / n).stat().st_size > 5000 for n in names)

    assert main(["eval", "--compare", str(out)]) == 0
    table = capsys.readouterr().out
    assert "smollm2" not in table and "scripted-planner plan parallel" in table and "b / a" in table

    other = saved[0] | {"dataset": "demo"}
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    (tmp_path / "one.json").write_text(json.dumps(saved[0]), encoding="utf-8")
    assert main(["eval", "--compare", str(tmp_path / "one.json"), str(tmp_path / "other.json")]) == 1
    assert "needs two reports of one dataset" in capsys.readouterr().err
    assert main(["eval", "--compare", str(tmp_path / "one.json"), str(tmp_path / "other.json"), "--plot", str(tmp_path / "p2")]) == 0
    assert (tmp_path / "p2" / "latency.png").is_file()
    capsys.readouterr()

    (tmp_path / "bad.json").write_text('{"x": 1}', encoding="utf-8")
    assert main(["eval", "--compare", str(tmp_path / "bad.json"), str(out)]) == 1
    assert "is not a reasoner eval report" in capsys.readouterr().err


def test_plots_of_several_models_bfcl_reports(tmp_path: Path) -> None:
    def report(model: str, category: str, accuracy: float) -> dict[str, Any]:
        items = [{"id": f"{category}_{k}", "latency_s": 0.5 + k, "valid": k < 2} for k in range(4)]
        return {"kind": "bfcl", "dataset": f"bfcl:{category}", "models": {"planner": [model]}, "commit": "abc1234def",
                "summary": {"accuracy": accuracy, "n": 4}, "items": items}  # fmt: skip

    reports = [report(m, c, a) for m, a in (("small", 0.25), ("big", 0.75)) for c in ("simple", "parallel")]
    paths = write_plots(reports, tmp_path / "p")
    assert [p.name for p in paths] == ["bfcl_accuracy.png", "latency.png"]
    assert all(p.read_bytes()[:8] == PNG for p in paths)
    with pytest.raises(Exception, match="at least one report"):
        write_plots([], tmp_path / "q")
