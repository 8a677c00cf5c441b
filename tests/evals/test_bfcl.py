"""BFCL in the box: the loader reads bfcl-eval's files offline, functions register through
ToolSpec.from_schema, plans are scored with BFCL's semantics, and `reasoner eval
--dataset bfcl:...` reports per category (scripted planners)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reasoner import Engine
from reasoner.cli import main
from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.evals import BfclReport, DatasetError, load_bfcl, run_bfcl, score_bfcl
from reasoner.evals._bfcl import bfcl_registry, plan_calls
from reasoner.models import Message, ScriptedModel
from reasoner.tools import ToolRegistry

pytest.importorskip("bfcl_eval", reason="bfcl-eval is installed by scripts/setup.sh (pip install --no-deps bfcl-eval)")

SIZES = {"simple": 400, "multiple": 200, "parallel": 200, "parallel_multiple": 200, "live_simple": 258, "live_parallel": 16, "irrelevance": 240}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REASONER_CONFIG", raising=False)


@pytest.mark.parametrize(("category", "size"), SIZES.items())
def test_each_category_loads_every_item_with_its_answer(category: str, size: int) -> None:
    data = load_bfcl(category)
    assert data.total == len(data) == size
    assert data.version and data.source.endswith(".json")
    first = data.items[0]
    assert first.question and first.functions and first.category == category
    assert first.irrelevant == (category == "irrelevance")
    if not first.irrelevant:
        assert first.answer and all(isinstance(call, dict) and len(call) == 1 for call in first.answer)


def test_simple_is_bfcl_v4_simple_python_and_the_question_is_the_user_turn() -> None:
    first = load_bfcl("simple").items[0]
    assert first.id == "simple_python_0"
    assert first.question == "Find the area of a triangle with a base of 10 units and height of 5 units."
    assert first.functions[0]["name"] == "calculate_triangle_area"


def test_a_sample_is_reproducible_kept_in_file_order_and_limited() -> None:
    data = load_bfcl("parallel")
    a, b = data.select(sample=20, seed=3), data.select(sample=20, seed=3)
    assert [i.id for i in a] == [i.id for i in b] and len(a) == 20
    assert [i.id for i in a] != [i.id for i in data.select(sample=20, seed=4)]
    order = [i.id for i in data]
    assert sorted(order.index(i.id) for i in a) == [order.index(i.id) for i in a]
    assert (a.sample, a.seed) == (20, 3)
    assert [i.id for i in data.select(limit=2)] == order[:2]
    with pytest.raises(UsageError, match="sample=0"):
        data.select(sample=0)
    with pytest.raises(UsageError, match="unknown BFCL category 'nope'"):
        load_bfcl("nope")


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import reasoner.evals._bfcl as bfcl

    def missing(name: str) -> Any:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(bfcl.resources, "files", missing)
    with pytest.raises(DatasetError) as info:
        load_bfcl("simple")
    assert "pip install --no-deps bfcl-eval" in info.value.hint


def test_functions_register_through_from_schema_and_a_bad_one_is_named() -> None:
    item = load_bfcl("multiple").items[0]
    registry = bfcl_registry(item)
    assert isinstance(registry, ToolRegistry) and registry.names() == [f["name"] for f in item.functions]
    bad = next(i for i in load_bfcl("live_simple") if i.functions[0]["name"] == "extract_parameters_v1")
    with pytest.raises(ToolDefinitionError, match="extract_parameters_v1"):
        bfcl_registry(bad)


def test_irrelevance_wants_no_call_and_plan_calls_keep_node_order() -> None:
    item = load_bfcl("irrelevance").items[0]
    assert score_bfcl(item, []).valid
    wrong = score_bfcl(item, [{"determine_body_mass_index": {"weight": 1.0, "height": 1.0}}])
    assert not wrong.valid and wrong.error_type == "irrelevance:called"
    plan = {"nodes": [{"id": 1, "tool": "b", "args": {"x": 1}}, {"id": 2, "tool": "a", "args": {}}]}
    assert plan_calls(plan) == [{"b": {"x": 1}}, {"a": {}}] and plan_calls(None) == []


def _answer_plan(item_answer: Sequence[dict[str, Any]]) -> str:
    nodes = []
    for k, call in enumerate(item_answer, start=1):
        name, params = next(iter(call.items()))
        nodes.append({"id": k, "tool": name, "args": {p: next(v for v in vs if v != "") for p, vs in params.items() if any(v != "" for v in vs)}})
    return json.dumps({"nodes": nodes}, separators=(",", ":"))


def _scripted_planner(category: str) -> ScriptedModel:
    """A planner that writes BFCL's own answer (or no call, for irrelevance), for any item of the category."""
    by_question = {item.question: item for item in load_bfcl(category)}

    def reply(messages: Sequence[Message]) -> str:
        question = [m.content for m in messages if m.role == "user"][-1].removeprefix("Question: ")
        item = by_question[question]
        return '{"nodes":[]}' if item.answer is None else _answer_plan(item.answer)

    return ScriptedModel([reply] * 50, name="scripted-bfcl", chunk_size=32)


