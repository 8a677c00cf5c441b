"""jsonschema (Draft 2020-12) validation of decoded output: the check that runs whatever the backend."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema.exceptions import best_match

from reasoner.errors import GrammarError, ModelError
from reasoner.grammars._jsonschema import SchemaProblem, check_schema, validator_for

__all__ = ["validate_instance"]


def validate_instance(text_or_obj: str | bytes | Any, schema: dict[str, Any] | bool, *, source: str = "decoded output") -> Any:
    """Parse (when given text) and validate a decoded instance against ``schema``; return it.

    The one validator of model output (grammar-decoded or not; ``models.validate_output``
    calls it). Text is parsed as strict JSON (no NaN/Infinity, no raw control characters in
    strings). Validation is jsonschema Draft 2020-12 with format checking for the formats
    jsonschema knows, patterns on RE2, the schema checked once and its validator cached.
    Raises ``ModelError`` whose message starts with ``source`` and names the JSON path
    (``$.nodes[0].args``) and the problem, for text that is not JSON or an instance that
    does not fit; raises ``GrammarError`` for a schema that is not a valid 2020-12 schema.
    """
    if isinstance(text_or_obj, str | bytes | bytearray):
        try:
            instance = json.loads(text_or_obj, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ModelError(f"{source} is not JSON ({exc}): {_clip(text_or_obj)}") from exc
    else:
        instance = text_or_obj
    validator = _validator(json.dumps(schema, sort_keys=True))
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise ModelError(
            f"{source} does not match the schema at {error.json_path}: {error.message}"
            f" (schema keyword {error.validator!r})"
        )
    return instance


@functools.lru_cache(maxsize=128)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    try:
        check_schema(schema)
    except SchemaProblem as exc:
        raise GrammarError(f"not a valid JSON Schema (Draft 2020-12): {exc}; fix the schema", keyword=exc.keyword) from exc
    return validator_for(schema)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _clip(text: str | bytes | bytearray, limit: int = 200) -> str:
    shown = text if isinstance(text, str) else bytes(text).decode("utf-8", "replace")
    return repr(shown if len(shown) <= limit else shown[:limit] + "...")
