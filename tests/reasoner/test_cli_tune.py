"""reasoner tune end to end on a tiny model folder; the adapter in the catalog as base + adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from reasoner._tune import evaluate_examples, split_examples, summary
from reasoner.cli import main
from reasoner.models import Catalog, ScriptedModel, random_llama
from reasoner.planner._examples import parse_examples
from reasoner.tools import ToolRegistry
from reasoner.tools.demo import demo_tools


def _example(ticker: str, close: float) -> dict[str, Any]:
    price = {"ticker": ticker, "name": ticker, "close": close, "currency": "USD", "date": "2024-12-06", "source": "sample data"}
    return {
        "question": f"What is {ticker}'s close?",
        "plan": {"nodes": [{"id": 1, "tool": "stock_price", "args": {"ticker": ticker}}]},
        "observations": [{"id": 1, "output": price}],
        "join": {"action": "finish"},
        "answer": f"{ticker} closed at {close}.",
    }


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer: Any) -> Path:
    folder = tmp_path_factory.mktemp("tiny-model")
    model = random_llama(smollm2_tokenizer, vocab_size=len(smollm2_tokenizer) + 64, seed=0)
    model.model.save_pretrained(folder)
    smollm2_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def examples_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    file = tmp_path_factory.mktemp("data") / "examples.jsonl"
    file.write_text("".join(json.dumps(_example(t, c)) + "\n" for t, c in [("MSFT", 413.62), ("AAPL", 248.12), ("NVDA", 138.84), ("TSLA", 358.51)]))
    return file


@pytest.fixture(scope="module")
def adapter(tiny_folder: Path, examples_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, str]:
    out = tmp_path_factory.mktemp("adapter") / "a"
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["tune", "--data", str(examples_file), "--base", str(tiny_folder), "--out", str(out), "--holdout", "0",
                     "--epochs", "2", "--dtype", "float32", "--rank", "4"])  # fmt: skip
    return out, code, stdout.getvalue(), stderr.getvalue()


def test_tune_writes_a_peft_adapter_and_a_card(adapter: tuple[Path, int, str, str], tiny_folder: Path) -> None:
    out, code, stdout, stderr = adapter
    assert code == 0, stderr
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    card = json.loads((out / "card.json").read_text())
    assert card["base"] == str(tiny_folder)
    assert card["data"]["examples"] == 4 and card["data"]["samples"] == {"planner": 4, "joiner": 4, "answerer": 4}
    assert len(card["data"]["sha256"]) == 64 and card["lora"]["rank"] == 4 and card["lora"]["alpha"] == 8
    assert card["training"]["dtype"] == "float32" and card["training"]["steps"] >= 2
    assert card["command"].startswith("reasoner tune --data ") and card["created"].startswith("20")
    assert "step 1/" in stderr and "tok/s" in stderr and "ETA" in stderr  # the progress bar
    assert "trained" in stdout and str(out) in stdout
    assert "Held-out" in (out / "README.md").read_text()


def test_a_bad_examples_line_is_reported_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_folder: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text(json.dumps(_example("MSFT", 1.0)) + "\n" + '{"question": "q", "plan": {"nodes": [{"id": 1}]}}\n')
    assert main(["tune", "--data", str(file), "--base", str(tiny_folder), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert f"{file}:2:" in err and "missing key 'tool'" in err


def test_the_catalog_loads_base_plus_adapter_merged(adapter: tuple[Path, int, str, str], tiny_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = adapter[0]
    config = tmp_path / "reasoner.toml"
    config.write_text(f'[models.mine]\nbase = "{tiny_folder}"\nadapter = "{out}"\n[models.plain]\npath = "{tiny_folder}"\n')
    catalog = Catalog.load(config, env={})
    assert catalog.entry("mine").kind == "tuned"
    tuned, plain = catalog.model("mine"), catalog.model("plain")
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert not torch.allclose(tuned.model(ids).logits, plain.model(ids).logits)  # type: ignore[attr-defined]
    assert main(["models", "--config", str(config)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["mine"])
    assert row.split()[1] == "tuned" and str(out) in row


def test_an_adapter_needs_a_base_and_the_other_way_round(tmp_path: Path) -> None:
    from reasoner.errors import ConfigError

    config = tmp_path / "reasoner.toml"
    config.write_text('[models.mine]\nbase = "smollm2-135m-base"\n')
    with pytest.raises(ConfigError, match="base and adapter go together"):
        Catalog.load(config, env={})


async def test_held_out_examples_are_scored_through_the_loop() -> None:
    registry = ToolRegistry(demo_tools())
    examples = parse_examples([json.dumps(_example("MSFT", 413.62))])
    plan = '{"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"MSFT"}}]}'
    model = ScriptedModel([plan, '{"action":"finish"}', "MSFT closed at 413.62."])
    report = await evaluate_examples(model, examples, {"demo": registry})
    assert report is not None
    assert summary(report) | {"latency_median_s": 0} == {
        "n": 1, "plan_validity": 1.0, "tool_selection": 1.0, "argument_accuracy": 1.0, "answer_accuracy": 1.0, "latency_median_s": 0,
    }  # fmt: skip
    train, held = split_examples(examples * 10, 0.2, seed=0)
    assert (len(train), len(held)) == (8, 2)
