"""The eval runner, the dataset loader and `reasoner eval` / `python -m reasoner.evals`, with scripted models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import reasoner.evals
from reasoner import Engine
from reasoner.cli import main
from reasoner.evals import DatasetError, EvalItem, EvalReport, load_dataset, run_eval
from reasoner.models import Message, ScriptedModel
from reasoner.tools.demo import DEMO_EXAMPLES, demo_tools

DATASET = load_dataset("demo")
FIRST = DATASET.select(limit=5)
BY_QUESTION = {item.question: item for item in DATASET}
FINISH = '{"action":"finish"}'
CALLS = 200  # replies each scripted model can give (the callables below answer any item)


def _user(messages: Sequence[Message]) -> str:
    return [m.content for m in messages if m.role == "user"][-1]


def _item(messages: Sequence[Message]) -> EvalItem:
    first_line = _user(messages).split("\n", 1)[0]
    return BY_QUESTION[first_line.removeprefix("Question: ")]


def reference_plan(messages: Sequence[Message]) -> str:
    """The planner writes the item's reference plan."""
    return json.dumps(_item(messages).reference_plan, separators=(",", ":"))


def results_answer(messages: Sequence[Message]) -> str:
    """The answerer repeats the results it was shown (so it states every fact they hold)."""
    return _user(messages).split("Results:\n", 1)[1]


def wrong_answer(messages: Sequence[Message]) -> str:
    return "I could not find that."


def models(answer: Callable[[Sequence[Message]], str] = results_answer, plan: Any = reference_plan) -> dict[str, ScriptedModel]:
    return {
        "scripted-planner": ScriptedModel([plan] * CALLS, name="scripted-planner"),
        "scripted-joiner": ScriptedModel([FINISH] * CALLS, name="scripted-joiner"),
        # the echoed results are long: big pieces keep them within the answerer's token cap
        "scripted-answerer": ScriptedModel([answer] * CALLS, name="scripted-answerer", chunk_size=64),
    }


def engine(tmp_path: Path, **kwargs: Any) -> Engine:
    m = models(**kwargs)
    return Engine(
        tools=demo_tools(chart_dir=tmp_path / "charts"),
        planner=m["scripted-planner"],
        joiner=m["scripted-joiner"],
        answerer=m["scripted-answerer"],
        examples=DEMO_EXAMPLES,
    )


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("REASONER_CHART_DIR", raising=False)
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))  # no user config.toml
    monkeypatch.delenv("REASONER_CONFIG", raising=False)


# -- the runner --------------------------------------------------------------------------


async def test_reference_plans_score_full_marks_and_rows_keep_the_runs(tmp_path: Path) -> None:
    seen: list[str] = []
    report = await run_eval(engine(tmp_path), FIRST, on_item=lambda row: seen.append(row.id))

    assert isinstance(report, EvalReport)
    assert [row.id for row in report.items] == [item.id for item in FIRST] == seen
    assert report.n == 5 and report.dataset == "demo"
    assert report.plan_validity == 1.0
    assert report.tool_selection == 1.0
    assert report.argument_accuracy == 1.0  # demo-003 is the one with expected args
    assert report.answer_accuracy == 1.0
    assert report.errors == 0 and report.rejected_plans == 0
    assert report.models == {"planner": ["scripted-planner"], "joiner": ["scripted-joiner"], "answerer": ["scripted-answerer"]}
    assert report.tools == ["search", "stock_price", "chart", "calculator", "convert_units"]

    first = report.items[0]
    assert first.plan == FIRST[0].reference_plan == first.first_plan
    assert "203.7" in first.answer and first.plans == 1
    assert first.prompt_tokens > 0 and first.completion_tokens > 0
    assert report.total_tokens == sum(row.tokens for row in report.items)
    assert [row.argument_accuracy for row in report.items] == [None, None, 1.0, None, None]
    latencies = sorted(row.latency_s for row in report.items)
    assert report.latency_median_s == latencies[2]
    assert latencies[3] <= (report.latency_p90_s or 0) <= latencies[4]


