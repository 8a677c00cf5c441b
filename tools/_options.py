"""Checks for a tool's name and execution options, shared by every way of making a tool."""

from __future__ import annotations

import math
import re

from reasoner.errors import ToolDefinitionError

__all__ = ["check_name", "check_options"]

# identifiers joined by dots: "search", "math.factorial", "spotify.play_song"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid tool name (identifiers joined by dots), else raise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ToolDefinitionError(
            f"invalid tool name {name!r}: a tool name is one or more Python identifiers joined by dots "
            "(e.g. 'search' or 'math.factorial'); pass name=... to choose another",
            tool=name if isinstance(name, str) else None,
        )
    return name


def check_options(
    tool: str,
    *,
    timeout: object,
    retries: object,
    cache: object,
    max_concurrency: object,
    requires_approval: object,
) -> None:
    """Raise :class:`ToolDefinitionError` for an option value that is out of range or of the wrong type."""

    def fail(option: str, value: object, want: str) -> ToolDefinitionError:
        return ToolDefinitionError(f"tool {tool!r}: option {option}={value!r} is invalid; {want}", tool=tool)

    if timeout is not None and not _positive_number(timeout):
        raise fail("timeout", timeout, "use a number of seconds greater than 0, or None for the engine default")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise fail("retries", retries, "use an integer >= 0 (0 means a single attempt)")
    if max_concurrency is not None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise fail("max_concurrency", max_concurrency, "use an integer >= 1, or None for no per-tool limit")
    if not isinstance(cache, bool):
        raise fail("cache", cache, "use True or False")
    if not isinstance(requires_approval, bool):
        raise fail("requires_approval", requires_approval, "use True or False")


def _positive_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
