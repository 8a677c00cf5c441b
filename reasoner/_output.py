"""The answer's schema for ``output=``: a type's or a JSON Schema dict's, closed on request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from reasoner.errors import UsageError
from reasoner.grammars._jsonschema import SchemaProblem, check_schema
from reasoner.tools._jsonschema import RecursiveSchema, inline_refs

__all__ = ["close_objects", "output_schema"]


def output_schema(output: Any) -> tuple[TypeAdapter[Any], dict[str, Any]]:
    """The adapter and JSON Schema the answer is decoded under, for ``output=``.

    ``output`` is a type (its JSON Schema as pydantic writes it: a model with
    ``extra="forbid"`` is closed to extra keys, another is not) or a JSON Schema dict (used
    as given, local ``$ref``s inlined; the answer is then the plain JSON value, validated with
    jsonschema); :func:`close_objects` makes one strict. A local model's grammar generates
    only the properties an object declares, so its answers fit either way. Raises
    UsageError for an invalid or recursive schema.
    """
    if isinstance(output, Mapping):
        return TypeAdapter(Any), _inline(dict(output))
    adapter: TypeAdapter[Any] = TypeAdapter(output)
    return adapter, adapter.json_schema()


def close_objects(schema: Any) -> Any:
    """A copy of ``schema`` where every object with ``properties`` and no word on other keys
    is closed to them (``additionalProperties: false``): the ``strict`` of OpenAI's
    structured outputs."""
    if isinstance(schema, list):
        return [close_objects(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: close_objects(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out and "unevaluatedProperties" not in out:
        out["additionalProperties"] = False
    return out


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    try:
        check_schema(schema)  # linear time, no recursion: a hostile schema is refused, not expanded
    except SchemaProblem as exc:
        raise UsageError(f"output schema is not a valid JSON Schema: {exc}") from exc
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    body = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    try:
        return inline_refs(body, defs, root=schema)
    except SchemaProblem as exc:
        raise UsageError(f"output schema is too large: {exc}") from exc
    except RecursiveSchema as exc:
        raise UsageError(f"output schema: definition {exc.name!r} refers to itself; bound the nesting, a grammar cannot decode a recursive schema") from exc
    except KeyError as exc:
        raise UsageError(f"output schema: $ref {exc.args[0]!r} points nowhere; only local refs (#/$defs/Name) are supported") from exc
