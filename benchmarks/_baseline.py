"""A baseline revision of reasoner laid out as the installed package, for benchmarks that
compare this checkout with an earlier commit in the same run (put first on ``PYTHONPATH``)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("tools", "planner", "grammars", "models", "kernels", "evals")


def baseline_tree(rev: str, into: Path) -> Path:
    """``rev`` (``git archive``) unpacked under ``into`` as reasoner/ with its subpackages inside."""
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev], check=True)
    src = into / "src"
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    for name in SUBPACKAGES:
        (src / name).rename(src / "reasoner" / name)
    return src
