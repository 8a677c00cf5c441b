from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoner.errors import PlanError
from reasoner.planner import Node, Plan, PlanStreamParser, Ref, iter_plan_nodes
from reasoner.tools import ToolRegistry

TEXT = (
    '{"nodes":['
    '{"id":1,"tool":"search","args":{"query":"a {b} [c] \\"d\\" \\\\ \\u00e9\\ud83d\\ude00 }]\\"}"}},'
    '{"id":2,"tool":"stock_price","args":{"ticker":{"$ref":1,"path":"0.tickers.0"}}},'
    '{"id":3,"tool":"chart","args":{"values":[{"$ref":2,"path":"close"},7],"title":"]}{["}}'
    "]}"
)


def _ends(text: str) -> list[int]:
    """Index of the closing brace of each node (where json.loads of the whole text puts them)."""
    ends, depth, in_string, escape = [], 0, False, False
    for i, char in enumerate(text):
        if in_string:
            escape, in_string = (False, in_string) if escape else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 2 and char == "}":
                ends.append(i)
    return ends


def test_each_node_comes_out_exactly_when_its_object_closes() -> None:
    parser = PlanStreamParser()
    arrivals: dict[int, int] = {}
    for i, char in enumerate(TEXT):
        for node in parser.feed(char):
            arrivals[node.id] = i
    assert list(arrivals.values()) == _ends(TEXT)
    plan = parser.finish()
    assert plan == Plan.from_json(TEXT)
    assert plan.node(1).args["query"] == 'a {b} [c] "d" \\ \u00e9\U0001f600 }]"}'
    assert plan.node(2).args == {"ticker": Ref(1, "0.tickers.0")}


def test_one_chunk_and_whitespace_between_tokens() -> None:
    parser = PlanStreamParser()
    assert [node.id for node in parser.feed(TEXT)] == [1, 2, 3]
    assert parser.finish() == Plan.from_json(TEXT)
    pretty = json.dumps(json.loads(TEXT), indent=2) + "\n"
    parser = PlanStreamParser()
    assert [node.id for node in parser.feed(pretty)] == [1, 2, 3]
    assert parser.finish() == Plan.from_json(TEXT)


def test_an_empty_plan_says_no_tool_applies() -> None:
    parser = PlanStreamParser()
    assert parser.feed('{"nodes": [ ] }') == []
    assert parser.finish() == Plan(()) == Plan.from_json('{"nodes":[]}')


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_any_split_of_any_plan_gives_the_same_nodes(
    registry: ToolRegistry, valid_plans: st.SearchStrategy[Plan], data: st.DataObject, ascii_only: bool, indent: int | None
) -> None:
    plan = data.draw(valid_plans)
    separators = (",", ":") if indent is None else None
    text = json.dumps(plan.to_dict(), ensure_ascii=ascii_only, indent=indent, separators=separators)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=20)))
    parser = PlanStreamParser(registry)
    seen: list[Node] = []
    for start, stop in zip([0, *cuts], [*cuts, len(text)]):
        seen += parser.feed(text[start:stop])
    assert seen == list(plan.nodes)
    assert parser.finish() == plan


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_character_at_a_time(registry: ToolRegistry, valid_plans: st.SearchStrategy[Plan], data: st.DataObject) -> None:
    plan = data.draw(valid_plans)
    parser = PlanStreamParser(registry)
    seen = [node for char in plan.to_json() for node in parser.feed(char)]
    assert seen == list(plan.nodes)
    assert parser.finish() == plan


def test_a_bad_node_is_refused_when_it_closes_after_the_good_ones_came_out(registry: ToolRegistry) -> None:
    text = TEXT.replace('"path":"close"', '"path":"ticker"')
    cut = _ends(text)[2]
    parser = PlanStreamParser(registry)
    assert [node.id for node in parser.feed(text[:cut])] == [1, 2]
    with pytest.raises(PlanError, match="node 3: argument values\\[0\\]: ref to node 2 path 'ticker' gives string"):
        parser.feed(text[cut:])
    with pytest.raises(PlanError, match="node 3: "):  # the error sticks
        parser.feed("")
    with pytest.raises(PlanError, match="node 3: "):
        parser.finish()


