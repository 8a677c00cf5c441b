"""One planner prompt everywhere: Engine(), ``reasoner run``, ``reasoner eval`` and
``reasoner serve`` send the planner the very same messages for the same question."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio
import pytest

from reasoner import Engine
from reasoner.cli import main
from reasoner.models import Message, ScriptedModel
from reasoner.planner._prompts import plan_messages
from reasoner.tools import ToolRegistry
from reasoner.tools.demo import demo_tools

QUESTION = "Which three cloud providers are largest, what are their latest stock prices, and chart them"
PLAN = '{"nodes":[{"id":1,"tool":"calculator","args":{"expression":"1+1"}}]}'
FINISH = '{"action":"finish"}'


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("REASONER_CHART_DIR", str(tmp_path / "charts"))
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REASONER_CONFIG", raising=False)


def _model() -> ScriptedModel:
    return ScriptedModel([PLAN, FINISH, "2"], name="scripted")


def _planner_prompt(model: ScriptedModel) -> tuple[Message, ...]:
    return model.calls[0].messages


def test_library_cli_eval_and_server_send_the_planner_the_same_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    expected = tuple(plan_messages(QUESTION, ToolRegistry.of(demo_tools())))

    library = _model()
    anyio.run(Engine(demo_tools(), planner=library).reason, QUESTION)

    cli = _model()
    assert main(["run", QUESTION, "--planner", "scripted", "--json", "--no-plugins"], models={"scripted": cli}) == 0

    evaluated = _model()
    assert main(["eval", "--ids", "demo-001", "--planner", "scripted", "--no-plugins"], models={"scripted": evaluated}) == 0
    capsys.readouterr()

    from reasoner.cli._serve import add_serve_arguments, serve_engine

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    served = _model()
    engine = serve_engine(parser.parse_args(["--planner", "scripted", "--no-plugins"]), {}, {"scripted": served})
    anyio.run(engine.reason, QUESTION)

    prompts = {name: _planner_prompt(m) for name, m in [("library", library), ("cli", cli), ("eval", evaluated), ("server", served)]}
    for name, prompt in prompts.items():
        assert prompt == expected, name
