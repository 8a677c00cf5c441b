"""The official JSON-Schema-Test-Suite against each grammar backend's ``accepts()``.

Run: ``.venv/bin/python -P scripts/schema_conformance.py SUITE_DIR [--draft draft2020-12]
[--backend llguidance] [--json out.json]``, where SUITE_DIR is a checkout of
github.com/json-schema-org/JSON-Schema-Test-Suite (not vendored: it is only read here).

For every schema of ``tests/<draft>/*.json`` (not ``optional/``), each backend compiles it
with the SmolLM2 tokenizer (``strict=True``: a keyword the backend would not enforce is
refused with a ``GrammarError`` that should name it); each test instance is then written
as compact JSON and fed to ``accepts()``. Outcomes per instance:

- ``wrong accept``: the grammar accepts an instance the schema rejects (must be 0),
- ``false reject``: the grammar rejects a valid instance (narrowing: allowed, but counted;
  objects are closed by the grammar layer, so extra keys are the usual cause),
- ``refused``: the schema was refused (``named`` when the error names a keyword),
- ``right``: accepts == valid.

Each schema compiles in a child process with a deadline (``--deadline``, default 20 s), so
a backend that never finishes (outlines_core on some regex products) costs one timeout; a
new child first loads the tokenizer and the backend's adapter, outside any deadline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_TOKENIZER: Any = None


def _tokenizer() -> Any:
    global _TOKENIZER
    if _TOKENIZER is None:
        from transformers import AutoTokenizer

        from reasoner.models import ensure_smollm2

        _TOKENIZER = AutoTokenizer.from_pretrained(ensure_smollm2())
    return _TOKENIZER


def _run_group(backend: str, schema: Any, tests: list[dict[str, Any]]) -> list[str]:
    from reasoner.errors import GrammarError, UsageError
    from reasoner.grammars import compile_json_schema

    try:
        grammar = compile_json_schema(schema, _tokenizer(), backend=backend)
    except (GrammarError, UsageError) as exc:
        keyword = getattr(exc, "keyword", None)
        pointer = getattr(exc, "pointer", None)
        named = keyword is not None and pointer is not None
        why = f"{keyword} at {pointer}: {str(exc).splitlines()[0][:300]}"
        return [f"refused named|{why}" if named else f"refused unnamed|{why}"] * len(tests)
    out = []
    for test in tests:
        text = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False)
        try:
            accepted = grammar.accepts(text)
        except GrammarError:
            accepted = False
        if accepted == test["valid"]:
            out.append("right")
        else:
            out.append("wrong accept" if accepted else "false reject")
    return out


def _worker(jobs: Any, results: Any) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        key, backend, schema, tests = job
        try:
            results.put((key, _run_group(backend, schema, tests)))
        except Exception as exc:  # a crash in a backend is an outcome too
            results.put((key, [f"error|{type(exc).__name__}: {str(exc)[:200]}"] * len(tests)))


def run(suite: Path, draft: str, backend: str, deadline: float) -> tuple[Counter[str], list[str], list[str]]:
    groups = []
    for path in sorted((suite / "tests" / draft).glob("*.json")):
        for i, group in enumerate(json.loads(path.read_text())):
            groups.append((f"{path.stem}#{i}", group["schema"], group["tests"]))
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    unnamed: list[str] = []  # one line per schema refused without a keyword and a pointer
    ctx = mp.get_context("spawn")
    jobs, results = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_worker, args=(jobs, results), daemon=True)
    proc.start()
    fresh = True  # a new worker loads the tokenizer and the backend first: no deadline on that
    for key, schema, tests in groups:
        if fresh:
            jobs.put(("warm-up", backend, {}, []))
            results.get(timeout=600)
            fresh = False
        jobs.put((key, backend, schema, tests))
        try:
            _, outcomes = results.get(timeout=deadline)
        except Exception:
            outcomes = ["timeout"] * len(tests)
            proc.kill()
            jobs, results = ctx.Queue(), ctx.Queue()
            proc = ctx.Process(target=_worker, args=(jobs, results), daemon=True)
            proc.start()
            fresh = True
        counts.update(o.split("|")[0] for o in outcomes)
        wrong += [f"{key}: {t['description']}" for t, o in zip(tests, outcomes, strict=True) if o == "wrong accept"]
        unnamed += [f"{key}: {o.split('|', 1)[1]}" for o in outcomes[:1] if o.startswith("refused unnamed")]
        unnamed += [f"{key}: {o}" for o in outcomes[:1] if o == "timeout" or o.startswith("error")]
    jobs.put(None)
    proc.join(10)
    return counts, wrong, unnamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("--draft", default="draft2020-12")
    parser.add_argument("--backend", action="append", help="llguidance, xgrammar, outlines (default: all)")
    parser.add_argument("--deadline", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {}
    for backend in args.backend or ["llguidance", "xgrammar", "outlines"]:
        counts, wrong, unnamed = run(args.suite, args.draft, backend, args.deadline)
        total = sum(counts.values())
        line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{args.draft} {backend}: {total} instances: {line}; right {counts['right'] / total:.1%}", flush=True)
        for item in wrong:
            print(f"  wrong accept: {item}", flush=True)
        for item in unnamed:
            print(f"  unnamed refusal: {item}", flush=True)
        report[backend] = {"counts": dict(counts), "wrong_accepts": wrong, "unnamed": unnamed}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
