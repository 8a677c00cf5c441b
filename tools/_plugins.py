"""Third-party tools from the entry-point group ``reasoner.tools``.

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."reasoner.tools"]
    weather = "weather_tools:forecast"        # a @tool function or a ToolSpec
    finance = "finance_tools:all_tools"       # a list/tuple of them, or a function returning one

Each entry point resolves to a ToolSpec, a function decorated with ``@tool``, a list or
tuple of those (undecorated functions in a list are registered with default options), or
any other callable, which is called with no arguments and must return one of the above.
A plugin that fails to import or returns something else is reported, naming the entry
point and its distribution; it is never silently skipped.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.tools._spec import ToolSpec

__all__ = ["DEFAULT_GROUP", "describe_entry_point", "discover", "specs_from_entry_point"]

DEFAULT_GROUP = "reasoner.tools"


def discover(group: str = DEFAULT_GROUP) -> list[EntryPoint]:
    """The group's entry points, ordered by distribution then entry-point name (stable across runs)."""
    found = entry_points(group=group)
    return sorted(found, key=lambda ep: (_dist_name(ep), ep.name, ep.value))


def describe_entry_point(ep: EntryPoint) -> str:
    dist = ep.dist
    owner = f"distribution {dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"entry point {ep.name!r} ({ep.name} = {ep.value}) in group {ep.group!r} of {owner}"


def specs_from_entry_point(ep: EntryPoint) -> list[ToolSpec]:
    """Load one entry point and turn what it names into specs.

    Raises :class:`ToolDefinitionError` naming the entry point and its distribution for
    any failure (import error, a factory that raises, a value that is not a tool, a tool
    whose signature cannot be represented).
    """
    try:
        obj = ep.load()
    except Exception as exc:
        raise _plugin_error(ep, f"failed to import: {type(exc).__name__}: {exc}", exc) from exc
    if _is_single_tool(obj) or isinstance(obj, list | tuple):
        return _to_specs(ep, obj, top=True)
    if callable(obj):
        try:
            produced = obj()
        except Exception as exc:
            raise _plugin_error(ep, f"the tool factory raised {type(exc).__name__}: {exc}", exc) from exc
        return _to_specs(ep, produced, top=False)
    raise _plugin_error(ep, f"names a {type(obj).__name__}, not a tool, a list of tools or a function returning them")


def _is_single_tool(obj: Any) -> bool:
    return isinstance(obj, ToolSpec) or isinstance(getattr(obj, "__reasoner_tool__", None), ToolSpec)


def _to_specs(ep: EntryPoint, obj: Any, *, top: bool) -> list[ToolSpec]:
    items = list(obj) if isinstance(obj, list | tuple) else [obj]
    specs: list[ToolSpec] = []
    for item in items:
        if not (_is_single_tool(item) or (callable(item) and isinstance(obj, list | tuple))):
            source = "names" if top else "returned"
            raise _plugin_error(
                ep,
                f"{source} {type(item).__name__} {item!r:.80}, which is not a tool; expected a ToolSpec, an @tool "
                "function, or a list of them",
            )
        try:
            specs.append(ToolSpec.from_function(item))
        except UsageError as exc:
            raise _plugin_error(ep, str(exc), exc) from exc
    return specs


def _plugin_error(ep: EntryPoint, why: str, cause: BaseException | None = None) -> ToolDefinitionError:
    message = f"{describe_entry_point(ep)}: {why}; fix or uninstall that distribution"
    tool = getattr(cause, "tool", None)
    parameter = getattr(cause, "parameter", None)
    return ToolDefinitionError(message, tool=tool, parameter=parameter)


def _dist_name(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ""
