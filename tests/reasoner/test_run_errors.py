"""``RunResult.errors`` holds exceptions (``NodeFailure``) whose ``str()`` is the old text."""

from __future__ import annotations

import json

from reasoner import Engine, tool
from reasoner.errors import NodeFailure, RunError, ToolTimeout
from reasoner.models import ScriptedModel
from reasoner.planner import Ref

FINISH = '{"action":"finish"}'


@tool
async def fails(x: int) -> int:
    """Always fail.

    Args:
        x: anything.
    """
    raise RuntimeError(f"no luck with {x}")


@tool(timeout=0.05)
async def hang(x: int) -> int:
    """Never return in time.

    Args:
        x: anything.
    """
    import anyio

    await anyio.sleep(10)
    return x


@tool
async def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number.
    """
    return 2 * x


def _plan(*nodes: dict[str, object]) -> str:
    return json.dumps({"nodes": [{"id": i + 1, **n} for i, n in enumerate(nodes)]}, default=lambda r: {"$ref": r.node})


async def test_failed_and_skipped_nodes_are_exceptions_with_the_old_text() -> None:
    plan = _plan({"tool": "fails", "args": {"x": 1}}, {"tool": "double", "args": {"x": Ref(1)}}, {"tool": "hang", "args": {"x": 2}})
    engine = Engine(tools=[fails, double, hang], planner=ScriptedModel([plan, FINISH, "nothing worked"]))
    result = await engine.reason("q")
    assert sorted(result.errors) == [1, 2, 3]
    assert all(isinstance(e, NodeFailure) and isinstance(e, RunError) for e in result.errors.values())
    failed, skipped, timed_out = result.errors[1], result.errors[2], result.errors[3]
    assert str(failed) == "RuntimeError: no luck with 1"
    assert isinstance(failed.error, RuntimeError) and failed.__cause__ is failed.error and not failed.skipped
    assert str(skipped) == "skipped: node 1 failed" and skipped.skipped and skipped.error is None
    assert str(timed_out).startswith("ToolTimeout: tool 'hang' timed out after 0.05 s")
    assert isinstance(timed_out.error, ToolTimeout) and isinstance(timed_out.error, TimeoutError)
    assert result.answer == "nothing worked"