@pytest.mark.parametrize(
    ("text", "node_id", "problem"),
    [
        ('{"nodes":[{"id":1,"tool":"x","args":{"a":tru}}]}', 1, "malformed JSON: Expecting value"),
        ('{"nodes":[{"id":1,"tool":"x","args":{"a":[1}}]}', 1, "malformed JSON at character 43: '}' does not match an open bracket"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}},{"id":3,"tool":"x","args":{}}]}', 3, "id 3 is out of order: expected 2"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}},5]}', 2, "a node must be a JSON object"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}}]}}', None, "unexpected text after the end of the plan at character 41: '}'"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}}]} {"nodes":[]}', None, "unexpected text after the end of the plan"),
        ('{"plan":[]}', None, "unexpected top-level key 'plan'"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}}],"answer":1}', None, "unexpected second top-level key"),
        ('{"nodes":{}}', None, "malformed JSON at character 9: expected '[' to open the array of nodes, got '{'"),
        ('["nodes"]', None, "malformed JSON at character 0: expected '{' to open the plan, got '['"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}};', None, "expected ',' or ']' after a node, got ';'"),
    ],
)
def test_bad_text_is_refused_by_the_feed_that_reveals_it(text: str, node_id: int | None, problem: str) -> None:
    parser = PlanStreamParser()
    with pytest.raises(PlanError) as caught:
        for char in text:
            parser.feed(char)
    assert caught.value.node_id == node_id
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the plan text is empty"),
        ('{"nodes":[{"id":1,"tool":"x","args":{"q":"}', "node 1 was never closed"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}}', "expected ',' or ']' after a node"),
        ('{"nodes":[{"id":1,"tool":"x","args":{}}]', "expected '}' to close the plan"),
        ('{"nod', "a key was never closed"),
    ],
)
def test_finish_refuses_an_incomplete_plan(text: str, problem: str) -> None:
    parser = PlanStreamParser()
    parser.feed(text)
    with pytest.raises(PlanError, match="the plan text is incomplete") as caught:
        parser.finish()
    assert problem in str(caught.value)


def test_a_replanned_stream_continues_the_numbering(registry: ToolRegistry) -> None:
    previous = {node.id: node for node in Plan.from_json(TEXT)}
    parser = PlanStreamParser(registry, previous=previous)
    parser.feed('{"nodes":[{"id":4,"tool":"calculator","args":{"expression":{"$ref":1,"path":"0.title"}}}]}')
    assert [node.id for node in parser.finish()] == [4]


async def test_iter_plan_nodes_yields_each_node_before_the_text_ends(registry: ToolRegistry) -> None:
    send, receive = anyio.create_memory_object_stream[str](1)
    first_end = _ends(TEXT)[0] + 1

    async def chunks() -> AsyncIterator[str]:
        async with receive:
            async for chunk in receive:
                yield chunk

    nodes = iter_plan_nodes(chunks(), registry)
    async with send:
        await send.send(TEXT[:first_end])
        with anyio.fail_after(5):
            first = await anext(nodes)  # arrives while the rest of the plan is not even sent
        assert first.id == 1
        await send.send(TEXT[first_end:])
    with anyio.fail_after(5):
        assert [node.id async for node in nodes] == [2, 3]


async def test_iter_plan_nodes_raises_for_an_incomplete_plan() -> None:
    async def chunks() -> AsyncIterator[str]:
        yield TEXT[:60]

    with pytest.raises(PlanError, match="incomplete"):
        async for _ in iter_plan_nodes(chunks()):
            pass


def test_a_10000_node_plan_fed_one_character_at_a_time_parses_in_linear_time(registry: ToolRegistry) -> None:
    nodes = [
        {"id": i, "tool": "echo", "args": {"value": {"$ref": i - 1, "path": ""} if i > 1 else 'x {"y": [1, 2]} \\"'}}
        for i in range(1, 10_001)
    ]
    text = json.dumps({"nodes": nodes}, separators=(",", ":"))
    start = time.perf_counter()
    parser = PlanStreamParser(registry)
    count = sum(len(parser.feed(char)) for char in text)
    plan = parser.finish()
    elapsed = time.perf_counter() - start
    assert count == len(plan) == 10_000
    assert plan.node(10_000).refs() == frozenset({9_999})
    # about 0.5 s alone on a laptop core; a quadratic parser would take minutes
    assert elapsed < 10, f"{len(text)} characters took {elapsed:.1f} s"
