"""``@tool``: register a Python function as a tool without changing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, Unpack, overload

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.tools._spec import ToolOptions, ToolSpec

__all__ = ["tool"]

F = TypeVar("F", bound=Callable[..., Any])


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(fn: None = None, /, **options: Unpack[ToolOptions]) -> Callable[[F], F]: ...
def tool(fn: Callable[..., Any] | None = None, /, **options: Unpack[ToolOptions]) -> Any:
    """Mark a sync or async function as a tool; the function itself is returned unchanged.

    Bare (``@tool``) or with options (``@tool(name=..., description=..., timeout=5,
    retries=2, cache=True, max_concurrency=4, requires_approval=True)``). The
    :class:`ToolSpec` is built at once, so a signature that cannot be represented fails
    here, with a :class:`ToolDefinitionError` naming the parameter, and the spec is stored
    as ``fn.__reasoner_tool__``; pass the function itself in ``tools=[...]``.
    """

    def decorate(f: F) -> F:
        spec = ToolSpec.from_function(f, **options)
        try:
            f.__reasoner_tool__ = spec  # type: ignore[attr-defined]
        except (AttributeError, TypeError) as exc:
            raise ToolDefinitionError(
                f"tool {spec.name!r}: cannot attach the spec to {f!r} (it takes no attributes, e.g. a bound method "
                "or a builtin); use ToolSpec.from_function(fn) or registry.add(fn) instead",
                tool=spec.name,
            ) from exc
        return f

    if fn is None:
        return decorate
    if isinstance(fn, str):
        raise UsageError(f"@tool({fn!r}) passes the name positionally; write @tool(name={fn!r})")
    if not callable(fn):
        raise UsageError(f"@tool decorates a function, got {type(fn).__name__} {fn!r}")
    return decorate(fn)