async def test_a_wrong_answer_lowers_answer_accuracy_only(tmp_path: Path) -> None:
    report = await run_eval(engine(tmp_path, answer=wrong_answer), FIRST)
    assert report.answer_accuracy == 0.0
    assert report.plan_validity == 1.0 and report.tool_selection == 1.0
    assert all(row.answer == "I could not find that." for row in report.items)


async def test_a_failing_run_keeps_its_plan_scores_and_scores_zero_for_the_answer(tmp_path: Path) -> None:
    def broken_answerer(messages: Sequence[Message]) -> str:
        raise RuntimeError("answerer crashed")

    report = await run_eval(engine(tmp_path, answer=broken_answerer), FIRST, limit=2)
    assert report.n == 2 and report.errors == 2
    row = report.items[0]
    assert row.error is not None and row.error["type"] == "RuntimeError" and "answerer crashed" in row.error["message"]
    assert row.plan_valid and row.tool_selection == 1.0  # the plan was produced before the failure
    assert row.answer == "" and row.answer_accuracy == 0.0


async def test_a_run_without_a_plan_is_invalid_and_counts_rejected_plans(tmp_path: Path) -> None:
    unknown_tool = '{"nodes":[{"id":1,"tool":"teleport","args":{}}]}'  # fails the plan schema every time
    report = await run_eval(engine(tmp_path, plan=unknown_tool), FIRST, limit=1)
    row = report.items[0]
    assert row.plan is None and row.first_plan is None and not row.plan_valid
    assert row.tool_selection == 0.0
    assert row.error is not None and row.error["type"] == "BudgetExceeded"
    assert row.rejected_plans == 3  # the default budget allows 3 plans
    assert len(row.plan_errors) == 3 and all("unknown tool 'teleport'" in e for e in row.plan_errors)
    assert report.plan_validity == 0.0


async def test_concurrent_runs_keep_dataset_order_and_a_factory_gives_fresh_engines(tmp_path: Path) -> None:
    made: list[Engine] = []

    def factory() -> Engine:
        made.append(engine(tmp_path))
        return made[-1]

    report = await run_eval(factory, FIRST, concurrency=3, dataset="first-five")
    assert [row.id for row in report.items] == [item.id for item in FIRST]
    assert len(made) == 5 and report.dataset == "first-five" and report.concurrency == 3
    assert report.plan_validity == 1.0


async def test_items_may_be_plain_dicts_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    item = FIRST[3].model_dump()
    report = await run_eval(engine(tmp_path), [item])
    assert report.dataset == "custom" and report.items[0].id == item["id"]
    with pytest.raises(reasoner.UsageError, match="concurrency"):
        await run_eval(engine(tmp_path), FIRST, concurrency=0)
    with pytest.raises(reasoner.UsageError, match="item 0"):
        await run_eval(engine(tmp_path), ["What is 2+2?"])  # type: ignore[list-item]


async def test_report_json_and_table(tmp_path: Path) -> None:
    report = await run_eval(engine(tmp_path), FIRST, limit=2)
    data = json.loads(report.to_json())
    assert data["summary"]["n"] == 2 and data["summary"]["plan_validity"] == 1.0
    assert data["dataset"] == "demo" and data["models"]["planner"] == ["scripted-planner"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert [row["id"] for row in data["items"]] == ["demo-001", "demo-002"]
    assert data["items"][0]["plan"] == FIRST[0].reference_plan

    text = str(report)
    for fragment in ("dataset demo", "scripted-planner", "plan validity", "100.0%", "tool selection", "latency median", "demo-002"):
        assert fragment in text, text
    assert data["machine"]["cpu"] in text


# -- the dataset -------------------------------------------------------------------------


def test_the_bundled_demo_dataset_loads() -> None:
    assert len(DATASET) == 54 and DATASET.name == "demo"
    assert all(item.reference_plan is not None for item in DATASET)
    assert [item.id for item in DATASET.select(["demo-010", "demo-002"])] == ["demo-002", "demo-010"]
    with pytest.raises(reasoner.UsageError, match="demo-999"):
        DATASET.select(["demo-999"])


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "x-2", "question": "Why?", "expected_tool": ["search"]}', "expected_tool"),
        ('{"id": "x-2"}', "question"),
        ('{"id": "x-2", "question": "Why?", "expected_facts": [true]}', "expected_facts"),
        ('{"id": "x-1", "question": "Again?"}', "already used on line 1"),
        ('{"id": "x-2", "question": "Why?", "reference_plan": {"nodes": [{"id": 2, "tool": "t", "args": {}}]}}', "reference_plan"),
    ],
)
def test_a_bad_dataset_line_is_reported_with_its_line_number(tmp_path: Path, line: str, fragment: str) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "x-1", "question": "What is 2+2?", "expected_tools": ["calculator"]}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert info.value.line == 3
    assert f"{path}:3" in str(info.value) and fragment in str(info.value)


