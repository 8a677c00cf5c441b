"""People in the loop on the command line: approvals asked on a terminal (an injected input
stream that says it is one, and a real pseudo-terminal), ``--review``, feedback and
``reasoner feedback`` / ``tune --from-feedback``."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reasoner.cli import build_parser, main
from reasoner.events import load_trace
from reasoner.models import ScriptedModel

BANK = """
from reasoner import tool

PAID = []

@tool(requires_approval=True)
def pay(cents: int, to: str) -> str:
    \"\"\"Pay someone.

    Args:
        cents: amount in cents.
        to: who gets it.
    \"\"\"
    PAID.append(cents)
    return f"paid {cents} to {to}"

@tool(requires_approval=True)
def email(to: str, text: str) -> str:
    \"\"\"Send an email.\"\"\"
    return f"emailed {to}: {text}"

@tool(requires_approval=True)
def close_account(name: str, note: str) -> str:
    \"\"\"Close an account.\"\"\"
    return f"closed {name}"

@tool
def balance() -> int:
    \"\"\"The balance in cents.\"\"\"
    return 900

all = [pay, email, close_account, balance]
"""

PLAN1 = json.dumps({"nodes": [
    {"id": 1, "tool": "pay", "args": {"cents": 5000, "to": "bob"}},
    {"id": 2, "tool": "email", "args": {"to": "bob", "text": {"$ref": 1}}},
    {"id": 3, "tool": "close_account", "args": {"name": "bob", "note": {"$ref": 2}}},
]})  # fmt: skip
PLAN2 = json.dumps({"nodes": [{"id": 4, "tool": "email", "args": {"to": "bob", "text": "your account stays open"}}]})
REPLAN = '{"action":"replan","reason":"closing the account was denied"}'
FINISH = '{"action":"finish"}'


class TerminalInput(io.StringIO):
    """Typed answers, from what says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REASONER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("REASONER_CONFIG", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    (tmp_path / "bank.py").write_text(textwrap.dedent(BANK), encoding="utf-8")
    return tmp_path / "runs"


def run(capsys: pytest.CaptureFixture[str], argv: list[str], typed: str | None, **models: ScriptedModel) -> tuple[int, str, str]:
    stdin = TerminalInput(typed) if typed is not None else io.StringIO("")
    code = main(argv, models=models, stdin=stdin)
    out, err = capsys.readouterr()
    return code, out, err


BANK_ARGS = ["--no-demo", "--tools", "bank:all", "--planner", "p", "--joiner", "j", "--answerer", "a", "--plain"]


def test_a_person_edits_approves_and_denies_and_the_planner_replans(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    planner = ScriptedModel([PLAN1, PLAN2], name="p")
    typed = "\n".join([
        "e", '{"cents": "lots", "to": "bob"}', '{"cents": 500, "to": "bob"}',  # a bad edit is refused, then fixed
        "maybe", "a",                                                          # an unknown answer is asked again
        "d", "never close accounts",
        "a",                                                                   # the replan's call
        "c", "Paid bob 500 cents and told him his account stays open.",        # feedback: the correct answer
    ]) + "\n"  # fmt: skip
    code, out, err = run(capsys, ["run", "Pay bob and close his account", *BANK_ARGS], typed,
                         p=planner, j=ScriptedModel([REPLAN, FINISH], name="j"), a=ScriptedModel(["Paid bob."], name="a"))  # fmt: skip
    assert code == 0, err
    assert 'approval needed: #1 pay(cents=5000, to="bob")' in err
    assert "invalid arguments" in err and "cents" in err  # the schema check, shown before asking again
    assert "answer one of: approve, yes, deny, no, edit" in err
    assert "never close accounts" in "\n".join(m.content for m in planner.calls[1].messages)  # the planner read the reason
    runs = list((tmp_path / "runs").glob("*.jsonl"))
    assert len(runs) == 1
    events = load_trace(runs[0])
    decisions = [(e.node_id, e.data["decision"]) for e in events if e.type == "approval.resolved"]
    assert decisions == [(1, "edit"), (2, "approve"), (3, "deny"), (4, "approve")]
    started = {e.node_id: e.data["args"] for e in events if e.type == "node.started"}
    assert started[1] == {"cents": 500, "to": "bob"} and 3 not in started
    assert events[-1].type == "feedback" and events[-1].data == {"rating": "bad", "answer": "Paid bob 500 cents and told him his account stays open."}
    assert f"run         {events[0].run_id}" in out

    # the feedback becomes an example in reasoner tune's format, with the person's edit in the plan
    code = main(["feedback", "--export", str(tmp_path / "ex.jsonl"), "--tools", "bank:all"])
    assert code == 0
    (line,) = (tmp_path / "ex.jsonl").read_text().splitlines()
    example = json.loads(line)
    assert example["plan"]["nodes"][0]["args"] == {"cents": 500, "to": "bob"}
    assert example["plan"]["nodes"][1]["args"]["text"]["$ref"] == 1  # an unedited ref stays a ref
    assert example["answer"] == "Paid bob 500 cents and told him his account stays open."
    assert example["join"] == {"action": "replan", "reason": "closing the account was denied"} and example["replan"]["plan"] == json.loads(PLAN2)
    from reasoner.cli._common import Context
    from reasoner.cli._tune import _examples

    args = build_parser().parse_args(["tune", "--from-feedback", "--tools", "bank:all", "--out", str(tmp_path / "a")])
    ctx = Context(stdout=io.StringIO(), stderr=io.StringIO(), env=os.environ, models={})
    (made,) = _examples(args, ctx, {})
    assert made.to_line() == line


def test_without_a_terminal_calls_that_need_approval_fail_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    plan = json.dumps({"nodes": [{"id": 1, "tool": "pay", "args": {"cents": 1, "to": "bob"}}]})
    code, out, err = run(capsys, ["run", "Pay bob", *BANK_ARGS], None,
                         p=ScriptedModel([plan], name="p"), j=ScriptedModel([FINISH], name="j"), a=ScriptedModel(["No."], name="a"))  # fmt: skip
    assert code == 0, err
    assert "requires approval: rerun with --yes (-y) to approve its calls, or on a terminal to be asked" in out


def test_review_lets_a_person_edit_the_plan_before_anything_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    planner = ScriptedModel([PLAN1], name="p")
    edited = {"nodes": [{"id": 1, "tool": "balance", "args": {}}]}
    typed = "\n".join(["e", '{"nodes": [{"id": 1, "tool": "nope", "args": {}}]}', json.dumps(edited), "r", ""]) + "\n"
    code, out, err = run(capsys, ["run", "What is my balance?", "--review", *BANK_ARGS], typed,
                         p=planner, j=ScriptedModel([FINISH], name="j"), a=ScriptedModel(["900 cents."], name="a"))  # fmt: skip
    assert code == 0, err
    assert "critical path" in err and "#1 pay(cents=5000" in err  # the decoded plan, as explain() shows it
    assert "'nope'" in err  # the bad edit was refused with the reason
    assert len(planner.calls) == 1  # the reviewed plan ran; the planner was not asked again
    events = load_trace(next((tmp_path / "runs").glob("*.jsonl")))
    assert [e.data["tool"] for e in events if e.type == "node.started"] == ["balance"]
    assert next(e for e in events if e.type == "plan.completed").data["plan"] == edited


def test_review_cancel_runs_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    models = {"p": ScriptedModel([PLAN1], name="p"), "j": ScriptedModel([], name="j"), "a": ScriptedModel([], name="a")}
    code, out, err = run(capsys, ["run", "Pay bob", "--review", *BANK_ARGS], "c\n", **models)
    assert code == 1 and "cancelled: nothing ran" in err
    assert not (tmp_path / "runs").exists()
    code, out, err = run(capsys, ["run", "Pay bob", "--review", *BANK_ARGS], None, **models)
    assert code == 1 and "--review asks on a terminal" in err


def test_feedback_command_marks_a_run_good(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = json.dumps({"nodes": [{"id": 1, "tool": "balance", "args": {}}]})
    code, out, err = run(capsys, ["run", "Balance?", "--yes", *BANK_ARGS], None,
                         p=ScriptedModel([plan], name="p"), j=ScriptedModel([FINISH], name="j"), a=ScriptedModel(["900 cents."], name="a"))  # fmt: skip
    assert code == 0, err
    run_id = next((tmp_path / "runs").glob("*.jsonl")).stem
    assert main(["feedback", run_id, "--good", "--note", "right"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": run_id, "feedback": {"rating": "good", "note": "right"}}
    assert main(["feedback", "nosuchrun", "--good"]) == 1
    assert "no run 'nosuchrun'" in capsys.readouterr().err
    assert main(["feedback", run_id]) == 1  # nothing to record, and no terminal to ask on
    assert main(["feedback", run_id], stdin=TerminalInput("c\n900 cents, no more.\n")) == 0  # asked on a terminal
    err = capsys.readouterr().err
    assert "question: Balance?" in err and "answer:   900 cents." in err
    assert main(["feedback", "--export", str(tmp_path / "ex.jsonl")]) == 0
    example = json.loads((tmp_path / "ex.jsonl").read_text())
    assert example["answer"] == "900 cents, no more." and example["source"] == f"feedback:{run_id}"  # the last feedback counts


DRIVER = """
import json, sys
from reasoner.cli import main
from reasoner.models import ScriptedModel
plan = json.dumps({"nodes": [{"id": 1, "tool": "pay", "args": {"cents": 5000, "to": "bob"}}, {"id": 2, "tool": "balance", "args": {}}]})
models = {"p": ScriptedModel([plan], name="p"), "j": ScriptedModel(['{"action":"finish"}'], name="j"), "a": ScriptedModel(["Paid."], name="a")}
sys.exit(main(["run", "Pay bob", "--no-demo", "--tools", "bank:all", "--planner", "p", "--joiner", "j", "--answerer", "a"], models=models))
"""


def test_a_real_pseudo_terminal_with_the_live_view(tmp_path: Path) -> None:
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-P", str(tmp_path / "driver.py")], stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} on the terminal; it shows: {seen[-2000:]!r}"
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    assert marker in seen, f"no {marker!r}; the terminal showed: {seen[-2000:]!r}"
                    return

    try:
        read_until(b"[e]dit the arguments?")
        os.write(master, b'e\n{"cents": 700, "to": "bob"}\n')
        read_until(b"was the answer right?")
        os.write(master, b"g\n")
        read_until(b"feedback kept with run")
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        os.close(master)
    events = load_trace(next((tmp_path / "runs").glob("*.jsonl")))
    assert [e.data["args"] for e in events if e.type == "node.started" and e.node_id == 1] == [{"cents": 700, "to": "bob"}]
    assert events[-1].type == "feedback" and events[-1].data == {"rating": "good"}
    assert b"summary" in seen
