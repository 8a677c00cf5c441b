"""Hold-out discipline: no eval question, nor any 8-word run of one, is in the shipped training data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoner._tune_data import (
    contamination,
    demo_pools,
    expand_seeds,
    resolve_registry,
)
from reasoner._tune_recipe import EMBEDDED, SEEDS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DATA = ROOT / "models" / "adapters" / "smollm2-135m-reasoner" / "training-data.jsonl"


def _eval_questions() -> list[str]:
    files = sorted((ROOT / "evals" / "datasets").glob("*.jsonl"))
    assert files, "no eval datasets found"
    return [json.loads(line)["question"] for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_check_finds_a_whole_question_and_an_8_word_run() -> None:
    questions = ["What is the capital of Australia?", "Which three cloud providers are largest, what are their latest stock prices"]
    texts = [
        "Tell me: what is the capital of Australia? Thanks.",  # a whole question inside a longer text
        "so which three cloud providers are largest what are their figures",  # 8 words in a row, other case/punctuation
        "what is the capital of Japan",  # 5 shared words: fine
    ]
    assert [q for q, _ in contamination(texts, questions)] == questions


def test_the_shipped_training_data_holds_no_eval_question() -> None:
    if not SHIPPED_DATA.is_file():
        pytest.fail(f"{SHIPPED_DATA} is missing: the shipped adapter's training data must be committed with it")
    lines = SHIPPED_DATA.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 100
    found = contamination(lines, _eval_questions())
    assert not found, f"eval questions in the training data: {found[:3]}"


def test_the_recipe_generates_no_eval_question() -> None:
    # the seeds' text filled with every pool, before execution: what the generator writes itself
    raws = expand_seeds(SEEDS, resolve_registry("demo"), per_seed=int(EMBEDDED["per_seed"]), pools=demo_pools())
    found = contamination((json.dumps(raw, ensure_ascii=False) for raw in raws), _eval_questions())
    assert not found, f"eval questions in the recipe's seeds: {found[:3]}"