def test_a_missing_dataset_names_the_bundled_ones(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="demo"):
        load_dataset("nope")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no items"):
        load_dataset(tmp_path / "empty.jsonl")


# -- the command line --------------------------------------------------------------------

SCRIPTED = ["--planner", "scripted-planner", "--joiner", "scripted-joiner", "--answerer", "scripted-answerer"]


def cli(capsys: pytest.CaptureFixture[str], *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    code = main(["eval", *argv, *SCRIPTED], models=models(**kwargs))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_progress_on_stderr_and_the_table_on_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = cli(capsys, "--limit", "3")
    assert code == 0, err
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 3
    assert progress[0].startswith("[1/3] demo-001") and "plan valid" in progress[0] and "answer 1.00" in progress[0]
    assert "plan validity" in out and "100.0%" in out and "demo-003" in out and "demo-004" not in out
    assert not (tmp_path / "reasoner-charts").exists()  # eval charts go to a temporary folder


def test_cli_json_ids_and_out_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "report.json"
    code, out, err = cli(capsys, "--ids", "demo-010,demo-049", "--ids", "demo-025", "--json", "--out", str(out_file), answer=wrong_answer)
    assert code == 0, err
    data = json.loads(out)
    assert [row["id"] for row in data["items"]] == ["demo-010", "demo-025", "demo-049"]
    assert data["summary"]["answer_accuracy"] == 0.0 and data["summary"]["plan_validity"] == 1.0
    assert json.loads(out_file.read_text(encoding="utf-8")) == data


def test_cli_require_valid_plans_fails_when_a_plan_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    unknown_tool = '{"nodes":[{"id":1,"tool":"teleport","args":{}}]}'
    code, out, err = cli(capsys, "--limit", "1", "--max-iterations", "1", "--require-valid-plans", plan=unknown_tool)
    assert code == 1
    assert "0.0%" in out and "1 of 1 items have no valid plan" in err


def test_cli_errors_name_the_bad_line_or_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "Why?"}\n{"id": "b", "question": 7}\n', encoding="utf-8")
    code, out, err = cli(capsys, "--dataset", str(path))
    assert code == 1 and out == ""
    assert f"error: {path}:2 (item 'b'): question" in err and err.splitlines()[1].startswith("hint: ")

    code, out, err = cli(capsys, "--ids", "demo-001,nope")
    assert code == 1 and "'nope'" in err and "hint: pick ids from demo.jsonl" in err


def test_python_m_reasoner_evals_is_reasoner_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reasoner.evals", "--dataset", "nope"], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "error: no dataset 'nope'" in done.stderr and "hint: pass a bundled name (demo, parallel, unseen)" in done.stderr
    assert main(["eval", "--help"]) == 0
    assert "--dataset" in capsys.readouterr().out


def test_exported_names() -> None:
    assert reasoner.evals.__all__ == sorted(reasoner.evals.__all__)
    assert {"Dataset", "EvalItem", "EvalReport", "ItemResult", "load_dataset", "run_eval", "score_item"} <= set(reasoner.evals.__all__)
    for name in reasoner.evals.__all__:
        assert getattr(reasoner.evals, name) is not None
