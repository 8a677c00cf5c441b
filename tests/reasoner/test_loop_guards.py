"""Guards against a weak or unlucky model: repeated calls, loops in answers, identical
replans, cut-off plans, failing models after dispatch, and spent budgets."""

from __future__ import annotations

import json

import anyio
import pytest

from reasoner import Budget, Engine, tool
from reasoner._loop import repetition_cut
from reasoner.models import ScriptedModel

FINISH = '{"action":"finish"}'
SENT: list[str] = []


@tool
async def send(to: str) -> str:
    """Send a message (a side effect).

    Args:
        to: who to send it to.
    """
    SENT.append(to)
    return f"sent to {to}"


@tool
async def sleepy(x: int) -> int:
    """Sleep a long time.

    Args:
        x: anything.
    """
    await anyio.sleep(30)
    return x


@pytest.fixture(autouse=True)
def _reset() -> None:
    SENT.clear()


def plan(*nodes: tuple[str, dict[str, object]], first: int = 1) -> str:
    return json.dumps({"nodes": [{"id": first + i, "tool": t, "args": a} for i, (t, a) in enumerate(nodes)]}, separators=(",", ":"))


async def test_a_repeated_call_aliases_the_first_and_runs_once() -> None:
    model = ScriptedModel([plan(("send", {"to": "ann"}), ("send", {"to": "bob"}), ("send", {"to": "ann"})), FINISH, "done"])
    result = await Engine([send], planner=model).reason("q")
    assert SENT == ["ann", "bob"]
    assert result.outputs == {1: "sent to ann", 2: "sent to bob", 3: "sent to ann"}
    aliased = [(e.node_id, e.data["aliased_to"]) for e in result.trace if e.type == "node.completed" and "aliased_to" in e.data]
    assert aliased == [(3, 1)]


async def test_a_planner_that_keeps_repeating_a_call_is_stopped() -> None:
    model = ScriptedModel([plan(*[("send", {"to": "ann"})] * 16), FINISH, "done"])
    result = await Engine([send], planner=model).reason("q")
    assert SENT == ["ann"]
    assert len(result.plans[0].nodes) == 3  # the call, then two repeats in a row end the plan
    completed = next(e for e in result.trace if e.type == "plan.completed")
    assert completed.data["stopped"] == "the planner repeated a call 2 times in a row"


async def test_a_replan_that_only_repeats_finished_calls_is_not_run_again() -> None:
    replan = '{"action":"replan","reason":"send it to ann"}'
    model = ScriptedModel([plan(("send", {"to": "ann"})), replan, plan(("send", {"to": "ann"}), first=2), "sent to ann"])
    result = await Engine([send], planner=model, budget=Budget(iterations=5)).reason("q")
    assert SENT == ["ann"]
    assert result.answer == "sent to ann"
    assert result.partial == "asked to plan again (send it to ann), the planner only repeated calls already made"
    assert len(model.calls) == 4  # plan, join, replan, answer: no second join, no third plan


async def test_a_cut_off_plan_keeps_its_complete_nodes_and_a_fallback_never_reruns_them() -> None:
    cut = plan(("send", {"to": "ann"}), ("send", {"to": "bob"}))[:-30]  # ends inside node 2
    broken = ScriptedModel([cut], name="broken")
    good = ScriptedModel([plan(("send", {"to": "ann"}))], name="good")
    joiner = ScriptedModel([FINISH, "sent to ann"], name="joiner")
    result = await Engine([send], planner=[broken, good], joiner=joiner, answerer=joiner).reason("q")
    assert SENT == ["ann"] and not good.calls
    assert result.outputs == {1: "sent to ann"}
    completed = next(e for e in result.trace if e.type == "plan.completed")
    assert completed.data["nodes"] == 1 and "ModelError" in completed.data["stopped"]


async def test_explain_of_a_cut_off_plan_returns_its_complete_nodes() -> None:
    cut = plan(("send", {"to": "ann"}), ("send", {"to": "1.0.1.1.1.1.1.1.1.1"}))[:-12]
    x = await Engine([send], planner=ScriptedModel([cut])).explain("What is the temperature in Paris and in Tokyo right now?")
    assert [n.args for n in x.plan.nodes] == [{"to": "ann"}]
    assert SENT == []


