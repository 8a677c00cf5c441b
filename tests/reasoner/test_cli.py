"""The ``reasoner`` command line, called in-process with scripted models."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from reasoner.cli import main
from reasoner.events import Event, load_trace
from reasoner.models import ScriptedModel

PLAN = json.dumps(
    {
        "nodes": [
            {"id": 1, "tool": "stock_price", "args": {"ticker": "MSFT"}},
            {"id": 2, "tool": "stock_price", "args": {"ticker": "AAPL"}},
        ]
    },
    separators=(",", ":"),
)
FINISH = '{"action":"finish"}'
ANSWER = "MSFT closed at 413.62 and AAPL at 242.65 (sample data)."
DEMO = ["search", "stock_price", "chart", "calculator", "convert_units"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI adds the current folder to sys.path for --tools; keep that out of other tests
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("REASONER_CHART_DIR", str(tmp_path / "charts"))
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))  # no user config.toml
    monkeypatch.delenv("REASONER_CONFIG", raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str, models: dict[str, Any] | None = None) -> tuple[int, str, str]:
    code = main(list(argv), models=models)
    out, err = capsys.readouterr()
    return code, out, err


def scripted(*replies: str, **kwargs: Any) -> dict[str, Any]:
    return {"scripted": ScriptedModel(list(replies), **kwargs)}


def write_module(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def assert_one_error(code: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1
    assert len(lines) == 2, err
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


# -- run ---------------------------------------------------------------------------------


def test_run_json_prints_every_event_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "Compare MSFT and AAPL", "--planner", "scripted", "--json", models=scripted(PLAN, FINISH, ANSWER))
    assert code == 0, err
    events = [Event.from_dict(json.loads(line)) for line in out.splitlines()]
    assert [e.seq for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert events[0].data["query"] == "Compare MSFT and AAPL"
    assert events[0].data["tools"] == DEMO
    planned = [e.node_id for e in events if e.type == "plan.node"]
    assert planned == [1, 2]
    for nid in (1, 2):  # each node is shown planned before it starts, and starts before it completes
        first = {t: next(i for i, e in enumerate(events) if e.type == t and e.node_id == nid) for t in ("plan.node", "node.started", "node.completed")}
        assert first["plan.node"] < first["node.started"] < first["node.completed"]
    done = {e.node_id: e.data["output"] for e in events if e.type == "node.completed"}
    assert done[1]["source"] == "sample data" and done[1]["ticker"] == "MSFT"
    assert "".join(e.data["text"] for e in events if e.type == "answer.delta") == ANSWER
    assert events[-1].data["answer"] == ANSWER
    assert {e.data["role"] for e in events if e.type == "usage"} == {"planner", "joiner", "answerer"}


def test_run_plain_shows_plan_calls_answer_and_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "Compare MSFT and AAPL", "--planner", "scripted", models=scripted(PLAN, FINISH, ANSWER))
    assert code == 0, err
    assert "\x1b[" not in out  # not a terminal: no ANSI codes
    assert 'plan      #1 stock_price(ticker="MSFT")' in out
    assert "start     #2 stock_price" in out
    done = [line for line in out.splitlines() if line.startswith("done      #1 stock_price")]
    assert len(done) == 1 and "[sample data]" in done[0] and "close: 413.62" in done[0]
    assert f"answer:\n{ANSWER}\n" in out
    summary = out[out.index("summary") :]
    assert "wall time" in summary and "tool time" in summary and "2 call(s)" in summary
    rows = {line.split()[0]: line.split() for line in summary.splitlines()[1:] if line.strip()}
    for role in ("planner", "joiner", "answerer"):
        assert rows[role][1] == "scripted" and rows[role][2] == "1"  # one call each
    assert "sample data, not real quotes" in out
    assert err == ""


def test_parallel_calls_overlap_in_the_plain_view(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_module(
        tmp_path,
        "slowtools",
        """
        import anyio
        from reasoner import tool

        @tool
        async def fetch(key: str) -> str:
            \"\"\"Fetch a value slowly.\"\"\"
            await anyio.sleep(0.3)
            return key.upper()
        """,
    )
    plan = json.dumps({"nodes": [{"id": i, "tool": "fetch", "args": {"key": k}} for i, k in ((1, "a"), (2, "b"), (3, "c"))]})
    models = scripted(plan.replace(" ", ""), FINISH, "A, B and C.")
    code, out, err = cli(capsys, "run", "Fetch a, b and c", "--no-demo", "--tools", "slowtools:fetch", "--planner", "scripted", models=models)
    assert code == 0, err
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("start ")]
    dones = [i for i, line in enumerate(lines) if line.startswith("done ")]
    assert len(starts) == len(dones) == 3
    assert max(starts) < min(dones)  # all three were running at once
    assert "A, B and C." in out


def test_roles_take_fallback_lists(capsys: pytest.CaptureFixture[str]) -> None:
    from reasoner.errors import ModelError

    broken = ScriptedModel([ModelError("the answerer crashed")], name="broken")
    models = {"broken": broken, **scripted(PLAN, FINISH, ANSWER)}
    code, out, err = cli(capsys, "run", "Compare", "--planner", "scripted", "--answerer", "broken,scripted", models=models)
    assert code == 0, err
    assert "fallback  answerer: broken failed, trying scripted" in out
    assert f"answer:\n{ANSWER}\n" in out
    assert "models:   planner scripted, joiner scripted, answerer broken/scripted" in out


def test_roles_come_from_the_config_file_unless_given(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "reasoner.toml").write_text(
        '[models.tiny]\nbuiltin = "smollm2-135m"\n[models.wordy]\nbuiltin = "smollm2-135m"\n'
        '[roles]\nplanner = "tiny"\njoiner = "tiny"\nanswerer = ["wordy", "tiny"]\n'
    )
    models = {"tiny": ScriptedModel([PLAN, FINISH], name="tiny"), "wordy": ScriptedModel([ANSWER], name="wordy")}
    code, out, err = cli(capsys, "run", "Compare", "--json", models=models)
    assert code == 0, err
    first = json.loads(out.splitlines()[0])
    assert first["data"]["roles"] == {"planner": ["tiny"], "joiner": ["tiny"], "answerer": ["wordy", "tiny"]}
    # the command line wins over the file, and --config names another file
    (tmp_path / "other.toml").write_text('[models.solo]\nbuiltin = "smollm2-135m"\n')
    models = {"solo": ScriptedModel([PLAN, FINISH, ANSWER], name="solo")}
    code, out, err = cli(capsys, "run", "Compare", "--config", "other.toml", "--planner", "solo", "--joiner", "solo", "--answerer", "solo", "--json", models=models)
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["data"]["roles"]["answerer"] == ["solo"]
    code, out, err = cli(capsys, "run", "Compare", "--planner", "nosuch")
    assert_one_error(code, err, "unknown model 'nosuch'", "[models.nosuch]")
    code, out, err = cli(capsys, "run", "Compare", "--config", "missing.toml")
    assert_one_error(code, err, "missing.toml does not exist")


def test_unknown_model_fails_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", "Compare", "--planner", "smollm2-135m", "--answerer", "smolm2")
    assert_one_error(code, err, "--answerer: unknown model 'smolm2'", "smollm2-135m")
    assert out == ""


def test_yes_approves_tools_that_require_approval(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_module(
        tmp_path,
        "risky",
        """
        from reasoner import tool

        @tool(requires_approval=True)
        def delete(path: str) -> str:
            \"\"\"Delete a file.\"\"\"
            return "deleted " + path
        """,
    )
    plan = '{"nodes":[{"id":1,"tool":"delete","args":{"path":"x"}}]}'
    argv = ["run", "Delete x", "--no-demo", "--tools", "risky:delete", "--planner", "scripted"]
    code, out, err = cli(capsys, *argv, models=scripted(plan, FINISH, "Not deleted."))
    assert code == 0, err
    assert "failed    #1 delete: ToolError: tool 'delete' requires approval: rerun with --yes (-y)" in out
    assert "done      #1" not in out
    code, out, err = cli(capsys, *argv, "--yes", models=scripted(plan, FINISH, "Deleted."))
    assert code == 0, err
    assert 'done      #1 delete' in out and '-> "deleted x"' in out


def test_output_schema_file_makes_the_answer_structured(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    schema = {
        "title": "Comparison",
        "type": "object",
        "properties": {"winner": {"type": "string"}, "prices": {"type": "array", "items": {"$ref": "#/$defs/P"}}},
        "required": ["winner", "prices"],
        "$defs": {"P": {"type": "object", "properties": {"ticker": {"type": "string"}, "close": {"type": "number"}}, "required": ["ticker", "close"]}},
    }
    (tmp_path / "comparison.json").write_text(json.dumps(schema))
    answer = '{"winner":"MSFT","prices":[{"ticker":"MSFT","close":423.5},{"ticker":"AAPL","close":242.8}]}'
    models = scripted(PLAN, FINISH, answer)
    code, out, err = cli(capsys, "run", "Which closed higher?", "--planner", "scripted", "--output", "comparison.json", "--json", models=models)
    assert code == 0, err
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "run.completed"
    assert last["data"]["answer"] == json.loads(answer)
    answer_schema = models["scripted"].calls[-1].schema
    assert answer_schema is not None and answer_schema["required"] == ["winner", "prices"]
    assert answer_schema["properties"]["prices"]["items"]["properties"]["close"] == {"type": "number"}  # the $ref, inlined


def test_output_pydantic_model_and_a_nonconforming_answer(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_module(
        tmp_path,
        "shapes",
        """
        from pydantic import BaseModel

        class Verdict(BaseModel):
            winner: str
            margin: float
        """,
    )
    models = scripted(PLAN, FINISH, '{"winner":"MSFT","margin":180.7}')
    code, out, err = cli(capsys, "run", "Who won?", "--planner", "scripted", "--output", "shapes:Verdict", models=models)
    assert code == 0, err
    assert 'answer:\n{"winner":"MSFT","margin":180.7}\n' in out
    # a scripted answer that does not fit the schema is a model error: one line, a hint, exit 1
    models = scripted(PLAN, FINISH, '{"winner":"MSFT"}')
    code, _, err = cli(capsys, "run", "Who won?", "--planner", "scripted", "--output", "shapes:Verdict", models=models)
    assert_one_error(code, err, "scripted", "--planner/--joiner/--answerer")


def test_trace_file_holds_the_same_events(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    code, out, err = cli(capsys, "run", "Compare", "--planner", "scripted", "--json", "--trace", str(trace), models=scripted(PLAN, FINISH, ANSWER))
    assert code == 0, err
    saved = load_trace(trace)
    assert [e.to_dict() for e in saved] == [json.loads(line) for line in out.splitlines()]


def test_trace_into_a_missing_folder_fails_before_running(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = ScriptedModel([PLAN, FINISH, ANSWER])
    code, out, err = cli(capsys, "run", "Compare", "--planner", "scripted", "--trace", str(tmp_path / "no" / "t.jsonl"), models={"scripted": model})
    assert_one_error(code, err, "--trace", "does not exist")
    assert model.calls == [] and out == ""


def test_a_spent_iteration_budget_answers_partially_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    replan = '{"action":"replan","reason":"need more"}'
    models = scripted(PLAN, replan, ANSWER)
    code, out, err = cli(capsys, "run", "Compare", "--planner", "scripted", "--max-iterations", "1", "--json", models=models)
    assert code == 0, err
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "run.completed" and last["data"]["partial"] == "the budget of 1 plan(s) ran out; still missing: need more"
    code, out, err = cli(capsys, "run", "Compare", "--planner", "scripted", "--max-iterations", "1", models=scripted(PLAN, replan, ANSWER))
    assert "partial:  the budget of 1 plan(s) ran out" in out


def test_budget_exceeded_names_the_option_to_raise(capsys: pytest.CaptureFixture[str]) -> None:
    # nothing to answer from (the only call failed): the spent budget is an error
    failing = '{"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"NOPE"}}]}'
    models = scripted(failing, '{"action":"replan","reason":"need more"}', ANSWER)
    code, out, err = cli(capsys, "run", "Compare", "--planner", "scripted", "--max-iterations", "1", "--json", models=models)
    assert_one_error(code, err, "iterations", "--max-iterations")
    assert json.loads(out.splitlines()[-1])["type"] == "run.failed"


def test_no_tools_goes_straight_to_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    model = ScriptedModel(["Paris."])
    code, out, err = cli(capsys, "run", "Capital of France?", "--no-demo", "--no-plugins", "--planner", "scripted", models={"scripted": model})
    assert code == 0, err
    assert "answer:\nParis.\n" in out and len(model.calls) == 1


def test_question_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("  Capital of France?\n"))
    code, out, err = cli(capsys, "run", "-", "--no-demo", "--planner", "scripted", "--json", models=scripted("Paris."))
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["data"]["query"] == "Capital of France?"


def test_live_view_on_a_terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "120")
    code = main(["run", "Compare MSFT and AAPL", "--planner", "scripted"], models=scripted(PLAN, FINISH, ANSWER))
    assert code == 0
    shown = screen.getvalue()
    assert "\x1b[" in shown  # a live, styled view
    assert "✓" in shown and "sample data" in shown and ANSWER in shown
    assert "summary" in shown and "planner" in shown


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("no_such_module_xyz:tools", ["no module named 'no_such_module_xyz'", "module:attr"]),
        ("json:no_such_attr", ["json has no attribute 'no_such_attr'"]),
        ("json:dumpz", ["did you mean", "'dumps'"]),
        ("just_a_module", ["names no attribute", "module:attr"]),
        ("json:__version__", ["not a tool", "ToolSpec"]),
        ("broken:tool", ["importing broken raised ZeroDivisionError", "--debug"]),
        ("notatool.py:f", ["'notatool.py:f'", "'args'", "variadic", "named and typed"]),
    ],
)
def test_bad_tools_spec_is_one_line_and_a_hint(capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: str, fragments: list[str]) -> None:
    write_module(tmp_path, "broken", "x = 1 / 0\n")
    write_module(tmp_path, "notatool", "def f(*args):\n    return 1\n")
    model = ScriptedModel([])
    code, _, err = cli(capsys, "run", "q", "--planner", "scripted", "--tools", spec, models={"scripted": model})
    assert_one_error(code, err, *fragments)
    assert model.calls == []


def test_debug_shows_the_traceback_instead(capsys: pytest.CaptureFixture[str]) -> None:
    from reasoner.errors import UsageError

    with pytest.raises(UsageError, match="no_such_module_xyz"):
        main(["run", "q", "--tools", "no_such_module_xyz:f", "--debug"])
    with pytest.raises(UsageError):  # --debug before the subcommand works too
        main(["--debug", "tools", "--tools", "no_such_module_xyz:f"])


def test_tool_name_clash_suggests_no_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_module(tmp_path, "mine", "def search(q: str) -> str:\n    '''Search.'''\n    return q\n")
    code, _, err = cli(capsys, "tools", "--tools", "mine:search")
    assert_one_error(code, err, "'search'", "--no-demo")


@pytest.mark.parametrize(
    "argv",
    [["run"], ["run", "q", "--max-tokens", "0"], ["run", "q", "--timeout", "soon"], ["frobnicate"], []],
)
def test_command_line_mistakes_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = cli(capsys, *argv)
    assert code == 2 and out == ""
    assert "usage: reasoner" in err and "Traceback" not in err


def test_bad_output_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"type": "objekt"}')
    code, _, err = cli(capsys, "run", "q", "--output", "bad.json")
    assert_one_error(code, err, "not a valid JSON Schema")
    code, _, err = cli(capsys, "run", "q", "--output", "Verdict")
    assert_one_error(code, err, "module:Model")
    code, _, err = cli(capsys, "run", "q", "--output", "missing.json")
    assert_one_error(code, err, "no such file")


# -- tools -----------------------------------------------------------------------------------


def test_tools_lists_the_demo_tools_with_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "tools")
    assert code == 0, err
    heads = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert heads == DEMO
    assert 'ticker  string  (required)  Stock symbol, e.g. "MSFT"' in out
    assert "sample data" in out
    code, out, err = cli(capsys, "tools", "--json")
    listed = json.loads(out)
    assert [t["function"]["name"] for t in listed] == DEMO
    price = listed[1]
    assert price["function"]["parameters"]["required"] == ["ticker"]
    assert price["output_schema"]["properties"]["close"] == {"type": "number"}
    assert price["metadata"]["cache"] is True


def test_tools_by_name_shows_full_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "tools", "calculator")
    assert code == 0, err
    assert out.startswith("calculator ") and "input schema:" in out and '"expression"' in out
    code, out, err = cli(capsys, "tools", "calculater")
    assert_one_error(code, err, "no tool named 'calculater'", "did you mean calculator")


def test_tools_from_a_user_module(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_module(
        tmp_path,
        "mytools",
        """
        from reasoner import ToolRegistry, ToolSpec, tool

        @tool(retries=2)
        def greet(name: str) -> str:
            \"\"\"Say hello.

            Args:
                name: Who to greet.
            \"\"\"
            return "hi " + name

        def shout(text: str) -> str:
            \"\"\"Upper-case text.\"\"\"
            return text.upper()

        ALL = [greet, shout]
        REGISTRY = ToolRegistry([ToolSpec.from_function(shout, name="yell")])
        """,
    )
    code, out, err = cli(capsys, "tools", "--no-demo", "--tools", "mytools:ALL", "--tools", "mytools:REGISTRY", "--json")
    assert code == 0, err
    assert [t["function"]["name"] for t in json.loads(out)] == ["greet", "shout", "yell"]
    code, out, err = cli(capsys, "tools", "--no-demo", "--tools", str(tmp_path / "mytools.py") + ":greet")
    assert code == 0, err
    assert out.splitlines()[0] == "greet  Say hello."
    assert "name  string  (required)  Who to greet." in out and "retries 2" in out


def test_chart_dir_comes_from_the_option_then_the_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = '{"nodes":[{"id":1,"tool":"chart","args":{"values":[1.0,2.0]}}]}'
    code, out, err = cli(capsys, "run", "Chart 1 and 2", "--planner", "scripted", "--chart-dir", "mine", "--json", models=scripted(plan, FINISH, "Done."))
    assert code == 0, err
    path = next(json.loads(line)["data"]["output"]["path"] for line in out.splitlines() if '"node.completed"' in line)
    assert Path(path).parent == Path("mine").absolute() and Path(path).is_file()  # absolute: it opens from anywhere
    code, out, err = cli(capsys, "run", "Chart 1 and 2", "--planner", "scripted", "--json", models=scripted(plan, FINISH, "Done."))
    path = next(json.loads(line)["data"]["output"]["path"] for line in out.splitlines() if '"node.completed"' in line)
    assert Path(path).parent == tmp_path / "charts"  # $REASONER_CHART_DIR


# -- the installed command ------------------------------------------------------------------


def test_console_script_and_python_m(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / ("reasoner.exe" if sys.platform == "win32" else "reasoner")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    done = subprocess.run([str(script), "tools", "--json"], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [t["function"]["name"] for t in json.loads(done.stdout)][:5] == DEMO
    done = subprocess.run([sys.executable, "-m", "reasoner", "tools", "--no-demo", "--tools", "nope:x"], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: --tools 'nope:x': no module named 'nope'") and "Traceback" not in done.stderr
