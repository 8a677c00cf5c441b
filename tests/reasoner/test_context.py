"""Context discipline: observations fit a token cap in the model's own tokenizer (large
outputs summarised by shape), and every prompt is checked against the model's context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from reasoner import Engine, tool
from reasoner.errors import ModelError
from reasoner.models import Message, ScriptedModel
from reasoner.planner._prompts import summarize

FINISH = '{"action":"finish"}'
PLAN = '{"nodes":[{"id":1,"tool":"dump","args":{"n":5000}}]}'


@tool
def dump(n: int) -> dict[str, Any]:
    """A large output."""
    return {"rows": [{"id": i, "name": f"row {i}", "tags": ["a", "b"]} for i in range(n)], "total": n}


class Counting(ScriptedModel):
    """A scripted model that tells its limits: two characters a token."""

    def __init__(self, responses: list[str], context_length: int | None = None, name: str = "scripted") -> None:
        super().__init__(responses, name=name)
        self.context_length = context_length

    def count_text(self, text: str) -> int:
        return len(text) // 2

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content) for m in messages) // 2


def test_summaries_show_keys_lengths_and_first_items() -> None:
    text = summarize(dump(5000), 200)
    assert len(text) <= 260
    assert text.startswith('{"rows":[{"id":0,') and "5000 items in all" in text and '"total":5000' in text
    assert summarize("x" * 900, 50).endswith('..." (900 chars)')
    assert summarize({"a": 1}, 50) == '{"a":1}'


async def test_observations_fit_the_token_cap_in_the_models_tokenizer() -> None:
    model = Counting([PLAN, FINISH, "5000 rows"])
    await Engine([dump], planner=model, max_observation_tokens=120).reason("How many rows?")
    joiner_prompt = model.calls[1].messages[-1].content
    results = joiner_prompt.split("Results:\n", 1)[1]
    assert model.count_text(results) <= 120
    assert "5000 items in all" in results and '"total":5000' in results


async def test_a_prompt_over_the_context_is_a_clear_error() -> None:
    model = Counting([PLAN], context_length=500)
    with pytest.raises(ModelError, match=r"the planner prompt is \d+ tokens for model 'scripted', which leaves 0 of its 500-token context.*shorten the question"):
        await Engine([dump], planner=model).reason("How many rows? " * 100)


async def test_a_reply_is_shortened_to_what_the_context_has_left() -> None:
    model = Counting([PLAN, FINISH, "5000 rows"], context_length=1000)
    await Engine([dump], planner=model, max_observation_tokens=100).reason("How many rows?")
    prompt = model.count_tokens(model.calls[0].messages)
    assert model.calls[0].options.max_tokens == 1000 - prompt < 1024


async def test_a_planner_call_cut_short_still_counts_its_prompt() -> None:
    # the loop stops reading a plan that repeats one call; the model never sends its usage
    repeat = '{"id":%d,"tool":"dump","args":{"n":1}}'
    plan = '{"nodes":[' + ",".join(repeat % i for i in range(1, 6)) + "]}"
    planner = Counting([plan], context_length=4000, name="planner")
    rest = Counting([FINISH, "1 row"], context_length=4000)
    result = await Engine([dump], planner=planner, joiner=rest, answerer=rest).reason("How many rows?")
    prompt = planner.count_tokens(planner.calls[0].messages)
    assert prompt > 0 and result.usage["planner"].calls == 1
    assert result.usage["planner"].prompt_tokens == prompt