async def test_an_answer_that_loops_is_stopped_and_cut_to_one_copy() -> None:
    model = ScriptedModel([plan(("send", {"to": "ann"})), FINISH, "23 times 23 is 529. " * 17])
    result = await Engine([send], planner=model).reason("q")
    assert result.answer == "23 times 23 is 529."
    completed = next(e for e in result.trace if e.type == "answer.completed")
    assert completed.data["stopped"] == "repetition"
    # what was streamed of the loop is withdrawn: after the last reset, the deltas are the answer
    kinds = [e.type for e in result.trace if e.type.startswith("answer.")]
    last = len(kinds) - 1 - kinds[::-1].index("answer.reset")
    streamed = [e.data["text"] for e in result.trace if e.type == "answer.delta"]
    assert "".join(streamed[len(streamed) - kinds[last:].count("answer.delta") :]).strip() == result.answer
    assert next(e for e in result.trace if e.type == "answer.reset").data == {"reason": "repetition"}


async def test_a_fallback_answerer_resets_what_the_first_one_streamed() -> None:
    first, second = ScriptedModel(["not JSON at all"], name="first"), ScriptedModel(['{"sent":true}'], name="second")
    engine = Engine([send], planner=ScriptedModel([plan(("send", {"to": "ann"})), FINISH]), answerer=[first, second])
    schema = {"type": "object", "properties": {"sent": {"type": "boolean"}}, "required": ["sent"]}
    result = await engine.reason("q", output=schema)
    assert result.answer == {"sent": True}
    kinds = [e.type for e in result.trace if e.type.startswith(("answer.", "model.fallback"))]
    rest = kinds[kinds.index("model.fallback") :]
    assert rest[:2] == ["model.fallback", "answer.reset"] and set(rest[2:-1]) == {"answer.delta"} and rest[-1] == "answer.completed"
    after = [e.data["text"] for e in result.trace[[e.type for e in result.trace].index("answer.reset") :] if e.type == "answer.delta"]
    assert "".join(after) == '{"sent":true}'


def test_repetition_cut_finds_loops_of_any_phase_and_leaves_normal_text_alone() -> None:
    assert repetition_cut("The answer is 4. " + "ha" * 20) == len("The answer is 4. ") + 2
    assert repetition_cut("x" + "abc, " * 7 + "ab") is not None
    assert repetition_cut("MSFT closed at 413.62 and AAPL at 242.65 (sample data).") is None
    assert repetition_cut("1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12") is None
    assert repetition_cut("Well... " + "ok ok ok") is None  # too short a span to call a loop


async def test_a_spent_time_budget_answers_from_the_results_so_far() -> None:
    model = ScriptedModel([plan(("send", {"to": "ann"}), ("sleepy", {"x": 1})), "sent to ann; the rest timed out"])
    with anyio.fail_after(10):
        result = await Engine([send, sleepy], planner=model, budget=Budget(seconds=0.5)).reason("q")
    assert result.partial == "the time budget of 0.5 s ran out before the plan finished"
    assert result.outputs == {1: "sent to ann"}
    assert result.answer == "sent to ann; the rest timed out"
    assert "The results are incomplete" in model.calls[-1].messages[-1].content


async def test_a_call_on_an_alias_repeats_the_call_on_the_node_it_aliases() -> None:
    from reasoner.planner import Node, Plan, Ref

    @tool
    async def echo(text: str) -> str:
        """Echo."""
        SENT.append(text)
        return text

    p = Plan(
        (
            Node(1, "echo", {"text": "a"}),
            Node(2, "echo", {"text": "a"}),  # repeats 1
            Node(3, "send", {"to": Ref(1)}),
            Node(4, "send", {"to": Ref(2)}),  # repeats 3: its ref is to an alias of 1
        )
    )
    result = await Engine([echo, send]).execute(p)
    assert SENT == ["a", "a"]  # one echo, one send
    assert result.outputs == {1: "a", 2: "a", 3: "sent to a", 4: "sent to a"}
