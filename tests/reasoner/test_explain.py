"""Engine.explain: the physical plan, levels and critical path, with nothing run."""

from __future__ import annotations

import pytest

from reasoner import Engine
from reasoner._explain import PhysicalNode
from reasoner.errors import PlanError, UsageError
from reasoner.models import ScriptedModel
from reasoner.planner import Node, Plan, Ref
from reasoner.tools import tool

ran: list[str] = []


@tool(timeout=5, retries=2, max_concurrency=4)
async def search(query: str) -> list[str]:
    ran.append("search")
    return [query]


@tool(cache=True, requires_approval=True)
async def fetch(url: str) -> str:
    ran.append("fetch")
    return url


@tool
async def summarize(texts: list[str]) -> str:
    ran.append("summarize")
    return " ".join(texts)


def engine() -> Engine:
    return Engine(tools=[search, fetch, summarize], default_timeout=2, default_retries=1)


#  1 search (5) ──> 3 summarize (2) ──> 5 summarize (2)
#  2 fetch (2) ───> 4 summarize (2) ──┘
PLAN = Plan(
    (
        Node(1, "search", {"query": "cloud"}),
        Node(2, "fetch", {"url": "https://example.com"}),
        Node(3, "summarize", {"texts": Ref(1)}),
        Node(4, "summarize", {"texts": [Ref(2)]}),
        Node(5, "summarize", {"texts": [Ref(3), Ref(4)]}),
    )
)


async def test_explain_shows_the_physical_plan_from_tool_metadata_and_engine_defaults() -> None:
    ran.clear()
    x = await engine().explain(PLAN)

    assert ran == []
    assert x.plan == PLAN
    assert x.physical[1] == PhysicalNode(
        tool="search", depends_on=(), timeout=5.0, retries=2, cache=False, max_concurrency=4, requires_approval=False
    )
    assert x.physical[2] == PhysicalNode(
        tool="fetch", depends_on=(), timeout=2.0, retries=1, cache=True, max_concurrency=None, requires_approval=True
    )
    assert x.physical[5].depends_on == (3, 4)
    assert x.levels == [[1, 2], [3, 4], [5]]


async def test_critical_path_weighs_nodes_by_timeout() -> None:
    x = await engine().explain(PLAN)
    assert x.critical_path == [1, 3, 5]  # search's 5 s timeout outweighs fetch's 2 s
    assert x.critical_path_cost == 9.0


async def test_without_timeouts_the_critical_path_is_the_longest_chain() -> None:
    plan = Plan(
        (
            Node(1, "summarize", {"texts": []}),
            Node(2, "summarize", {"texts": []}),
            Node(3, "summarize", {"texts": [Ref(2)]}),
            Node(4, "summarize", {"texts": [Ref(1), Ref(3)]}),
        )
    )
    x = await Engine(tools=[summarize]).explain(plan)
    assert x.critical_path == [2, 3, 4]
    assert x.critical_path_cost == 3


async def test_str_is_a_readable_table() -> None:
    text = str(await engine().explain(PLAN))
    lines = text.splitlines()

    assert lines[0] == "plan: 5 nodes, 3 levels, critical path 1 -> 3 -> 5 (cost 9)"
    assert lines[1].split() == ["node", "tool", "depends", "on", "level", "timeout", "retries", "cache", "limit", "approval"]
    assert lines[2].split() == ["1", "search", "-", "0", "5s", "2", "no", "4", "no"]
    assert lines[6].split() == ["5", "summarize", "3,4", "2", "2s", "1", "no", "-", "no"]


async def test_explain_accepts_plan_json_as_plan_and_rejects_bad_plans() -> None:
    x = await engine().explain(plan=PLAN.to_json())
    assert x.critical_path == [1, 3, 5]
    assert (await engine().explain(PLAN.to_dict())).levels == [[1, 2], [3, 4], [5]]

    bad = '{"nodes":[{"id":1,"tool":"search","args":{"query":{"$ref":2,"path":""}}}]}'
    with pytest.raises(PlanError) as info:
        await engine().explain(plan=bad)
    assert info.value.node_id == 1


@pytest.mark.parametrize("question", ['"What is the weather in Paris?"', '{"nodes":[]}', "42", "[1, 2]"])
async def test_a_string_is_always_a_question_even_when_it_parses_as_json(question: str) -> None:
    planner = ScriptedModel(['{"nodes":[{"id":1,"tool":"search","args":{"query":"weather Paris"}}]}'])
    x = await Engine(tools=[search, fetch, summarize], planner=planner).explain(question)
    assert [n.tool for n in x.plan.nodes] == ["search"]
    assert planner.calls[0].messages[-1].content == f"Question: {question}"


async def test_explain_needs_exactly_one_of_a_question_and_a_plan() -> None:
    with pytest.raises(UsageError, match="not both or neither"):
        await engine().explain()
    with pytest.raises(UsageError, match="not both or neither"):
        await engine().explain("a question", plan=PLAN)


async def test_explaining_a_question_needs_tools_to_plan_with() -> None:
    with pytest.raises(UsageError, match="needs tools to plan with"):
        await Engine(planner=ScriptedModel([])).explain("Compare the top 3 cloud providers")
