"""BFCL is for measuring only: none of its questions (nor an 8-word run of one) is in the
shipped training data or in what the tuning recipe generates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reasoner._tune_data import contamination, demo_pools, expand_seeds, resolve_registry
from reasoner._tune_recipe import EMBEDDED, SEEDS
from reasoner.evals import BFCL_CATEGORIES, load_bfcl

pytest.importorskip("bfcl_eval", reason="bfcl-eval is installed by scripts/setup.sh (pip install --no-deps bfcl-eval)")

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DATA = ROOT / "models" / "adapters" / "smollm2-135m-reasoner" / "training-data.jsonl"


@pytest.fixture(scope="module")
def bfcl_questions() -> list[str]:
    questions = [item.question for category in BFCL_CATEGORIES for item in load_bfcl(category)]
    assert len(questions) > 3000
    # the check reads ASCII words: a question of fewer (one or two words, or Persian text that
    # reads as just "4") would match unrelated lines
    return [q for q in questions if len(re.findall(r"[a-z0-9]+", q.lower())) >= 5]


def test_the_shipped_training_data_holds_no_bfcl_question(bfcl_questions: list[str]) -> None:
    lines = SHIPPED_DATA.read_text(encoding="utf-8").splitlines()
    assert len(lines) > 100
    found = contamination(lines, bfcl_questions)
    assert not found, f"BFCL questions in the training data: {[q for q, _ in found[:3]]}"


def test_the_recipe_generates_no_bfcl_question(bfcl_questions: list[str]) -> None:
    raws = expand_seeds(SEEDS, resolve_registry("demo"), per_seed=int(EMBEDDED["per_seed"]), pools=demo_pools())
    found = contamination((json.dumps(raw, ensure_ascii=False) for raw in raws), bfcl_questions)
    assert not found, f"BFCL questions in the recipe's seeds: {[q for q, _ in found[:3]]}"


def test_the_check_would_find_a_bfcl_question() -> None:
    question = load_bfcl("simple").items[0].question
    assert contamination([f'{{"question": "{question}"}}'], [question])
