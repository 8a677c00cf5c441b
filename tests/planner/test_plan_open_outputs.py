"""Refs into a spec tool's output schema: open where the schema is silent, closed where it says so."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from reasoner.errors import PlanError
from reasoner.planner import Node, Plan, Ref, validate
from reasoner.tools import ToolRegistry, ToolSpec, tool


class Hotel(BaseModel):
    name: str


def fn(**kwargs: Any) -> Any:
    return {}


def spec(name: str, output: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "parameters": {"type": "object", "properties": {}}, "output_schema": output}


@tool
def show(value: str) -> str:
    """Show a value.

    Args:
        value: what to show.
    """
    return value


def registry(output: dict[str, Any]) -> ToolRegistry:
    return ToolRegistry.of([ToolSpec.from_schema(spec("hotel", output), fn), show])


def plan(path: str) -> Plan:
    return Plan([Node(1, "hotel", {}), Node(2, "show", {"value": Ref(1, path)})])


def test_a_ref_to_a_field_an_incomplete_output_schema_does_not_list_is_allowed() -> None:
    incomplete = {"type": "object", "properties": {"name": {"type": "string"}}}  # inferred from samples, say
    validate(plan("address"), registry(incomplete))  # was: "has no 'address'"
    assert "additionalProperties" not in registry(incomplete)["hotel"].output_schema


def test_a_closed_output_schema_still_refuses_unknown_fields() -> None:
    closed = {"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": False}
    with pytest.raises(PlanError, match="has no 'address'"):
        validate(plan("address"), registry(closed))


def test_python_tools_outputs_are_exact() -> None:
    @tool
    def hotel() -> Hotel:
        """A hotel."""
        return Hotel(name="x")

    with pytest.raises(PlanError, match="has no 'address'"):
        validate(plan("address"), ToolRegistry.of([hotel, show]))


def test_name_replaces_the_specs_own_name_before_it_is_checked() -> None:
    odd = {"name": "get-hotel info!", "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(Exception, match="name"):
        ToolSpec.from_schema(odd, fn)
    assert ToolSpec.from_schema(odd, fn, name="get_hotel_info").name == "get_hotel_info"  # as the error advises
