"""Checked by `make lint` (mypy --strict), never run: a user's code against the public API."""

from __future__ import annotations

from pydantic import BaseModel

from reasoner import Engine, Plan, RunResult, reason, tool


class Price(BaseModel):
    ticker: str
    close: float


@tool
def stock_price(ticker: str) -> Price:
    """Latest closing price for a ticker.

    Args:
        ticker: Exchange symbol, e.g. "MSFT".
    """
    return Price(ticker=ticker, close=1.0)


async def main() -> str:
    engine = Engine(tools=[stock_price])
    result: RunResult = await engine.reason("What is MSFT's price?")
    plan: Plan | None = (await engine.explain("What is MSFT's price?")).plan
    del plan
    return str(result.answer) + str(reason("What is AAPL's price?", tools=[stock_price]).answer)


def grouped() -> str:
    from reasoner import ExecutionPolicy, ModelSettings, Roles
    from reasoner.events import AnswerDelta, NodeCompleted

    engine = Engine(tools=[stock_price], roles=Roles(planner="smollm2-135m"), policy=ExecutionPolicy(default_retries=2))
    del engine
    result = reason("q", tools=[stock_price], model_settings=ModelSettings(temperature=0.2), max_plan_nodes=8)
    texts = [e.text for e in result.trace if isinstance(e, AnswerDelta)]
    outputs = [e.output for e in result.trace if isinstance(e, NodeCompleted)]
    return "".join(texts) + str(outputs) + "".join(str(e) for e in result.errors.values())
