"""The real embedded SmolLM2-135M plans for the five demo tools, and the plan validates (issue 3).

The planner decodes under the engine's plan grammar (the strict schema: ids count up,
refs point backwards, ref paths exist in some tool's output), greedily, so the plan is the
same on every run of the same versions. Only validity is asserted here; whether the plan
is a good one is for the evals (reasoner.evals). The model is the engine's default planner,
``smollm2-135m``, passed in from the session fixture (the user's verified cache, or one
built in a temporary home) so that the test never writes to the user's home.
"""

from __future__ import annotations

from reasoner import Engine
from reasoner.models import TransformersModel
from reasoner.planner import validate
from reasoner.tools import ToolRegistry
from reasoner.tools.demo import DEMO_EXAMPLES, demo_tools

QUESTION = "Which three cloud providers are largest, what are their latest stock prices, and chart them"
DEMO_TOOLS = {"search", "stock_price", "chart", "calculator", "convert_units"}


# about 25 s on 2 quiet cores (a long prompt: the worked examples); not marked slow
async def test_smollm2_plans_the_demo_question_with_a_valid_plan(smollm2: TransformersModel) -> None:
    registry = ToolRegistry.of(demo_tools())
    assert set(registry.names()) == DEMO_TOOLS
    engine = Engine(registry, planner=smollm2, examples=DEMO_EXAMPLES)

    explanation = await engine.explain(QUESTION)  # plans with the model; runs no tool

    plan = explanation.plan
    print(plan.to_json())
    print(explanation)
    assert plan.nodes and [node.id for node in plan.nodes] == list(range(1, len(plan.nodes) + 1))
    assert {node.tool for node in plan.nodes} <= DEMO_TOOLS
    validate(plan, registry)  # explain validated it already; check it against a fresh registry
    assert all(target < node.id for node in plan.nodes for target in node.refs())
