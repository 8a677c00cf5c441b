"""reason(): the one synchronous entry point; it opens an Engine and runs it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import anyio

from reasoner._engine import Engine, Query
from reasoner._loop import RunResult
from reasoner._roles import Budget

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from reasoner._settings import EngineKwargs

__all__ = ["reason"]


def reason(
    query: Query,
    tools: Iterable[Any] | None = None,
    output: Any = None,
    *,
    budget: Budget | None = None,
    **engine_options: Unpack[EngineKwargs],
) -> RunResult:
    """Answer ``query`` (a question, or a list of chat messages ending with one) with
    ``tools`` (sync). ``engine_options`` go to :class:`Engine` and are typed as its
    keywords (``planner=``, ``roles=``, ``policy=``, ``model_settings=``, ...). From async code, use
    ``await Engine(...).reason(...)`` instead: this starts its own event loop.

    Raises what :meth:`Engine.reason` raises.
    """
    async def answer() -> RunResult:
        async with Engine(tools, **engine_options) as engine:
            return await engine.reason(query, output=output, budget=budget)

    return anyio.run(answer)
