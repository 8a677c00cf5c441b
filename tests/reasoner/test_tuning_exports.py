"""The tuning API's surface: exactly these names, and importing it does not load peft."""

from __future__ import annotations

import subprocess
import sys

import reasoner.tuning

PUBLIC = [
    "ExampleError", "LoraConfig", "TuneExample", "TuneResult", "complete", "contamination", "evaluate_examples",
    "examples_from_trace", "expand_seeds", "load_examples", "load_seeds", "merge_adapter", "parse_examples",
    "role_samples", "teach", "training_samples", "tune",
]  # fmt: skip


def test_all_lists_exactly_the_public_names_sorted() -> None:
    assert reasoner.tuning.__all__ == sorted(PUBLIC)
    assert all(getattr(reasoner.tuning, name) is not None for name in PUBLIC)


def test_importing_it_does_not_load_peft() -> None:
    code = "import sys, reasoner.tuning; print('peft' in sys.modules)"
    assert subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["False"]
