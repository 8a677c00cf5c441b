"""Function specs written by others: OpenAI's tool format and the looser function-calling
dialect of the Berkeley Function Calling Leaderboard (BFCL), turned into our JSON Schema.

Accepted spec shapes: ``{"type": "function", "function": {...}}`` (OpenAI chat tools,
and our own :meth:`ToolRegistry.to_json` entries, whose ``output_schema`` and ``metadata``
are read back), ``{"type": "function", "name": ...}`` (OpenAI responses API), and a bare
``{"name", "description", "parameters"}`` (OpenAI functions, BFCL). Anthropic's
``input_schema`` is read when ``parameters`` is absent.

Dialect types are mapped case-insensitively (BFCL's own table, except ``any``):

============================================  ==========
``integer int long short byte bigint``        ``integer``
``number float double``                       ``number``
``string str char``                           ``string``
``boolean bool``                              ``boolean``
``array list tuple arraylist queue stack``    ``array``
``object dict hashmap hashtable``             ``object``
``null none``                                 ``null``
``any``                                       no type: any JSON value (BFCL sends ``string``)
============================================  ==========

Also: a draft-04 ``items: [...]`` list becomes ``prefixItems``; ``optional: true`` is
dropped (what is optional is what ``required`` leaves out); local ``$ref``s are inlined
(a recursive schema is refused); every object that lists ``properties`` gets
``additionalProperties: false``, the top level always (the planner may emit only declared
arguments). An ``output_schema`` is kept as written, open where it is silent (output
schemas are often incomplete, and a ref to a field they do not list is allowed) and with
its ``$ref``s (recursive ones too: the planner follows them), which are checked to stay
within the expansion limits instead of being inlined.
Anything else unknown is refused with the parameter's path.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError, relevance

from reasoner.errors import ToolDefinitionError, ToolError
from reasoner.grammars._jsonschema import SchemaProblem, check_schema, check_size, validator_for
from reasoner.tools._jsonschema import RecursiveSchema, check_expansion, close_objects, inline_refs
from reasoner.tools._options import check_name

__all__ = ["ConvertedSpec", "convert_function_spec", "schema_validator"]

_TYPES: dict[str, str | None] = {
    **dict.fromkeys(("integer", "int", "long", "short", "byte", "bigint"), "integer"),
    **dict.fromkeys(("number", "float", "double"), "number"),
    **dict.fromkeys(("string", "str", "char"), "string"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("array", "list", "tuple", "arraylist", "queue", "stack"), "array"),
    **dict.fromkeys(("object", "dict", "hashmap", "hashtable"), "object"),
    **dict.fromkeys(("null", "none"), "null"),
    "any": None,
}
_SUB_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_SUB_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUB_MAP = ("properties", "patternProperties", "$defs", "definitions")
_SUB_KIND = {**dict.fromkeys(_SUB_ONE, "one"), **dict.fromkeys(_SUB_LIST, "list"), **dict.fromkeys(_SUB_MAP, "map")}


@dataclass(frozen=True, slots=True)
class ConvertedSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    metadata: dict[str, Any]


def convert_function_spec(spec: Mapping[str, Any], *, name: str | None = None) -> ConvertedSpec:
    """Read a function spec in any accepted shape; raise :class:`ToolDefinitionError` naming
    the parameter for anything that cannot be represented. ``name`` replaces the spec's own
    name before anything is checked (so a spec whose name is not an identifier can be used)."""
    if not isinstance(spec, Mapping):
        raise ToolDefinitionError(f"a function spec must be a dict, got {type(spec).__name__}")
    body = spec["function"] if isinstance(spec.get("function"), Mapping) else spec
    name = check_name(name if name is not None else body.get("name"))
    description = body.get("description") or ""
    if not isinstance(description, str):
        raise ToolDefinitionError(f"tool {name!r}: description must be a string", tool=name)
    parameters = body.get("parameters", body.get("input_schema"))
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    _check_size(name, parameters, "")
    input_schema = _top_level(name, _convert(name, parameters, ""))
    output = spec.get("output_schema")
    output_schema = None if output is None else _output_schema(name, output)
    metadata = spec.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ToolDefinitionError(f"tool {name!r}: metadata must be a dict of tool options", tool=name)
    return ConvertedSpec(name, description, input_schema, output_schema, dict(metadata))


_OUTPUTS: OrderedDict[str, str] = OrderedDict()  # output schema JSON -> its conversion, as JSON
_OUTPUTS_KEPT = 64
_OUTPUTS_LOCK = threading.Lock()


def _output_schema(tool: str, output: Any) -> dict[str, Any]:
    """The output schema as written: open where it says nothing (it is often incomplete).
    Converted and checked once per distinct schema (many tools of one API share one)."""
    _check_size(tool, output, "return")
    try:
        key = json.dumps(output, ensure_ascii=False)  # key order kept: property order is the grammar's
    except (TypeError, ValueError) as exc:
        raise _fail(tool, "return", f"is not JSON: {exc}") from exc
    with _OUTPUTS_LOCK:
        text = _OUTPUTS.get(key)
        if text is not None:
            _OUTPUTS.move_to_end(key)
    if text is not None:
        copied: dict[str, Any] = json.loads(text)  # a fresh copy for each tool
        return copied
    converted = _checked_output(tool, _convert(tool, output, "return"))
    with _OUTPUTS_LOCK:
        _OUTPUTS[key] = key if converted == output else json.dumps(converted, ensure_ascii=False)
        if len(_OUTPUTS) > _OUTPUTS_KEPT:
            _OUTPUTS.popitem(last=False)
    return converted  # built by _convert: already this tool's own


def _checked_output(tool: str, schema: Any) -> dict[str, Any]:
    """An output schema kept as written, ``$ref``s included (the planner's schema walker
    follows them, cycles too): checked, and its expansion bounded, but not inlined."""
    if not isinstance(schema, dict):
        raise _fail(tool, "return", "must be a JSON Schema object")
    try:
        check_schema(schema, sized=True)  # convert_function_spec checked the sizes
    except SchemaProblem as exc:
        raise _fail(tool, "return", f"is not valid JSON Schema: {exc}") from exc
    try:
        check_expansion(schema)
    except KeyError as exc:
        raise _fail(tool, "return", f"has a $ref that names nothing in it: {exc.args[0]!r}") from exc
    except SchemaProblem as exc:
        raise _fail(tool, "return", f"is too large: {exc}") from exc
    return schema


def _check_size(tool: str, schema: Any, path: str) -> None:
    """The size and depth limits, before any recursive walk of a schema we did not write."""
    try:
        check_size(schema)
    except SchemaProblem as exc:
        raise _fail(tool, path, f"is too large: {exc}") from exc


def _fail(tool: str, path: str, why: str) -> ToolDefinitionError:
    parameter = path.split(".")[0].split("[")[0] or None
    where = f"parameter {path!r}" if path else "the parameters schema"
    return ToolDefinitionError(f"tool {tool!r}: {where} {why}", tool=tool, parameter=parameter)


def _convert(tool: str, schema: Any, path: str) -> Any:
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        raise _fail(tool, path, f"must be a JSON Schema object, got {type(schema).__name__} {schema!r}")
    out = {k: v for k, v in schema.items() if k != "optional"}
    if "type" in out:
        out = _convert_type(tool, out, path)
    if "type" in out:  # not after "any"
        _check_values(tool, out, path)
    if isinstance(out.get("items"), list):  # draft-04 tuple form
        out["prefixItems"] = out.pop("items")
    for key in [k for k in out if k in _SUB_KIND]:  # one pass over the keys present
        kind, value = _SUB_KIND[key], out[key]
        if kind == "one":
            out[key] = _convert(tool, value, f"{path}[]" if key == "items" else path)
        elif kind == "list":
            if not isinstance(value, list):
                raise _fail(tool, path, f"has {key} that is not a list")
            out[key] = [_convert(tool, s, f"{path}[]" if key == "prefixItems" else path) for s in value]
        else:
            if not isinstance(value, Mapping):
                raise _fail(tool, path, f"has {key} that is not an object")
            named = key in ("properties", "patternProperties")  # keys are parameter names, not definitions
            out[key] = {k: _convert(tool, s, _join(path, k) if named else path) for k, s in value.items()}
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _convert_type(tool: str, schema: dict[str, Any], path: str) -> dict[str, Any]:
    declared = schema["type"]
    names = declared if isinstance(declared, list) else [declared]
    mapped: list[str] = []
    for item in names:
        if not isinstance(item, str) or item.lower() not in _TYPES:
            accepted = ", ".join(sorted({t for t in _TYPES}))
            raise _fail(tool, path, f"has the unknown type {item!r}; use one of: {accepted}")
        target = _TYPES[item.lower()]
        if target is None:  # "any" anywhere in the list means any JSON value
            return {k: v for k, v in schema.items() if k != "type"}
        if target not in mapped:
            mapped.append(target)
    return {**schema, "type": mapped if isinstance(declared, list) else mapped[0]}


def _json_types(value: Any) -> set[str]:
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return {"integer", "number"}
    if isinstance(value, float):
        return {"number"}
    if isinstance(value, str):
        return {"string"}
    return {"array"} if isinstance(value, list) else {"object"} if isinstance(value, dict) else set()


def _check_values(tool: str, schema: dict[str, Any], path: str) -> None:
    """Refuse an ``enum``/``const`` no value of which has the declared type: the parameter
    could never be given, and planning would fail later without naming it."""
    declared = schema["type"]
    types = set(declared if isinstance(declared, list) else [declared])
    if "const" in schema and not _json_types(schema["const"]) & types:
        raise _fail(tool, path, f"has const {schema['const']!r}, which is not of its type {declared!r}; fix one of them")
    values = schema.get("enum")
    if isinstance(values, list) and not any(_json_types(v) & types for v in values):
        shown = ", ".join(repr(v) for v in values[:5]) + (", ..." if len(values) > 5 else "")
        why = "an empty enum" if not values else f"enum values ({shown}), none of which is of its type {declared!r}"
        raise _fail(tool, path, f"has {why}, so no value is valid; fix the type or the enum")


def _finish(tool: str, schema: Any, parameter: str) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise _fail(tool, parameter, "must be a JSON Schema object")
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    try:
        check_schema(schema, sized=True)  # convert_function_spec checked the sizes
    except SchemaProblem as exc:
        raise _fail(tool, parameter, f"is not valid JSON Schema: {exc}") from exc
    try:
        schema = inline_refs(schema, defs, copy=False, root=schema)  # close_objects copies
    except RecursiveSchema as exc:
        raise _fail(tool, parameter, f"uses the recursive definition {exc.name!r}, which cannot be inlined") from exc
    except KeyError as exc:
        raise _fail(tool, parameter, f"has a $ref that is not a local #/$defs/ definition: {exc.args[0]!r}") from exc
    except SchemaProblem as exc:
        raise _fail(tool, parameter, f"is too large: {exc}") from exc
    return close_objects(schema)


def _top_level(tool: str, schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise _fail(tool, "", "must be an object schema with properties (type: object)")
    try:
        schema = _finish(tool, schema, "")
    except ToolDefinitionError:
        defs = {"$defs": schema.get("$defs", {}), "definitions": schema.get("definitions", {})}
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict):  # check each property alone, so the error names it
                _finish(tool, {**defs, **prop}, name)
        raise
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(required, list):
        raise _fail(tool, "", "has `required` that is not a list of property names")
    for name in required:
        if name not in properties:
            raise _fail(tool, str(name), "is listed in `required` but has no entry in `properties`; add it or drop it")
    extra = {k: v for k, v in schema.items() if k not in ("type", "properties", "required", "additionalProperties")}
    closed = {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}
    return {**closed, **extra}


def schema_validator(tool: str, schema: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ``validate_args`` for ``schema``: jsonschema (Draft 2020-12); raises ``ToolError``
    naming the tool, each offending argument and the problem. Valid arguments pass unchanged."""
    validator = validator_for(schema)
    properties = schema["properties"]

    def validate_args(args: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(args, dict):
            raise ToolError(f"tool {tool!r}: arguments must be a JSON object, got {type(args).__name__}", tool=tool)
        errors = sorted(validator.iter_errors(args), key=relevance)
        if errors:
            problems = "; ".join(_problem(e, args, properties) for e in errors)
            raise ToolError(f"tool {tool!r}: invalid arguments: {problems}", tool=tool)
        return dict(args)

    return validate_args


def _problem(error: ValidationError, args: dict[str, Any], properties: Mapping[str, Any]) -> str:
    path = list(error.absolute_path)
    if not path and error.validator == "required":
        missing = [name for name in error.validator_value if name not in args]
        return "; ".join(f"argument {name!r}: missing required argument" for name in missing)
    if not path and error.validator == "additionalProperties":
        extra = [name for name in args if name not in properties]
        listed = ", ".join(properties) or "none"
        return "; ".join(f"argument {name!r}: unexpected argument (accepted: {listed})" for name in extra)
    if not path:
        return str(error.message)
    rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return f"argument {str(path[0]) + rest!r}: {message}"
