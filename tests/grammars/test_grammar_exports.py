"""The public surface of reasoner.grammars, and that backends load only when selected."""

from __future__ import annotations

import subprocess
import sys

import reasoner.grammars


def test_exported_names() -> None:
    assert reasoner.grammars.__all__ == [
        "BACKENDS",
        "DEFAULT_BACKEND",
        "CompiledGrammar",
        "GrammarMatcher",
        "UnenforcedKeyword",
        "clear_caches",
        "closing_token_ids",
        "compile_json_schema",
        "supported_keywords",
        "validate_instance",
    ]
    assert all(hasattr(reasoner.grammars, name) for name in reasoner.grammars.__all__)
    assert reasoner.grammars.DEFAULT_BACKEND == "llguidance"
    assert reasoner.grammars.BACKENDS == ("llguidance", "outlines", "xgrammar")


def test_importing_the_package_loads_no_backend() -> None:
    code = (
        "import sys, reasoner.grammars as g\n"
        "for b in g.BACKENDS: g.supported_keywords(b)\n"
        "heavy = ('llguidance', 'outlines', 'outlines_core', 'xgrammar', 'torch')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
