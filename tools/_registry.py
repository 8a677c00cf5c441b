"""ToolRegistry: the set of tools a plan may call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from reasoner.errors import UsageError
from reasoner.tools._plugins import DEFAULT_GROUP, describe_entry_point, discover, specs_from_entry_point
from reasoner.tools._spec import ToolSpec

__all__ = ["ToolRegistry"]

ToolLike = Callable[..., Any] | ToolSpec


class ToolRegistry:
    """Tools by name, in registration order.

    ``registry[name]`` raises ``KeyError`` for an unknown name (``get`` returns ``None``);
    ``name in registry``, ``len``, and iteration (yielding :class:`ToolSpec`) work as for a
    mapping of names to specs. Registering a second tool under a taken name raises
    :class:`UsageError`.
    """

    def __init__(self, tools: Iterable[ToolLike] = ()) -> None:
        self._tools: dict[str, ToolSpec] = {}
        for item in tools:
            self.add(item)

    @classmethod
    def of(cls, tools: Iterable[ToolLike] | ToolLike | ToolRegistry | None) -> ToolRegistry:
        """A registry from what a user passes as ``tools=``.

        ``None`` gives an empty registry; a registry is returned as is (not copied); a single
        function or spec, or an iterable of functions (decorated with ``@tool`` or not) and
        specs, is added in order.
        """
        if tools is None:
            return cls()
        if isinstance(tools, ToolRegistry):
            return tools
        if isinstance(tools, ToolSpec) or callable(tools):
            return cls([tools])
        if isinstance(tools, str | bytes) or not isinstance(tools, Iterable):
            raise UsageError(f"tools= takes functions, ToolSpecs, a list of them or a ToolRegistry; got {tools!r:.80}")
        return cls(tools)

    @classmethod
    def from_entry_points(cls, group: str = DEFAULT_GROUP) -> ToolRegistry:
        """A registry of every tool that installed distributions expose in ``group``."""
        registry = cls()
        registry.load_entry_points(group)
        return registry

    def register(self, spec: ToolSpec) -> ToolSpec:
        """Add a spec; raise :class:`UsageError` if its name is taken."""
        if not isinstance(spec, ToolSpec):
            raise UsageError(f"register() takes a ToolSpec, got {type(spec).__name__}; use add() for a function")
        if spec.name in self._tools:
            raise UsageError(f"a tool named {spec.name!r} is already registered; give one of them another name")
        self._tools[spec.name] = spec
        return spec

    def add(self, fn_or_spec: ToolLike) -> ToolSpec:
        """Add a function (decorated with ``@tool`` or not) or a spec; return the spec.

        Raises :class:`ToolDefinitionError` for a function that cannot be a tool and
        :class:`UsageError` for a name already taken.
        """
        return self.register(ToolSpec.from_function(fn_or_spec))

    def load_entry_points(self, group: str = DEFAULT_GROUP) -> list[ToolSpec]:
        """Add the tools of every entry point in ``group``; return them in the order added.

        A broken plugin raises :class:`ToolDefinitionError` naming the entry point and its
        distribution; a tool name that is already taken raises :class:`UsageError` naming
        both. Nothing from a failing call is half-registered: the registry is unchanged.
        """
        staged: list[tuple[str, ToolSpec]] = []
        for ep in discover(group):
            where = describe_entry_point(ep)
            staged.extend((where, spec) for spec in specs_from_entry_point(ep))
        owners: dict[str, str] = {}
        for where, spec in staged:
            if spec.name in self._tools or spec.name in owners:
                first = owners.get(spec.name, "a tool registered earlier")
                raise UsageError(
                    f"{where} provides a tool named {spec.name!r}, but {first} already has that name; "
                    "uninstall one of the distributions or register the other under another name"
                )
            owners[spec.name] = where
        for _, spec in staged:
            self.register(spec)
        return [spec for _, spec in staged]

    def get(self, name: str) -> ToolSpec | None:
        """The spec called ``name``, or ``None``."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def to_json(self) -> list[dict[str, Any]]:
        """Every tool as :meth:`ToolSpec.to_json` gives it: an OpenAI-style function spec
        (``{"type": "function", "function": {name, description, parameters}}``) plus
        ``output_schema`` and ``metadata`` (timeout, retries, cache, max_concurrency,
        requires_approval). JSON-serializable; ``ToolSpec.from_schema`` reads entries back.
        """
        return [spec.to_json() for spec in self._tools.values()]

    def __getitem__(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(self._tools) or "none"
            raise KeyError(f"no tool named {name!r}; registered tools: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"
