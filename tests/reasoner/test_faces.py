"""The CLI and the server are two faces over the core: the server never imports the CLI, and
the CLI reaches the server only when ``reasoner serve`` runs (never at import time)."""

from __future__ import annotations

import ast
from pathlib import Path

import reasoner

PACKAGE = Path(reasoner.__file__).parent


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Each ``reasoner.*`` module ``path`` imports, and whether it runs at import time
    (module level; ``if TYPE_CHECKING:`` blocks do not run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
    return [(name, at_top) for name, at_top in found if name.startswith("reasoner")]


def test_the_server_never_imports_the_cli() -> None:
    files = sorted((PACKAGE / "server").glob("*.py"))
    assert len(files) >= 10
    for path in files:
        assert not [m for m, _ in _imports(path) if m.startswith("reasoner.cli")], path.name


def test_the_cli_imports_the_server_only_inside_the_serve_command() -> None:
    files = sorted((PACKAGE / "cli").glob("*.py"))
    assert len(files) >= 10
    uses = {path.name: [(m, top) for m, top in _imports(path) if m.startswith("reasoner.server")] for path in files}
    assert {name for name, found in uses.items() if found} == {"_serve.py"}
    assert not [m for m, top in uses["_serve.py"] if top]  # inside the handler (or for typing) only


def test_the_core_imports_neither_face() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "__main__.py":  # `python -m reasoner` is the CLI
            continue
        faces = [m for m, _ in _imports(path) if m.startswith(("reasoner.cli", "reasoner.server"))]
        assert not faces, (path.name, faces)
