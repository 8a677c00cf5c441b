from __future__ import annotations

import reasoner
import reasoner.tools
from reasoner.tools import ToolRegistry, ToolSpec, tool


def test_exported_surface_is_exactly_the_public_names() -> None:
    assert reasoner.tools.__all__ == ["HttpResponse", "ToolRegistry", "ToolSpec", "http_get", "make_http_get", "tool"]
    for name in reasoner.tools.__all__:
        assert getattr(reasoner.tools, name).__module__.startswith("reasoner.tools._")


def test_the_top_level_package_reexports_the_same_objects() -> None:
    assert reasoner.tool is tool
    assert reasoner.ToolSpec is ToolSpec
    assert reasoner.ToolRegistry is ToolRegistry
