"""Naming a backend's refusal: which keyword of the schema it is about, and where.

A backend that cannot compile a schema says so in its own words ("Anchor 'foo' does not
exist", "Schema 'false' cannot accept any value", an outlines_core regex error), often
without a JSON pointer and sometimes without a keyword. :func:`named_refusal` reads the
keyword from the message (the phrases each backend is known to use, else a keyword it
quotes) and finds the subschema it is about in the schema as written: the first one
holding that keyword, preferring one whose value the message quotes (a ``$ref`` target, a
pattern). When the message names no keyword, the keywords the backend is known to
struggle with are tried in order of how often they are the cause (a guess, said as one: the
backend's words stay in the message). A keyword that no subschema holds came in through a
``$ref`` to another document (llguidance knows the metaschemas): the refusal names that
``$ref``; failing that, the usual suspects are tried too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

from reasoner.errors import GrammarError

__all__ = ["keyword_in", "named_refusal", "subschemas"]

_ONE: Final = frozenset(
    {"additionalItems", "additionalProperties", "contains", "else", "if", "items", "not", "propertyNames",
     "then", "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip
_LIST: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
_MAP: Final = frozenset({"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"})

# (phrase in a backend's message, the keyword it is about), first match wins
_PHRASES: Final = (
    ("Unknown format", "format"),
    ("patternProperty", "patternProperties"),
    ("Regex", "pattern"),
    ("regex", "pattern"),
    ("enum array must not be empty", "enum"),
    ("anyOf is empty", "enum"),
    ("Schema 'false'", "false"),
    ("Invalid reference path", "$ref"),
    ("External references", "$ref"),
    ("Ref recusion limit", "$ref"),  # (sic: outlines_core's spelling)
    ("cannot accept any value", "false"),
    ("$dynamicRef", "$dynamicRef"),
    ("Anchor ", "$ref"),
    ("Resource ", "$ref"),
    ("$ref", "$ref"),
    ("too many digits", "multipleOf"),
)
# keywords a message may quote, most specific first ("patternProperties" before "pattern")
_QUOTED: Final = (
    "patternProperties", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "propertyNames",
    "dependentSchemas", "dependentRequired", "prefixItems", "multipleOf", "uniqueItems", "minContains",
    "maxContains", "contains", "oneOf", "allOf", "anyOf", "format", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "minProperties",
    "maxProperties", "required", "enum", "const", "not", "if", "items", "properties",
)  # fmt: skip
# when a message names nothing: what the backends most often fail on, in that order
_USUAL_SUSPECTS: Final = ("pattern", "patternProperties", "format", "false", "oneOf", "allOf", "anyOf", "enum", "$ref")


def keyword_in(message: str) -> str | None:
    """The JSON Schema keyword a backend's error message is about, or None."""
    if "Unimplemented keys:" in message:
        rest = message.split("Unimplemented keys:", 1)[1]
        names = [part.strip(" []\"'") for part in rest.split(",")]
        return names[0] or None
    for phrase, keyword in _PHRASES:
        if phrase in message:
            return keyword
    for keyword in _QUOTED:
        if f"'{keyword}'" in message or f'"{keyword}"' in message or f" {keyword} " in f" {message} ":
            return keyword
    return None


def subschemas(schema: Any, pointer: str = "#") -> Iterator[tuple[str, Any]]:
    """Every subschema of ``schema`` with its JSON pointer, ``schema`` itself first (preorder)."""
    stack: list[tuple[str, Any]] = [(pointer, schema)]
    while stack:
        where, node = stack.pop()
        yield where, node
        if not isinstance(node, dict):
            continue
        children: list[tuple[str, Any]] = []
        for key, value in node.items():
            at = f"{where}/{_escape(key)}"
            if key in _ONE and isinstance(value, dict | bool):
                children.append((at, value))
            elif key in _LIST and isinstance(value, list):
                children.extend((f"{at}/{i}", v) for i, v in enumerate(value) if isinstance(v, dict | bool))
            elif key in _MAP and isinstance(value, dict):
                children.extend((f"{at}/{_escape(k)}", v) for k, v in value.items() if isinstance(v, dict | bool))
        stack.extend(reversed(children))


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _holders(schema: Any, keyword: str) -> list[tuple[str, Any]]:
    if keyword in ("true", "false"):
        wanted = keyword == "true"
        return [(where, node) for where, node in subschemas(schema) if node is wanted]
    return [(where, node[keyword]) for where, node in subschemas(schema) if isinstance(node, dict) and keyword in node]


def _quoted(value: Any, message: str) -> bool:
    if isinstance(value, str):
        tail = value.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        return value in message or (len(tail) > 1 and f"'{tail}'" in message)
    if isinstance(value, dict):
        return any(isinstance(k, str) and len(k) > 1 and k in message for k in value)
    return False


def locate(schema: Any, keyword: str, message: str) -> str | None:
    """The pointer of the subschema holding ``keyword`` that ``message`` is most likely about."""
    holders = _holders(schema, keyword)
    for where, value in holders:
        if _quoted(value, message):
            return where
    return holders[0][0] if holders else None


_STRUCTURE: Final = "Unsupported JSON Schema structure "  # outlines_core, then the subschema as JSON


def _quoted_structure(schema: Any, message: str) -> tuple[str, str] | None:
    """(keyword, pointer) of the subschema outlines_core quotes as unsupported."""
    try:
        quoted, _ = json.JSONDecoder().raw_decode(message, message.index(_STRUCTURE) + len(_STRUCTURE))
    except ValueError:
        return None
    if isinstance(quoted, bool):
        keyword = "true" if quoted else "false"
    elif isinstance(quoted, dict) and quoted:
        keyword = next(iter(quoted))
    else:
        return None
    for where, node in subschemas(schema):
        if node == quoted and type(node) is type(quoted):
            return keyword, where
    pointer = locate(schema, keyword, message)
    return None if pointer is None else (keyword, pointer)


def named_refusal(exc: GrammarError, schema: Any) -> GrammarError:
    """``exc`` with its keyword and JSON pointer set (and the pointer in its message).

    ``schema`` is the schema the backend was given (pointers are the same as in the schema
    as written: only annotations and unenforced keywords were dropped). ``keyword`` is
    ``"true"``/``"false"`` for a boolean subschema the backend cannot use. The error is
    returned unchanged when it already names both, or when no subschema holds any keyword
    it could be about.
    """
    if exc.keyword is not None and exc.pointer is not None:
        return exc
    message = str(exc)
    found = _quoted_structure(schema, message) if _STRUCTURE in message else None
    keyword = exc.keyword or keyword_in(message)
    if found is None and keyword is not None:
        pointer = locate(schema, keyword, message)
        found = None if pointer is None else (keyword, pointer)
    if found is None:  # about something a non-local $ref brings in (a metaschema), not written here
        remote = [where for where, ref in _holders(schema, "$ref") if isinstance(ref, str) and not ref.startswith("#")]
        found = ("$ref", remote[0]) if remote else None
    guess = found is None
    for candidate in _USUAL_SUSPECTS if found is None else ():  # the message names nothing here
        pointer = locate(schema, candidate, message)
        if pointer is not None:
            found = candidate, pointer
            break
    if found is None:
        return exc
    keyword, pointer = found
    said = f"probably keyword {keyword!r} at {pointer}" if guess else f"keyword {keyword!r} at {pointer}"
    named = GrammarError(f"{message} ({said})", keyword=keyword, pointer=pointer)
    named.__cause__ = exc.__cause__
    return named
