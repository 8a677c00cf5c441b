"""Exact refs while decoding: the plan grammar is narrowed as each node closes, so a ref
path always names a field of the tool that node actually chose."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import jsonschema

from reasoner import Engine
from reasoner._loop import LoopConfig
from reasoner.errors import ModelError
from reasoner.models import Delta, GenerateOptions, Message, ScriptedModel, Usage
from reasoner.tools import ToolRegistry
from reasoner.tools.demo import demo_tools

FINISH = '{"action":"finish"}'


def plan(*nodes: tuple[str, dict[str, Any]]) -> str:
    return json.dumps({"nodes": [{"id": i, "tool": t, "args": a} for i, (t, a) in enumerate(nodes, 1)]}, separators=(",", ":"))


GOOD = plan(("search", {"query": "cloud"}), ("stock_price", {"ticker": {"$ref": 1, "path": "tickers.0"}}))
WRONG = plan(("search", {"query": "cloud"}), ("chart", {"values": [{"$ref": 1, "path": "close"}]}))  # search has no close


class Refining:
    """A model that swaps grammars like TransformersModel: it asks ``refine`` before each
    character and checks its text against the grammar in force at the end."""

    refines_schema = True
    name = "refining"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.schemas: list[dict[str, Any]] = []

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        options: GenerateOptions | None = None,
        refine: Callable[[], dict[str, Any]] | None = None,
    ) -> AsyncIterator[Delta]:
        current = schema
        for char in self.reply:
            if refine is not None:
                current = refine()
                if not self.schemas or current is not self.schemas[-1]:
                    self.schemas.append(current)
            yield Delta(char)
        if current is not None and not jsonschema.Draft202012Validator(current).is_valid(json.loads(self.reply)):
            raise ModelError("the grammar would not have let this text through")
        yield Delta("", (), "grammar", Usage(self.name, 10, len(self.reply), 0, 0.0))


def _valid(text: str, schema: dict[str, Any]) -> bool:
    return bool(jsonschema.Draft202012Validator(schema).is_valid(json.loads(text)))


async def test_the_grammar_narrows_as_each_node_closes_so_refs_are_exact() -> None:
    planner = Refining(GOOD)
    result = await Engine(demo_tools(), planner=planner, joiner=ScriptedModel([FINISH, "ok"])).reason("q")
    assert result.outputs[2]["ticker"] == result.outputs[1]["tickers"][0]
    assert len(planner.schemas) == 3  # before any node, after node 1, after node 2
    while_node_2 = planner.schemas[1]
    assert _valid(GOOD, while_node_2) and not _valid(WRONG, while_node_2)
    # the single grammar a model that cannot refine decodes under lets the wrong path through
    union = LoopConfig().schema(ToolRegistry.of(demo_tools()), {})
    assert _valid(WRONG, union)


async def test_a_model_that_cannot_refine_gets_one_grammar() -> None:
    planner = ScriptedModel([GOOD, FINISH, "ok"])
    await Engine(demo_tools(), planner=planner).reason("q")
    assert planner.calls[0].schema == LoopConfig().schema(ToolRegistry.of(demo_tools()), {})
