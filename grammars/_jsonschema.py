"""JSON Schema checks shared by tools, plans and outputs: size limits, a linear-time
well-formedness check, and validators whose regular expressions run in linear time.

Schemas come from people we do not trust (an HTTP client's output schema, a third-party
function spec), so every check here is bounded:

* :func:`check_schema` walks the schema once, iteratively (no recursion, so no
  ``RecursionError`` however deep): at most ``max_nodes`` JSON values and ``max_depth``
  nesting, every keyword's value of the shape Draft 2020-12 requires (the metaschema's
  rules, written out: jsonschema's own meta-validation takes 0.3 s for a 3,000-node
  schema), and every ``pattern`` / ``patternProperties`` key compiled by RE2.
* Patterns run on RE2 (``google-re2``), whose time is linear in the text: ``^(a+)+$``
  cannot stall the server. RE2 has no lookaround or backreferences (no grammar backend
  has them either), so a schema using them is refused by :func:`check_schema`.
* :func:`validator_for` returns a cached Draft 2020-12 validator (with format checks)
  whose ``pattern``, ``patternProperties`` and ``additionalProperties`` use RE2.

Errors are :class:`SchemaProblem` (a ``UsageError``) with ``pointer``, the JSON pointer of
the subschema at fault, so callers can name the field.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from reasoner.errors import UsageError

__all__ = [
    "DEFAULT_LIMITS",
    "LinearValidator",
    "SchemaLimits",
    "SchemaProblem",
    "check_schema",
    "check_size",
    "linear_search",
    "resolve_pointer",
    "validator_for",
]


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    """Caps on one schema: JSON values as written, nesting depth (objects and arrays), and
    subschemas once every ``$ref`` is inlined (a schema whose definitions each refer twice to
    the next doubles at every level). Real-world tool schemas stay far below them (a large
    public hotel-booking API output schema: 2,800 values, depth 14)."""

    max_nodes: int = 50_000
    max_depth: int = 64
    max_expanded: int = 50_000
    max_pattern_chars: int = 2_000

    def __post_init__(self) -> None:
        for name in ("max_nodes", "max_depth", "max_expanded", "max_pattern_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"SchemaLimits({name}={value!r}) must be an integer >= 1")


DEFAULT_LIMITS: Final = SchemaLimits()


class SchemaProblem(UsageError):
    """A schema that is malformed or over a limit. ``pointer`` is where (``#/properties/a``)."""

    def __init__(self, message: str, *, pointer: str = "#", keyword: str | None = None) -> None:
        super().__init__(f"{message} (at {pointer})")
        self.pointer = pointer
        self.keyword = keyword
        self.reason = message


# -- the well-formedness check -------------------------------------------------------

_TYPES: Final = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_ONE: Final = frozenset(
    {"additionalItems", "additionalProperties", "contains", "contentSchema", "else", "if", "items", "not",
     "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip
_LIST: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP: Final = frozenset({"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"})
_COUNT: Final = frozenset(
    {"maxContains", "maxItems", "maxLength", "maxProperties", "minContains", "minItems", "minLength", "minProperties"}
)
_NUMBER: Final = frozenset({"exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum"})
_STRING: Final = frozenset(
    {"$anchor", "$comment", "$dynamicAnchor", "$dynamicRef", "$id", "$recursiveRef", "$ref", "$schema",
     "contentEncoding", "contentMediaType", "description", "format", "pattern", "title"}
)  # fmt: skip
_BOOL: Final = frozenset({"$recursiveAnchor", "deprecated", "readOnly", "uniqueItems", "writeOnly"})


def _pointer(parts: tuple[str | int, ...]) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve_pointer(root: Any, ref: str) -> Any:
    """The value at a local JSON pointer ``ref`` (``#``, ``#/$defs/a``, ``#/items/0``) in
    ``root``, or ``None`` when ``ref`` is not local or names nothing. The one pointer walk:
    the fragment is percent-decoded first (``#/$defs/a%20b``), as a URI fragment is."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in unquote(ref[1:]).split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return _is_number(value) and value >= 0 and float(value).is_integer()


def check_size(value: Any, limits: SchemaLimits = DEFAULT_LIMITS) -> None:
    """Raise :class:`SchemaProblem` when ``value`` has more than ``limits.max_nodes`` JSON
    values or nests deeper than ``limits.max_depth``; iterative, so safe on any input."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise SchemaProblem(f"the schema has more than {limits.max_nodes:,} JSON values; split or simplify it")
        if depth > limits.max_depth:
            raise SchemaProblem(
                f"the schema nests deeper than {limits.max_depth} levels of objects and arrays",
                pointer=_pointer(_deepest(value, limits.max_depth)),
            )
        if isinstance(item, dict):
            stack.extend([(v, depth + 1) for v in item.values()])
        elif isinstance(item, list | tuple):
            stack.extend([(v, depth + 1) for v in item])


def _deepest(value: Any, max_depth: int) -> tuple[str | int, ...]:
    """The path of a value nested deeper than ``max_depth`` (only when there is one: the
    paths are not kept while counting, which is the common, cheap case)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if len(where) >= max_depth:
            return where
        if isinstance(item, dict):
            stack.extend((v, (*where, k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return ()


def _keyword_problem(key: str, value: Any, limits: SchemaLimits) -> str | None:
    if key in _COUNT:
        return None if _is_count(value) else "must be a non-negative integer"
    if key in _NUMBER:
        return None if _is_number(value) else "must be a finite number"
    if key == "multipleOf":
        return None if _is_number(value) and value > 0 else "must be a number > 0"
    if key in _STRING:
        if not isinstance(value, str):
            return "must be a string"
        return _pattern_problem(value, limits) if key == "pattern" else None
    if key in _BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    if key == "type":
        names = value if isinstance(value, list) else [value]
        if not names or any(not isinstance(n, str) or n not in _TYPES for n in names):
            return f"must be one of {', '.join(sorted(_TYPES))}, or a non-empty list of them"
        return None if len(set(names)) == len(names) else "lists a type twice"
    if key in ("enum", "examples"):
        return None if isinstance(value, list) else "must be an array"
    if key == "required":
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            return "must be an array of property names"
        return None if len(set(value)) == len(value) else "lists a property twice"
    if key == "dependentRequired":
        ok = isinstance(value, dict) and all(
            isinstance(v, list) and all(isinstance(n, str) for n in v) for v in value.values()
        )
        return None if ok else "must map property names to arrays of property names"
    if key == "$vocabulary":
        return None if isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()) else "must map URIs to booleans"
    return None


def _pattern_problem(pattern: str, limits: SchemaLimits) -> str | None:
    if len(pattern) > limits.max_pattern_chars:
        return f"is a regular expression of {len(pattern):,} characters; the limit is {limits.max_pattern_chars:,}"
    try:
        _compiled(pattern)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return (
            f"is a regular expression the linear-time engine (RE2) cannot run ({detail}): "
            "lookaround and backreferences are not supported"
        )
    return None


def _subschemas(
    schema: dict[str, Any], where: tuple[str | int, ...], limits: SchemaLimits
) -> Iterator[tuple[Any, tuple[str | int, ...]]]:
    for key, value in schema.items():
        if key in _ONE and not (key == "items" and isinstance(value, list)):
            yield value, (*where, key)
        elif key in _LIST or key == "items":  # a list of items: the draft-4 tuple form
            if not isinstance(value, list) or (key != "items" and not value):
                raise SchemaProblem(f"{key!r} must be a non-empty array of schemas", pointer=_pointer(where), keyword=key)
            yield from ((v, (*where, key, i)) for i, v in enumerate(value))
        elif key in _MAP:
            if not isinstance(value, dict):
                raise SchemaProblem(f"{key!r} must be an object whose values are schemas", pointer=_pointer(where), keyword=key)
            if key == "patternProperties":
                for name in value:
                    problem = _pattern_problem(name, limits)
                    if problem is not None:
                        raise SchemaProblem(
                            f"the patternProperties key {name!r} {problem}", pointer=_pointer(where), keyword=key
                        )
            yield from ((v, (*where, key, k)) for k, v in value.items())
        elif key == "dependencies" and isinstance(value, dict):  # draft 7: a schema or a list of names
            yield from ((v, (*where, key, k)) for k, v in value.items() if not isinstance(v, list))


def check_schema(schema: Any, limits: SchemaLimits = DEFAULT_LIMITS, *, sized: bool = False) -> None:
    """Check that ``schema`` is a well-formed JSON Schema (Draft 2020-12, draft-7 spellings
    accepted) within ``limits``, in time linear in its size.

    Raises :class:`SchemaProblem` naming the first problem and its JSON pointer: too many
    values, too deep, a keyword whose value has the wrong shape (``minLength: "3"``,
    ``type: "text"``), or a pattern RE2 cannot run. ``sized=True``: the caller already ran
    :func:`check_size` on it.
    """
    if not sized:
        check_size(schema, limits)
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(schema, ())]
    while stack:
        node, where = stack.pop()
        if isinstance(node, bool):
            continue
        if not isinstance(node, dict):
            raise SchemaProblem(f"a schema must be an object or a boolean, got {type(node).__name__}", pointer=_pointer(where))
        for key, value in node.items():
            problem = _keyword_problem(key, value, limits)
            if problem is not None:
                raise SchemaProblem(
                    f"{key!r} {problem}, got {_shown(value)}", pointer=_pointer(where), keyword=key
                )
        stack.extend(_subschemas(node, where, limits))


# -- linear-time patterns ------------------------------------------------------------

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error is raised to us; RE2 would also print it to stderr


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def linear_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (JSON Schema's unanchored
    ``pattern`` semantics), in time linear in ``len(text)``. Raises ``re2.error`` for a
    pattern RE2 cannot run (:func:`check_schema` refuses those first)."""
    return _compiled(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not linear_search(pattern, instance):
        shown = instance if len(instance) <= 80 else instance[:77] + "..."
        yield ValidationError(f"{shown!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if linear_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in instance if k not in properties and not any(linear_search(p, k) for p in patterns)]
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif extra is False and extras:
        listed = ", ".join(repr(k) for k in sorted(extras, key=str)[:10])
        yield ValidationError(f"Additional properties are not allowed ({listed} {'was' if len(extras) == 1 else 'were'} unexpected)")


def _evaluated_keys(validator: Any, instance: Mapping[str, Any], schema: Any) -> set[str]:
    """The keys of ``instance`` that ``schema`` evaluates (what ``unevaluatedProperties``
    leaves out), as JSON Schema 2020-12 defines them: through ``$ref``, ``properties``,
    ``patternProperties`` (on RE2), ``additionalProperties``, ``unevaluatedProperties``,
    ``dependentSchemas`` and the subschemas of ``allOf``/``anyOf``/``oneOf``/``if`` that the
    instance satisfies."""
    if not isinstance(schema, Mapping):
        return set()
    keys: set[str] = set()
    for keyword in ("$ref", "$dynamicRef"):
        if isinstance(schema.get(keyword), str):
            resolved = validator._resolver.lookup(schema[keyword])
            keys |= _evaluated_keys(validator.evolve(schema=resolved.contents, _resolver=resolved.resolver), instance, resolved.contents)
    if isinstance(schema.get("properties"), Mapping):
        keys |= schema["properties"].keys() & instance.keys()
    for pattern in schema.get("patternProperties", {}) if isinstance(schema.get("patternProperties"), Mapping) else ():
        keys |= {key for key in instance if linear_search(pattern, key)}
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if keyword in schema:
            keys |= {key for key, value in instance.items() if validator.evolve(schema=schema[keyword]).is_valid(value)}
    for name, sub in (schema.get("dependentSchemas") or {}).items():
        if name in instance:
            keys |= _evaluated_keys(validator, instance, sub)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, ()):
            if validator.evolve(schema=sub).is_valid(instance):
                keys |= _evaluated_keys(validator, instance, sub)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"]) | _evaluated_keys(validator, instance, schema.get("then", {}))
        else:
            keys |= _evaluated_keys(validator, instance, schema.get("else", {}))
    return keys


def _unevaluated_properties(validator: Any, unevaluated: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    bad = [key for key in instance if key not in evaluated and not validator.evolve(schema=unevaluated).is_valid(instance[key])]
    if bad:
        listed = ", ".join(repr(k) for k in sorted(bad, key=str)[:10])
        how = "are not allowed" if unevaluated is False else "are not valid under the given schema"
        yield ValidationError(f"Unevaluated properties {how} ({listed} {'was' if len(bad) == 1 else 'were'} unexpected)")


_LINEAR = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
}
LinearValidator: Final = validators.extend(Draft202012Validator, validators=_LINEAR)
_by_draft: dict[Any, Any] = {Draft202012Validator: LinearValidator}


def _linear_class(schema: Any) -> Any:
    """The validator class for the schema's own ``$schema`` draft (2020-12 when it names
    none), with patterns on RE2."""
    base = validators.validator_for(schema, default=Draft202012Validator)
    if base not in _by_draft:
        _by_draft[base] = validators.extend(base, validators={k: v for k, v in _LINEAR.items() if k in base.VALIDATORS})
    return _by_draft[base]


@functools.lru_cache(maxsize=256)
def _cached_validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    cls = _linear_class(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validator_for(schema: dict[str, Any] | bool) -> Any:
    """A validator for ``schema`` in its own draft (``$schema``; Draft 2020-12 when absent),
    format checks on, patterns on RE2, cached by the schema's content. Call
    :func:`check_schema` on untrusted schemas first."""
    return _cached_validator(json.dumps(schema, sort_keys=True, default=repr))
