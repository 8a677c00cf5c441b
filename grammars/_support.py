"""Which JSON Schema keywords each backend enforces, and the walk that checks a schema.

A keyword is *enforced* when no token sequence the backend allows can produce an instance
that violates it. Narrowing counts as enforcing (llguidance and xgrammar anchor ``pattern``,
outlines_core caps recursion depth): the grammar may accept fewer instances than the
schema, never more. Every entry below is covered by tests/grammars/.

:func:`prepare_schema` walks a schema, drops what constrains nothing (annotations, unknown
keywords) and what the backend would not enforce (recording it), closes objects that
declare ``properties`` without ``additionalProperties`` (see the package docstring), and,
for llguidance, bounds the digits of numbers that state no bounds (``|x| <= 10**15``, at
most 9 fraction digits), so every grammar it builds closes within a known length.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from reasoner.errors import GrammarError, UsageError
from reasoner.grammars._disjoint import pairwise_disjoint
from reasoner.grammars._jsonschema import resolve_pointer

__all__ = [
    "BACKENDS",
    "PreparedSchema",
    "UnenforcedKeyword",
    "prepare_schema",
    "supported_keywords",
]

BACKENDS: Final = ("llguidance", "outlines", "xgrammar")

# Keywords that constrain nothing (2020-12 annotations and identifiers).
_ANNOTATIONS: Final = frozenset(
    {
        "$anchor", "$comment", "$dynamicAnchor", "$id", "$schema", "$vocabulary",
        "contentEncoding", "contentMediaType", "contentSchema", "default", "deprecated",
        "description", "examples", "readOnly", "title", "writeOnly",
    }
)  # fmt: skip
# Keywords that hold subschemas for $ref and constrain nothing themselves.
_CONTAINERS: Final = frozenset({"$defs", "definitions"})
# Every keyword that constrains an instance (2020-12, plus the draft-7 spellings a user may
# still write, which no backend enforces). Anything else is ignored by jsonschema too.
_CONSTRAINTS: Final = frozenset(
    {
        "$dynamicRef", "$recursiveRef", "$ref", "additionalItems", "additionalProperties",
        "allOf", "anyOf", "const", "contains", "dependencies", "dependentRequired",
        "dependentSchemas", "else", "enum", "exclusiveMaximum", "exclusiveMinimum", "format",
        "if", "items", "maxContains", "maxItems", "maxLength", "maxProperties", "maximum",
        "minContains", "minItems", "minLength", "minProperties", "minimum", "multipleOf",
        "not", "oneOf", "pattern", "patternProperties", "prefixItems", "properties",
        "propertyNames", "required", "then", "type", "unevaluatedItems",
        "unevaluatedProperties", "uniqueItems",
    }
)  # fmt: skip
# Keywords whose value is one subschema / a list of subschemas / a name -> subschema map.
ONE: Final = frozenset(
    {"additionalProperties", "contains", "else", "if", "items", "not", "propertyNames", "then",
     "unevaluatedItems", "unevaluatedProperties", "additionalItems"}
)  # fmt: skip
LIST: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
MAP: Final = frozenset({"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"})

# A rule returns None when the backend enforces the keyword in this subschema, else why not.
Rule = Callable[[Any, Mapping[str, Any], "_Walk"], "str | None"]


@dataclass(frozen=True, slots=True)
class UnenforcedKeyword:
    """A schema keyword the chosen backend does not enforce (checked by jsonschema instead).

    ``pointer`` is the JSON pointer of the subschema holding it (``"#/properties/age"``).
    """

    keyword: str
    pointer: str
    reason: str

    def __str__(self) -> str:
        return f"{self.keyword!r} at {self.pointer} ({self.reason})"


@dataclass(frozen=True, slots=True)
class PreparedSchema:
    """The schema as handed to the backend, and what it will not enforce."""

    schema: dict[str, Any] | bool
    unenforced: tuple[UnenforcedKeyword, ...]


def _always(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
    return None


def _formats(allowed: frozenset[str]) -> Rule:
    def rule(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
        if value in allowed:
            return None
        return f"format {value!r} is not one of the formats this backend enforces: {', '.join(sorted(allowed))}"

    return rule


def _single_all_of(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
    if isinstance(value, list) and len(value) == 1:
        return None
    return "this backend only enforces an allOf with a single subschema (it drops sibling constraints)"


def _disjoint_one_of(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
    if isinstance(value, list) and pairwise_disjoint([walk.resolve(v) for v in value], walk.resolve):
        return None
    return (
        "grammars generate oneOf as anyOf, which is only the same when the branches are provably"
        " disjoint: different const/enum values or types, or objects told apart by a required"
        " property's const/enum values or by additionalProperties: false"
    )


def _plain_names(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
    odd = [name for name in value if json.dumps(name, ensure_ascii=False)[1:-1] != name]
    if not odd:
        return None
    return (
        f"outlines_core writes property names into its regex unescaped, so {odd[0]!r} (a quote,"
        " backslash or control character) would come out as invalid JSON; without strict the"
        " object is generated free-form (required and additionalProperties left to validation)"
    )


def _integer_multiple_of(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
    if schema.get("type") == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return None
    return "xgrammar enforces multipleOf only for an integer multipleOf on a type: integer schema"


_DESCRIBED: dict[Rule, str] = {}  # conditions of the rules made by the factories below


def _length_alone(beside: tuple[str, ...], why: str) -> Rule:
    def rule(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
        present = [k for k in beside if k in schema]
        return None if not present else f"{why} ({' and '.join(present)} here)"

    _DESCRIBED[rule] = f"only without {' or '.join(beside)} beside it"
    return rule


# xgrammar drops minLength/maxLength when pattern or format is present ({"pattern": "^[a-z]+$",
# "maxLength": 3} accepted "abcdef"); outlines_core's regex product of a format and a length
# did not finish compiling in 120 s (format: email, minLength: 30)
_XGRAMMAR_LENGTH: Final = _length_alone(("pattern", "format"), "xgrammar ignores minLength/maxLength beside pattern or format")
_OUTLINES_LENGTH: Final = _length_alone(("format",), "outlines_core cannot combine minLength/maxLength with a format in time")

# Exact regular expressions for the date formats, put in place of ``format`` for every
# backend: the backends' own date grammars accept 2023-02-29 (and xgrammar 2023-04-31).
# Years 0001-9999 (Python's date range, which jsonschema's format check uses).
_YEAR: Final = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR: Final = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE: Final = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP_YEAR}-02-29)"
)
_TIME: Final = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
EXACT_FORMATS: Final[Mapping[str, str]] = MappingProxyType({"date": f"^{_DATE}$", "date-time": f"^{_DATE}T{_TIME}$"})


def _typed(kind: str, rule: Rule = _always) -> Rule:
    """xgrammar applies a type's keywords only beside a ``type`` that names the type: without
    one ({"maxLength": 2}) it generates any value, longer strings included."""
    kinds = {"number": ("number", "integer")}.get(kind, (kind,))

    def typed(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
        declared = schema.get("type")
        names = declared if isinstance(declared, list) else [declared]
        if not any(k in names for k in kinds):
            return f"xgrammar ignores this keyword unless type: {kind} is declared beside it"
        return rule(value, schema, walk)

    inner = _DESCRIBED.get(rule, "")
    _DESCRIBED[typed] = f"only beside type: {kind}" + (f", and {inner.removeprefix('only ')}" if inner else "")
    return typed


_SIBLING_CONSTRAINTS: Final = ("type", "enum", "const", "minItems", "maxItems", "minLength", "maxLength", "pattern",
                               "properties", "required", "items", "minimum", "maximum", "format", "anyOf", "allOf", "oneOf")  # fmt: skip


def _plain_ref(local_only: bool) -> Rule:
    """xgrammar and outlines_core drop the keywords beside a ``$ref``; xgrammar resolves only
    JSON pointers into the schema (not anchors or other documents)."""

    def rule(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
        beside = [k for k in _SIBLING_CONSTRAINTS if k in schema]
        if beside:
            return f"this backend ignores keywords beside a $ref ({', '.join(beside)} here)"
        if local_only and not (isinstance(value, str) and value.startswith("#/")):
            return "xgrammar resolves only local JSON-pointer refs (#/$defs/Name), not anchors or other documents"
        return None

    _DESCRIBED[rule] = "only without other keywords beside it" + (", to a local #/ pointer" if local_only else "")
    return rule


def _items_alone(value: Any, schema: Mapping[str, Any], walk: _Walk) -> str | None:
    declared = schema.get("type")
    typed = declared == "array" or (isinstance(declared, list) and "array" in declared)
    if "prefixItems" in schema and not typed:
        return "outlines_core ignores items beside prefixItems without type: array (items: false let a longer array through)"
    return None


_DESCRIBED[_items_alone] = "beside prefixItems only with type: array"


_STRUCTURAL: Final[dict[str, Rule]] = {
    kw: _always
    for kw in (
        "$ref", "additionalProperties", "anyOf", "const", "enum", "items", "maxItems",
        "maxLength", "minItems", "minLength", "pattern", "prefixItems", "properties",
        "required", "type",
    )
}  # fmt: skip
_NUMERIC: Final[dict[str, Rule]] = {
    kw: _always for kw in ("exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum")
}
_OBJECT_SIZE: Final[dict[str, Rule]] = {kw: _always for kw in ("maxProperties", "minProperties")}

_RULES: Final[Mapping[str, Mapping[str, Rule]]] = MappingProxyType(
    {
        # llguidance refuses what it cannot do (allOf intersections it cannot build, regex
        # features): those become GrammarError too.
        "llguidance": {
            **_STRUCTURAL,
            **_NUMERIC,
            **_OBJECT_SIZE,
            "allOf": _always,
            "oneOf": _disjoint_one_of,
            "multipleOf": _always,
            "patternProperties": _always,
            "format": _formats(
                frozenset({"date", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "time", "uuid"})
            ),
        },
        # measured against the JSON-Schema-Test-Suite (scripts/schema_conformance.py): a
        # type's keywords need the type beside them, a $ref no siblings
        "xgrammar": {
            **_STRUCTURAL,
            **{kw: _typed("number") for kw in _NUMERIC},
            **{kw: _typed("object") for kw in (*_OBJECT_SIZE, "properties", "required", "additionalProperties")},
            **{kw: _typed("array") for kw in ("minItems", "maxItems", "prefixItems")},
            "items": _typed("array"),
            "pattern": _typed("string"),
            "minLength": _typed("string", _XGRAMMAR_LENGTH),
            "maxLength": _typed("string", _XGRAMMAR_LENGTH),
            "$ref": _plain_ref(local_only=True),
            "allOf": _single_all_of,
            "oneOf": _disjoint_one_of,
            "multipleOf": _integer_multiple_of,
            # not ipv4: xgrammar accepts leading zeros ("01.2.3.4")
            "format": _typed(
                "string", _formats(frozenset({"date", "date-time", "duration", "email", "hostname", "time", "uuid"}))
            ),
        },
        # outlines_core turns the schema into one regex: numeric bounds, multipleOf and
        # maxProperties are dropped silently, so they are refused here.
        "outlines": {
            **_STRUCTURAL,
            "items": _items_alone,
            "$ref": _plain_ref(local_only=False),
            "minLength": _OUTLINES_LENGTH,
            "maxLength": _OUTLINES_LENGTH,
            "properties": _plain_names,
            "allOf": _single_all_of,
            "oneOf": _disjoint_one_of,
            "format": _formats(frozenset({"date", "date-time", "email", "time", "uuid"})),
        },
    }
)

_NOTES: Final[Mapping[str, Mapping[str, str]]] = {
    "outlines": {
        "minimum": "outlines_core ignores numeric bounds",
        "maximum": "outlines_core ignores numeric bounds",
        "exclusiveMinimum": "outlines_core ignores numeric bounds",
        "exclusiveMaximum": "outlines_core ignores numeric bounds",
        "multipleOf": "outlines_core ignores multipleOf",
        "maxProperties": "outlines_core ignores maxProperties",
    },
}

_CONDITIONS: Final[Mapping[Rule, str]] = {
    _single_all_of: "only an allOf with a single subschema",
    _disjoint_one_of: "only when the branches are provably disjoint",
    _integer_multiple_of: "only an integer multipleOf on a type: integer schema",
    _plain_names: "only names that need no JSON escape (no quote, backslash or control character)",
}


def _check_backend(backend: str) -> Mapping[str, Rule]:
    try:
        return _RULES[backend]
    except KeyError:
        raise UsageError(f"unknown grammar backend {backend!r}; choose one of {', '.join(BACKENDS)}") from None


def supported_keywords(backend: str = "llguidance") -> Mapping[str, str]:
    """The JSON Schema keywords ``backend`` enforces, each mapped to its condition.

    The condition is ``""`` when the keyword is enforced in every form, else a short text
    (``"only when the branches are provably disjoint"``). A format keyword lists its formats.
    Annotations (``title``, ``description``, ``default``, ...) and ``$defs`` constrain
    nothing and are accepted by every backend. Raises ``UsageError`` for an unknown backend.
    """
    rules = _check_backend(backend)
    out: dict[str, str] = {}
    for keyword in sorted(rules):
        rule = rules[keyword]
        if keyword == "format":
            formats = sorted(
                f for f in ("date", "date-time", "duration", "email", "hostname", "ipv4", "ipv6", "time", "uuid")
                if rule(f, {"type": "string"}, _Walk({})) is None
            )  # fmt: skip
            out[keyword] = "formats: " + ", ".join(formats)
        else:
            out[keyword] = _CONDITIONS.get(rule) or _DESCRIBED.get(rule, "")
    return MappingProxyType(out)


def prepare_schema(schema: dict[str, Any] | bool, backend: str) -> PreparedSchema:
    """The backend's copy of ``schema`` and the keywords it would not enforce.

    Unenforced keywords are removed from the copy (so the grammar only ever widens on
    them, and jsonschema validation catches the rest); annotations and unknown keywords
    are removed too; objects with ``properties`` and no ``additionalProperties`` are closed.
    """
    rules = _check_backend(backend)
    walk = _Walk(schema if isinstance(schema, dict) else {}, bound_numbers=backend in _UNBOUNDED_NUMBERS)
    out = walk.prepare(schema, "#", rules, _NOTES.get(backend, {}), in_all_of=False)
    return PreparedSchema(out, tuple(walk.unenforced))


class _Walk:
    def __init__(self, root: Mapping[str, Any], *, bound_numbers: bool = False) -> None:
        self.root = root
        self.unenforced: list[UnenforcedKeyword] = []
        self.bound_numbers = bound_numbers

    def resolve(self, sub: Any, depth: int = 0) -> Any:
        """Follow a local ``$ref`` (for the oneOf disjointness proof); other refs stay as is."""
        while isinstance(sub, dict) and isinstance(sub.get("$ref"), str) and depth < 32:
            target = resolve_pointer(self.root, sub["$ref"])
            if target is None:
                return sub
            sub, depth = target, depth + 1
        return sub

    def prepare(
        self, sub: Any, pointer: str, rules: Mapping[str, Rule], notes: Mapping[str, str], *, in_all_of: bool
    ) -> Any:
        if isinstance(sub, bool):
            return sub
        if not isinstance(sub, dict):
            parts = pointer.split("/")
            keyword = parts[-1] if parts[-1] in ONE | LIST else parts[-2] if len(parts) > 2 else None
            raise GrammarError(
                f"not a valid JSON Schema: {pointer} is {sub!r:.80}, not an object or a boolean",
                keyword=keyword,
                pointer=pointer,
            )
        out: dict[str, Any] = {}
        exact = EXACT_FORMATS.get(sub["format"]) if isinstance(sub.get("format"), str) else None
        if exact is not None and "pattern" not in sub:
            # the same constraint, exactly (format applies to strings only, as pattern does)
            sub = {**{k: v for k, v in sub.items() if k != "format"}, "pattern": exact}
        for key, value in sub.items():
            if key in _ANNOTATIONS or (key not in _CONSTRAINTS and key not in _CONTAINERS):
                continue
            _check_value(key, value, pointer)
            if key in _COUNTS and isinstance(value, float) and value.is_integer():
                value = int(value)  # 2.0 is an integer to JSON Schema; backends want 2
            if key in _CONSTRAINTS:
                rule = rules.get(key)
                reason = (
                    notes.get(key, f"this backend does not implement {key!r}")
                    if rule is None
                    else rule(value, sub, self)
                )
                if reason is not None:
                    if key == "oneOf" and "anyOf" not in sub:
                        # the closest the grammar can come: one branch or more
                        out["anyOf"] = self._children(key, value, pointer, rules, notes)
                        reason += "; generated as anyOf"
                    self.unenforced.append(UnenforcedKeyword(key, pointer, reason))
                    continue
            out[key] = self._children(key, value, pointer, rules, notes)
        if "properties" in sub and "properties" not in out:
            # the properties could not be enforced: generate any object, validate the rest
            for key in ("required", "additionalProperties", "minProperties", "maxProperties"):
                out.pop(key, None)
        if self.bound_numbers:
            _bound_digits(out)
        has_properties = "properties" in out or "patternProperties" in out
        closable = not in_all_of and "additionalProperties" not in out and "unevaluatedProperties" not in sub
        if has_properties and closable:
            out["additionalProperties"] = False
        return out

    def _children(self, key: str, value: Any, pointer: str, rules: Mapping[str, Rule], notes: Mapping[str, str]) -> Any:
        here = f"{pointer}/{_escape(key)}"
        if key in ONE:
            return self.prepare(value, here, rules, notes, in_all_of=False)
        if key in LIST and isinstance(value, list):
            in_all_of = key == "allOf"
            return [self.prepare(v, f"{here}/{i}", rules, notes, in_all_of=in_all_of) for i, v in enumerate(value)]
        if key in MAP and isinstance(value, dict):
            return {
                name: self.prepare(v, f"{here}/{_escape(name)}", rules, notes, in_all_of=False)
                for name, v in value.items()
            }
        return value


# llguidance lets a JSON number run to any number of digits (even between minimum and
# maximum, it does not bound the fraction), so a model can write digits until its token
# budget ends. Its numbers are narrowed to |x| <= 10**15 with at most 9 fraction digits
# (no exponent): a bound no real argument meets, and a grammar that always closes.
_UNBOUNDED_NUMBERS: Final = frozenset({"llguidance"})
NUMBER_LIMIT: Final = 10**15
NUMBER_STEP: Final = 1e-9


def _bound_digits(out: dict[str, Any]) -> None:
    """Add digit bounds to a numeric subschema that has none (in place)."""
    types = out.get("type")
    kinds = {types} if isinstance(types, str) else set(types) if isinstance(types, list) else set()
    if not kinds & {"number", "integer"} or "const" in out or "enum" in out:
        return
    if "minimum" not in out and "exclusiveMinimum" not in out:
        out["minimum"] = -NUMBER_LIMIT
    if "maximum" not in out and "exclusiveMaximum" not in out:
        out["maximum"] = NUMBER_LIMIT
    if "number" in kinds and "multipleOf" not in out:
        out["multipleOf"] = NUMBER_STEP


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# ---- keyword values ----------------------------------------------------------------
# A light stand-in for the 2020-12 metaschema (which takes ~0.3 s on a 50-tool plan schema
# in jsonschema): the value shapes of the keywords a grammar is built from. The full
# metaschema check runs once per schema in validate_instance.

_TYPES: Final = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_COUNTS: Final = frozenset(
    {"maxContains", "maxItems", "maxLength", "maxProperties", "minContains", "minItems", "minLength", "minProperties"}
)
_NUMBERS: Final = frozenset({"exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"})
_STRINGS: Final = frozenset({"$ref", "$dynamicRef", "format", "pattern"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_problem(key: str, value: Any) -> str | None:
    if key == "type":
        names = [value] if isinstance(value, str) else value
        ok = isinstance(names, list) and bool(names) and all(isinstance(t, str) and t in _TYPES for t in names)
        return None if ok else f"must be one of {', '.join(sorted(_TYPES))} or a list of them"
    if key in _COUNTS:
        ok = _is_number(value) and value >= 0 and float(value).is_integer()
        return None if ok else "must be a non-negative integer"
    if key in _NUMBERS:
        ok = _is_number(value) and (key != "multipleOf" or value > 0)
        return None if ok else ("must be a number > 0" if key == "multipleOf" else "must be a number")
    if key in _STRINGS:
        return None if isinstance(value, str) else "must be a string"
    if key in ("required",):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of property names"
    if key == "enum":
        return None if isinstance(value, list) else "must be a list of values"
    if key == "uniqueItems":
        return None if isinstance(value, bool) else "must be true or false"
    if key in ONE:
        return None if isinstance(value, dict | bool) else "must be a schema (an object or a boolean)"
    if key in LIST:
        ok = isinstance(value, list) and bool(value) and all(isinstance(v, dict | bool) for v in value)
        return None if ok else "must be a non-empty list of schemas"
    if key in MAP:
        ok = isinstance(value, dict) and all(isinstance(v, dict | bool) for v in value.values())
        return None if ok else "must map names to schemas"
    return None


def _check_value(key: str, value: Any, pointer: str) -> None:
    problem = _value_problem(key, value)
    if problem is not None:
        raise GrammarError(
            f"not a valid JSON Schema: {key!r} at {pointer} {problem}, got {value!r:.80}; fix the schema",
            keyword=key,
            pointer=pointer,
        )
