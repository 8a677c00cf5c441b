"""The planner prompt: brief parameter docs, no worked examples by default, and short."""

from __future__ import annotations

from typing import Any

from reasoner.planner._prompts import brief, plan_messages, planner_system
from reasoner.tools import ToolRegistry, tool
from reasoner.tools.demo import DEMO_EXAMPLES, demo_tools

# issue 10: the tuned adapter is trained on this prompt; it must fit in 350 SmolLM2 tokens
PROMPT_TOKEN_LIMIT = 350


def _prompt_tokens(tokenizer: Any, question: str) -> int:
    messages = plan_messages(question, ToolRegistry.of(demo_tools()))
    dicts = [{"role": m.role, "content": m.content} for m in messages]
    text = tokenizer.apply_chat_template(dicts, tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_the_demo_planner_prompt_fits_in_350_smollm2_tokens(smollm2_tokenizer: Any) -> None:
    question = "Which three cloud providers are largest, what are their latest stock prices, and chart them"
    assert _prompt_tokens(smollm2_tokenizer, question) <= PROMPT_TOKEN_LIMIT


def test_parameter_descriptions_reach_the_prompt_briefly() -> None:
    system = planner_system(ToolRegistry.of(demo_tools()))
    assert 'ticker: Stock symbol, e.g. "MSFT"' in system
    assert "date?: Trading day as YYYY-MM-DD" in system
    assert "value: The number to convert" in system
    assert "company names" not in system  # the rest of a long doc is cut


def test_a_parameter_without_a_doc_shows_its_type() -> None:
    @tool
    def lookup(code: str, limit: int = 3) -> list[str]:
        """Look a code up.

        Args:
            code: The code to look up.
        """
        return [code] * limit

    system = planner_system(ToolRegistry.of([lookup]))
    assert "- lookup(code: The code to look up; limit?: integer) -> list[string]: Look a code up" in system


def test_the_default_prompt_has_no_worked_examples_and_examples_are_opt_in() -> None:
    registry = ToolRegistry.of(demo_tools())
    plain = plan_messages("What is 2+2?", registry)
    assert [m.role for m in plain] == ["system", "user"]
    shown = plan_messages("What is 2+2?", registry, examples=DEMO_EXAMPLES)
    assert [m.role for m in shown] == ["system"] + ["user", "assistant"] * len(DEMO_EXAMPLES) + ["user"]
    assert shown[0] == plain[0] and shown[-1] == plain[-1]


def test_brief_keeps_the_first_sentence_and_never_cuts_inside_a_quote() -> None:
    assert brief("Closing price. Second sentence.", 60) == "Closing price"
    assert brief("Trading day as YYYY-MM-DD; omit for the latest close.", 60) == "Trading day as YYYY-MM-DD"
    assert brief('A few keywords, e.g. "largest cloud providers".', 30) == "A few keywords"
    assert brief("Version 1.5 of the thing", 60) == "Version 1.5 of the thing"
    assert len(brief("word " * 40, 32)) <= 32