@pytest.mark.parametrize("category", ["simple", "parallel", "irrelevance"])
async def test_a_planner_writing_bfcls_answers_scores_full_marks_through_our_grammar(category: str) -> None:
    planner = _scripted_planner(category)
    data = load_bfcl(category).select(sample=8, seed=0)
    rows: list[Any] = []
    report = await run_bfcl(lambda registry: Engine(tools=registry, planner=planner), data, on_item=rows.append)

    assert isinstance(report, BfclReport) and report.n == 8 and len(rows) == 8
    assert report.accuracy == 1.0, [r.error for r in report.rows if not r.valid]
    assert all(r.prompt_tokens > 0 and r.latency_s > 0 for r in report.rows)
    assert all(c.schema is not None for c in planner.calls)  # decoded under the plan grammar
    summary = report.to_dict()
    assert summary["dataset"] == f"bfcl:{category}" and summary["sample"] == 8 and summary["seed"] == 0
    assert summary["dataset_version"].startswith("bfcl-eval ") and summary["summary"]["correct"] == 8
    assert "accuracy 100.0% (8/8" in str(report)


async def test_a_wrong_plan_scores_zero_with_bfcls_reason() -> None:
    planner = ScriptedModel(['{"nodes":[]}'] * 3, name="lazy")
    report = await run_bfcl(lambda registry: Engine(tools=registry, planner=planner), load_bfcl("simple").select(limit=3))
    assert report.accuracy == 0.0
    assert {r.error_type for r in report.rows} == {"simple_function_checker:wrong_count"}


def test_cli_runs_categories_and_writes_report_and_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    planners = {"p": ScriptedModel([_scripted_planner("simple").responses[0]] * 3 + ['{"nodes":[]}'] * 3, name="p")}
    out, plots = tmp_path / "bfcl.json", tmp_path / "plots"
    argv = ["eval", "--dataset", "bfcl:simple,irrelevance", "--sample", "3", "--seed", "1", "--planner", "p", "--out", str(out), "--plot", str(plots)]
    code = main(argv, models=planners)
    stdout, stderr = capsys.readouterr()

    assert code == 0, stderr
    assert "[simple 1/3]" in stderr and "[irrelevance 3/3]" in stderr
    assert "BFCL simple" in stdout and "category" in stdout and "100.0%" in stdout
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert [r["dataset"] for r in saved["reports"]] == ["bfcl:simple", "bfcl:irrelevance"]
    assert [r["summary"]["accuracy"] for r in saved["reports"]] == [1.0, 1.0]
    assert (plots / "bfcl_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["eval", "--dataset", "bfcl:nope"], models=planners) == 1
    assert "unknown BFCL category 'nope'" in capsys.readouterr().err
