"""ToolSpec: a registered tool's schema, metadata and implementation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio

__all__ = ["ToolSpec"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what the planner sees (name, description, schemas) and how it runs.

    ``input_schema`` is a JSON Schema object (``type: object``, ``properties``,
    ``required``, ``additionalProperties: false``). ``output_schema`` is the JSON
    Schema of the return value, or ``None`` when the tool declares none.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    fn: Callable[..., Any]
    is_async: bool
    timeout: float | None = None
    retries: int = 0
    cache: bool = False
    max_concurrency: int | None = None
    requires_approval: bool = False
    # validates and coerces the arguments dict; set by the constructors (from_function / from_schema)
    validate_args: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda a: a, repr=False, compare=False)

    async def invoke(self, args: dict[str, Any]) -> Any:
        """Validate ``args`` and call the tool; sync functions run in a worker thread.

        Raises ``ToolError`` for arguments that do not fit the input schema; whatever the
        tool raises propagates (the executor handles retries and timeouts).
        """
        kwargs = self.validate_args(args)
        if self.is_async:
            return await self.fn(**kwargs)
        return await anyio.to_thread.run_sync(partial(self.fn, **kwargs))
