"""The installed package: one `reasoner` namespace, every subpackage importable from outside the checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

SUBPACKAGES = ["tools", "planner", "grammars", "models", "kernels", "evals"]
CHECKOUT = Path(__file__).resolve().parents[1]


def _editable() -> bool:
    text = distribution("reasoner").read_text("direct_url.json") or "{}"
    return bool(json.loads(text).get("dir_info", {}).get("editable", False))


def test_subpackages_import_from_outside_the_checkout(tmp_path: Path) -> None:
    code = (
        "import importlib, json, reasoner\n"
        f"names = {SUBPACKAGES!r}\n"
        "files = {n: importlib.import_module('reasoner.' + n).__file__ for n in names}\n"
        "files['reasoner'] = reasoner.__file__\n"
        "top = {}\n"
        "for n in names:\n"
        "    try:\n"
        "        importlib.import_module(n); top[n] = True\n"
        "    except ImportError:\n"
        "        top[n] = False\n"
        "print(json.dumps({'files': files, 'top': top}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    # no top-level tools/models/... leaks into site-packages
    assert not any(result["top"].values()), result["top"]
    files = {k: Path(v) for k, v in result["files"].items()}
    for name in SUBPACKAGES:
        if _editable():
            assert files[name].parent == CHECKOUT / name
        else:
            assert files[name].parent == files["reasoner"].parent / name
            assert "site-packages" in files[name].parts, f"{name} imported from the checkout: {files[name]}"


def test_distribution_installs_only_the_reasoner_namespace() -> None:
    dist = distribution("reasoner")
    if _editable():
        return
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith(("reasoner-", "..", "/"))}
    tops.discard("__editable__")
    assert tops <= {"reasoner", "bin"}, tops
