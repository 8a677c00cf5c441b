"""Typed events (one class per type, one TypeAdapter for JSON, the wire form unchanged) and
the bounded ``Engine.stream`` (a slow reader holds the run back)."""

from __future__ import annotations

import json
import time
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest
from pydantic import BaseModel

from reasoner import Engine, load_trace, save_trace, tool
from reasoner.errors import TraceError
from reasoner.events import EVENT_TYPES, EVENTS, AnswerDelta, Event, NodeCompleted, RunCompleted
from reasoner.models import ScriptedModel

FINISH = '{"action":"finish"}'
PLAN = json.dumps({"nodes": [{"id": 1, "tool": "double", "args": {"x": 21}}]})
ANSWER = "".join(f"{i:03d}," for i in range(47))  # 188 characters that never repeat


@tool
async def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number.
    """
    return 2 * x


def _engine(chunk: int = 4) -> Engine:
    return Engine(tools=[double], planner=ScriptedModel([PLAN, FINISH, ANSWER], chunk_size=chunk))


async def test_every_event_is_an_instance_of_its_own_class_with_typed_fields(tmp_path: Path) -> None:
    events = [e async for e in _engine().stream("twice 21?")]
    assert {type(e).__name__ for e in events} >= {"RunStarted", "NodeCompleted", "AnswerDelta", "RunCompleted"}
    assert all(isinstance(e, Event) and type(e) is not Event for e in events)
    done = [e for e in events if isinstance(e, NodeCompleted)]
    assert [(e.node_id, e.output) for e in done] == [(1, 42)]
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == ANSWER
    last = events[-1]
    match last:
        case RunCompleted(answer=answer):
            assert answer == ANSWER
        case _:
            pytest.fail(f"the last event is {last!r}")
    # built by type name, as the recorder and older code do, it is still the typed class
    assert type(Event("answer.delta", "r", 0, 0.0, data={"text": "x"})) is AnswerDelta


async def test_the_wire_form_is_unchanged_and_a_trace_reads_back_as_typed_events(tmp_path: Path) -> None:
    events = [e async for e in _engine().stream("twice 21?")]
    completed = next(e for e in events if e.type == "node.completed")
    wire = json.loads(completed.to_json())
    assert list(wire) == ["type", "run_id", "seq", "ts", "iteration", "node_id", "data"]
    assert wire["data"]["output"] == 42 and wire["type"] == "node.completed"
    assert "node_id" not in json.loads(events[0].to_json())  # absent, as before, when there is none
    path = tmp_path / "trace.jsonl"
    save_trace(events, str(path))
    back = load_trace(str(path))
    assert back == events and [type(e) for e in back] == [type(e) for e in events]
    assert EVENTS.validate_json(completed.to_json()) == completed
    assert set(EVENTS.json_schema()["discriminator"]["mapping"]) == EVENT_TYPES


def test_a_trace_line_of_an_unknown_type_is_a_trace_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = Event("usage", "r", 0, 0.0, data={}).to_json()
    path.write_text(good + "\n" + '{"type":"node.exploded","run_id":"r","seq":1,"ts":0}\n', encoding="utf-8")
    with pytest.raises(TraceError, match=r"bad.jsonl:2: not an event: unknown event type 'node.exploded'"):
        load_trace(str(path))


class Numbers(BaseModel):
    values: list[int]


@pytest.mark.parametrize("structured", [False, True], ids=["text", "output="])
async def test_a_slow_reader_holds_the_run_back_instead_of_buffering_every_event(structured: bool) -> None:
    # one answer.delta per character: about 190 of them, as text or as a JSON object for output=
    answer = json.dumps({"values": list(range(60))}, separators=(",", ":")) if structured else ANSWER
    engine = Engine(tools=[double], planner=ScriptedModel([PLAN, FINISH, answer], chunk_size=1))
    engine.stream_buffer = 8
    async with aclosing(engine.stream("twice 21?", output=Numbers if structured else None)) as stream:
        first = await stream.__anext__()
        await anyio.sleep(0.5)  # unbounded, the whole run would be made by now
        resumed = time.time()
        rest = [e async for e in stream]
    events = [first, *rest]
    assert events[-1].type == "run.completed" and [e.seq for e in events] == list(range(len(events)))
    assert events[-1].data["answer"] == (json.loads(answer) if structured else answer)
    deltas = [e for e in events if e.type == "answer.delta"]
    assert len(deltas) >= 180
    made_while_waiting = [e for e in events if e.ts < resumed]
    # the buffer, plus the few events made between two waits (never the answer's ~190 deltas)
    assert len(made_while_waiting) <= engine.stream_buffer + 12, len(made_while_waiting)
