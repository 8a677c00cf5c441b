"""ToolRegistry: the set of tools a plan may call."""

from __future__ import annotations

from collections.abc import Iterator

from reasoner.errors import UsageError
from reasoner.tools._spec import ToolSpec

__all__ = ["ToolRegistry"]


class ToolRegistry:
    """Tools by name. ``registry[name]`` raises ``KeyError``; iteration yields specs in registration order."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> ToolSpec:
        if spec.name in self._tools:
            raise UsageError(f"a tool named {spec.name!r} is already registered; give one of them another name")
        self._tools[spec.name] = spec
        return spec

    def __getitem__(self, name: str) -> ToolSpec:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)
