"""The reasoning loop with scripted models: event order, replanning, budgets, fallbacks, cancellation."""

from __future__ import annotations

import json
from contextlib import aclosing

import anyio
import pytest
from pydantic import BaseModel

from reasoner import Budget, BudgetExceeded, Engine, ModelError, UsageError, load_trace, reason, save_trace, tool
from reasoner.models import Message, ScriptedModel

FINISH = '{"action":"finish"}'
CALLS: list[int] = []


@tool
async def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number.
    """
    CALLS.append(x)
    await anyio.sleep(0.05)
    return 2 * x


@tool
async def sleepy(x: int) -> int:
    """Sleep a long time.

    Args:
        x: anything.
    """
    try:
        await anyio.sleep(30)
    except anyio.get_cancelled_exc_class():
        CALLS.append(-x)
        raise
    return x


@tool
async def fails(x: int) -> int:
    """Always fail.

    Args:
        x: anything.
    """
    raise RuntimeError(f"no luck with {x}")


def plan(*nodes: tuple[str, dict[str, object]], first: int = 1) -> str:
    return json.dumps({"nodes": [{"id": first + i, "tool": t, "args": a} for i, (t, a) in enumerate(nodes)]})


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


async def collect(engine: Engine, query: str = "q", **kw: object) -> list[tuple[str, int, int | None]]:
    return [(e.type, e.iteration, e.node_id) async for e in engine.stream(query, **kw)]  # type: ignore[arg-type]


async def test_two_iteration_replan_has_exact_event_order_and_reuses_finished_nodes() -> None:
    model = ScriptedModel(
        [
            plan(("double", {"x": 1})),
            '{"action":"replan","reason":"need more"}',
            plan(("double", {"x": {"$ref": 1, "path": ""}}), first=2),
            FINISH,
            "4",
        ]
    )
    events = await collect(Engine([double], planner=model))
    assert events == [
        ("run.started", 0, None),
        ("plan.node", 0, 1),
        ("node.started", 0, 1),
        ("usage", 0, None),
        ("plan.completed", 0, None),
        ("node.completed", 0, 1),
        ("usage", 0, None),
        ("join.decision", 0, None),
        ("plan.node", 1, 2),
        ("node.started", 1, 2),
        ("usage", 1, None),
        ("plan.completed", 1, None),
        ("node.completed", 1, 2),
        ("usage", 1, None),
        ("join.decision", 1, None),
        ("answer.delta", 1, None),
        ("usage", 1, None),
        ("answer.completed", 1, None),
        ("run.completed", 1, None),
    ]
    assert CALLS == [1, 2]  # node 1 ran once; node 2 used its output
    # the replan prompt showed the planner the result so far and where to continue
    replan_prompt = model.calls[2].messages[-1].content
    assert "[1] double" in replan_prompt and "-> 2" in replan_prompt and "first id is 2" in replan_prompt


async def test_result_carries_answer_plans_outputs_usage_and_a_replayable_trace(tmp_path: anyio.Path) -> None:
    model = ScriptedModel([plan(("double", {"x": 3}), ("double", {"x": 4})), FINISH, "6 and 8"])
    result = await Engine([double], planner=model).reason("double 3 and 4")
    assert result.answer == "6 and 8"
    assert result.outputs == {1: 6, 2: 8}
    assert [n.tool for n in result.plan.nodes] == ["double", "double"]
    assert result.usage["scripted"].calls == 3
    path = tmp_path / "trace.jsonl"
    save_trace(result.trace, path)
    assert load_trace(path) == result.trace


async def test_nodes_start_before_the_planner_finishes() -> None:
    model = ScriptedModel([plan(("double", {"x": 1}), ("double", {"x": 2}), ("double", {"x": 3})), FINISH, "ok"], token_delay=0.01)
    types = [t for t, _, _ in await collect(Engine([double], planner=model))]
    assert types.index("node.started") < types.index("plan.completed")


async def test_iteration_budget_ends_with_a_partial_answer_from_the_results() -> None:
    replan = '{"action":"replan","reason":"more"}'
    model = ScriptedModel([plan(("double", {"x": 1})), replan, plan(("double", {"x": 2}), first=2), replan, "2 and 4, more is missing"])
    engine = Engine([double], planner=model, budget=Budget(iterations=2))
    seen = [event async for event in engine.stream("q")]
    assert seen[-1].type == "run.completed"
    assert seen[-1].data["partial"] == "the budget of 2 plan(s) ran out; still missing: more"
    assert seen[-1].data["answer"] == "2 and 4, more is missing"
    assert "The results are incomplete (the budget of 2 plan(s) ran out" in model.calls[-1].messages[-1].content
    result = await Engine([double], planner=ScriptedModel(model.responses), budget=Budget(iterations=2)).reason("q")
    assert result.partial is not None and result.outputs == {1: 2, 2: 4}


async def test_iteration_budget_raises_only_with_nothing_to_answer_from() -> None:
    replan = '{"action":"replan","reason":"it failed"}'
    model = ScriptedModel([plan(("fails", {"x": 1})), replan, plan(("fails", {"x": 2}), first=2), replan])
    seen = []
    with pytest.raises(BudgetExceeded, match="iterations limit of 2"):
        async for event in Engine([fails], planner=model, budget=Budget(iterations=2)).stream("q"):
            seen.append(event)
    assert seen[-1].type == "run.failed"
    assert seen[-1].data["error"]["type"] == "BudgetExceeded"


async def test_token_budget() -> None:
    model = ScriptedModel([plan(("double", {"x": 1})), FINISH, "ok"])
    with pytest.raises(BudgetExceeded, match="tokens"):
        await Engine([double], planner=model, budget=Budget(tokens=50)).reason("q")


async def test_token_budget_spent_by_planning_still_answers_from_the_results() -> None:
    def engine(tokens: int) -> tuple[ScriptedModel, Engine]:
        joiner = ScriptedModel([FINISH], chunk_size=4, name="joiner")
        planner, answerer = ScriptedModel([plan(("double", {"x": 21}))], chunk_size=4), ScriptedModel(["42"], chunk_size=4, name="answerer")
        examples = [(f"Double {n}, a worked example only the planner sees", plan(("double", {"x": n}))) for n in range(20)]
        return joiner, Engine([double], planner=planner, joiner=joiner, answerer=answerer, budget=Budget(tokens=tokens), examples=examples)

    _, probe = engine(100_000)
    spent = {e.data["role"]: e.data["prompt_tokens"] + e.data["completion_tokens"] async for e in probe.stream("q") if e.type == "usage"}
    assert spent["planner"] > 3 * (spent["joiner"] + spent["answerer"])
    # the whole run fits, but planning leaves less than the joiner may use: it answers at once
    joiner, small = engine(sum(spent.values()))
    result = await small.reason("q")
    assert result.answer == "42" and result.outputs == {1: 42} and joiner.calls == []
    assert result.partial is not None and "token budget" in result.partial


async def test_seconds_budget_cancels_running_tools() -> None:
    model = ScriptedModel([plan(("sleepy", {"x": 7})), FINISH, "ok"])
    with anyio.fail_after(5):
        with pytest.raises(BudgetExceeded, match="seconds"):
            await Engine([sleepy], planner=model, budget=Budget(seconds=0.3)).reason("q")
    assert CALLS == [-7]


async def test_fallback_on_failing_and_on_invalid_models() -> None:
    broken = ScriptedModel([ModelError("server down")], name="broken")
    invalid = ScriptedModel(['{"action":"maybe"}'], name="invalid")
    good = ScriptedModel([plan(("double", {"x": 1})), FINISH, "2"], name="good")
    engine = Engine([double], planner=[broken, good], joiner=[invalid, good], answerer=good)
    events = [e async for e in engine.stream("q")]
    fallbacks = [e.data for e in events if e.type == "model.fallback"]
    assert [(f["role"], f["model"], f["next"]) for f in fallbacks] == [("planner", "broken", "good"), ("joiner", "invalid", "good")]
    assert "server down" in fallbacks[0]["reason"]
    assert "does not match the schema" in fallbacks[1]["reason"]
    assert events[-1].type == "run.completed" and events[-1].data["answer"] == "2"


async def test_last_model_failing_raises_model_error_after_run_failed() -> None:
    engine = Engine([double], planner=ScriptedModel([ModelError("boom")]))
    with pytest.raises(ModelError, match="boom"):
        await engine.reason("q")


async def test_invalid_plan_is_shown_to_the_planner_and_replanned() -> None:
    bad = plan(("double", {"x": {"$ref": 5, "path": ""}}))  # a forward ref: valid JSON, invalid plan
    model = ScriptedModel([bad, plan(("double", {"x": 2})), FINISH, "4"])
    result = await Engine([double], planner=model).reason("q")
    assert result.answer == "4"
    assert "the last plan was invalid" in model.calls[1].messages[-1].content


async def test_cancelling_mid_plan_stops_every_tool() -> None:
    model = ScriptedModel([plan(("sleepy", {"x": 1}), ("sleepy", {"x": 2}), ("double", {"x": 3})), FINISH, "x"], token_delay=0.02)
    engine = Engine([sleepy, double], planner=model)
    started = 0
    async with aclosing(engine.stream("q")) as events:
        async for event in events:
            if event.type == "node.started":
                started += 1
            if started == 2:
                break  # closing the stream cancels the run mid-plan
    await anyio.sleep(0.05)
    assert sorted(CALLS) == [-2, -1]  # both sleeping tools saw the cancellation; node 3 never ran


class Doubled(BaseModel):
    value: int
    note: str


async def test_output_model_is_decoded_and_validated() -> None:
    model = ScriptedModel([plan(("double", {"x": 21})), FINISH, '{"value":42,"note":"doubled"}'])
    result = await Engine([double], planner=model).reason("q", output=Doubled)
    assert result.answer == Doubled(value=42, note="doubled")
    assert model.calls[2].schema is not None and "additionalProperties" not in model.calls[2].schema  # as pydantic writes it

    class Closed(Doubled, extra="forbid"):
        pass

    model = ScriptedModel([plan(("double", {"x": 21})), FINISH, '{"value":42,"note":"doubled"}'])
    await Engine([double], planner=model).reason("q", output=Closed)
    assert model.calls[2].schema is not None and model.calls[2].schema["additionalProperties"] is False


async def test_no_tools_answers_directly() -> None:
    model = ScriptedModel(["hello"])
    result = await Engine(planner=model).reason("hi")
    assert result.answer == "hello" and result.plans == []


async def test_an_empty_plan_answers_directly_without_a_join() -> None:
    model = ScriptedModel(['{"nodes":[]}', "Hello! I can double numbers."])
    engine = Engine([double], planner=model)
    events = [e async for e in engine.stream("hi there")]
    assert [e.type for e in events if e.type.startswith(("plan.", "join.", "answer.c"))] == ["plan.completed", "join.decision", "answer.completed"]
    decision = next(e for e in events if e.type == "join.decision")
    assert decision.data == {"action": "finish", "reason": "the planner called no tool", "by": "loop"}
    assert len(model.calls) == 2 and CALLS == []  # planner and answerer; no joiner call, no tool
    answerer = model.calls[1].messages
    assert "No tool applies" in answerer[0].content and "Results" not in answerer[1].content
    result = await Engine([double], planner=ScriptedModel(['{"nodes":[]}', "hi"])).reason("hi there")
    assert result.answer == "hi" and [p.nodes for p in result.plans] == [()] and result.outputs == {}


async def test_an_empty_replan_finishes_with_the_results_so_far() -> None:
    model = ScriptedModel([plan(("double", {"x": 2})), '{"action":"replan","reason":"check"}', '{"nodes":[]}', "4"])
    result = await Engine([double], planner=model).reason("q")
    assert result.answer == "4" and result.outputs == {1: 4} and len(model.calls) == 4
    assert "Results" in model.calls[3].messages[1].content


async def test_explain_question_plans_without_running() -> None:
    model = ScriptedModel([plan(("double", {"x": 1}), ("double", {"x": {"$ref": 1, "path": ""}}))])
    explanation = await Engine([double], planner=model).explain("double twice")
    assert [n.id for n in explanation.plan.nodes] == [1, 2]
    assert explanation.critical_path == [1, 2]
    assert CALLS == []


def test_sync_reason_wrapper() -> None:
    result = reason("q", tools=[double], planner=ScriptedModel([plan(("double", {"x": 5})), FINISH, "10"]))
    assert result.answer == "10" and result.outputs == {1: 10}


async def test_output_json_schema_dict_gives_the_validated_json_value() -> None:
    schema = {"type": "object", "properties": {"value": {"$ref": "#/$defs/n"}}, "required": ["value"], "$defs": {"n": {"type": "integer"}}}
    model = ScriptedModel(['{"value":7}', '{"value":"seven"}'])
    assert (await Engine(planner=model).reason("q", output=schema)).answer == {"value": 7}
    assert model.calls[0].schema == {"type": "object", "properties": {"value": {"type": "integer"}}, "required": ["value"]}
    with pytest.raises(ModelError, match="does not match the schema"):
        await Engine(planner=model).reason("q", output=schema)


async def test_bad_output_schema_and_unknown_tools_fail_before_any_model_call() -> None:
    model = ScriptedModel([])
    engine = Engine([double, sleepy], planner=model)
    with pytest.raises(UsageError, match="refers to itself"):
        await engine.reason("q", output={"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})
    with pytest.raises(UsageError, match="unknown tool"):
        await engine.reason("q", tools=["nope"])
    assert model.calls == []


async def test_tools_subset_limits_what_the_planner_sees() -> None:
    model = ScriptedModel([plan(("double", {"x": 1})), FINISH, "2"])
    events = [e async for e in Engine([double, sleepy], planner=model).stream("q", tools=["double"])]
    assert events[0].data["tools"] == ["double"]
    assert "sleepy" not in model.calls[0].messages[0].content


async def test_a_conversation_shows_its_earlier_turns_to_every_role() -> None:
    model = ScriptedModel([plan(("double", {"x": 4})), FINISH, "8"])
    turns = [{"role": "user", "content": "my number is 4"}, Message("assistant", "noted"), {"role": "user", "content": "double my number"}]
    result = await Engine([double], planner=model).reason(turns)
    assert result.answer == "8" and result.query == "double my number"
    for call in model.calls:  # planner, joiner, answerer
        assert call.messages[-1].content.startswith("Conversation so far:\nuser: my number is 4\nassistant: noted\n\nQuestion: double my number")
    started = result.trace[0]
    assert started.data["query"] == "double my number" and started.data["history"] == [{"role": "user", "content": "my number is 4"}, {"role": "assistant", "content": "noted"}]
    single = ScriptedModel([plan(("double", {"x": 4})), FINISH, "8"])
    await Engine([double], planner=single).reason([{"role": "user", "content": "double 4"}])
    assert single.calls[0].messages[-1].content == "Question: double 4"  # no history: the prompt of a plain question


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ([], "non-empty list of chat messages"),
        ([{"role": "assistant", "content": "hi"}], "the last message must be the user's question; it is the assistant's"),
        ([{"role": "user", "content": "  "}], "it is the user's, and empty"),
        ([{"role": "user"}], r"messages\[0\] must be a Message"),
        ([{"role": "robot", "content": "x"}], r"messages\[0\]: Message role 'robot'"),
        ("   ", "the question is empty"),
        (42, "a query is a question string or a non-empty list"),
    ],
)
async def test_a_bad_query_is_refused_before_any_model_call(query: object, problem: str) -> None:
    model = ScriptedModel([])
    with pytest.raises(UsageError, match=problem):
        await Engine([double], planner=model).reason(query)  # type: ignore[arg-type]
    assert model.calls == []


async def test_a_model_that_stalls_raises_a_model_timeout() -> None:
    from reasoner.errors import ModelTimeout

    slow = ScriptedModel([plan(("double", {"x": 1}))], token_delay=0.5)
    with pytest.raises(ModelTimeout, match="planner model 'scripted' timed out") as info:
        await Engine([double], planner=slow, call_timeout=0.05).reason("q")
    assert isinstance(info.value, ModelError) and isinstance(info.value, TimeoutError)
