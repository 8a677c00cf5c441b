"""A Python function's tool schema: input schema from the signature, output schema from the
return annotation, descriptions from the docstring, built with pydantic's public API.

Decisions (the contract other layers rely on):

- ``input_schema`` is self-contained: every ``$ref`` is inlined, so it can be embedded in a
  larger schema (the plan schema) as is. A recursive type cannot be inlined and is refused.
  Every object that lists ``properties`` gets ``additionalProperties: false``; pydantic's
  automatic ``title`` keys are dropped; docstring text lands in each property's
  ``description`` unless ``Field(description=...)`` already gave one.
- ``output_schema`` (serialization mode) is inlined the same way when possible; a
  recursive return type keeps a top-level ``$defs`` whose refs all read ``#/$defs/...``.
- Arguments are validated in pydantic's *strict JSON mode*: the arguments dict is read as
  the JSON document it came from, so ``"3"`` is refused for an ``int``, ``3`` is accepted
  for a ``float``, strings become enums, dates and paths, lists become tuples and sets,
  and dicts become nested models. Unknown arguments are refused.
- Type annotations are resolved in the function's module globals: a type defined inside
  another function cannot be resolved when the module uses ``from __future__ import
  annotations``; define it at module level.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaWarningKind
from pydantic_core import PydanticSerializationError, to_json, to_jsonable_python

from reasoner.errors import ToolDefinitionError, ToolError
from reasoner.tools._docstring import parse_docstring
from reasoner.tools._jsonschema import RecursiveSchema, close_objects, inline_refs, strip_titles
from reasoner.tools._options import check_name

__all__ = ["FunctionSchema", "function_schema", "is_async_callable"]

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class FunctionSchema:
    """Everything :class:`ToolSpec` needs from a Python function."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    is_async: bool
    validate_args: Callable[[dict[str, Any]], dict[str, Any]]
    dump_output: Callable[[Any], Any]


class _Unrepresentable(Exception):
    pass


class _SchemaGenerator(GenerateJsonSchema):
    # A default that is not JSON is merely left out of the schema (the parameter stays
    # optional); a union member pydantic would silently skip means a wrong schema: refuse.
    def emit_warning(self, kind: JsonSchemaWarningKind, detail: str) -> None:
        if kind != "non-serializable-default":
            raise _Unrepresentable(detail)


def function_schema(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionSchema:
    """Build the schemas, argument validator and output serializer of ``fn``.

    Raises :class:`ToolDefinitionError` (with ``tool`` and ``parameter`` set) for anything
    that cannot be represented: ``*args``/``**kwargs``, positional-only or unannotated
    parameters, types without a JSON Schema, recursive argument types, generators, and a
    lambda or nameless callable without ``name=``.
    """
    tool = check_name(name if name is not None else _function_name(fn))
    target = _annotation_source(fn)
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        raise ToolDefinitionError(
            f"tool {tool!r} is a generator function; a tool returns one value: collect the items and return a list",
            tool=tool,
        )
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"tool {tool!r}: cannot read the signature of {fn!r} ({exc})", tool=tool) from exc
    doc = parse_docstring(inspect.getdoc(target))
    globalns: dict[str, Any] = getattr(target, "__globals__", {})

    fields: dict[str, Any] = {}
    hints: dict[str, Any] = {}
    for index, param in enumerate(signature.parameters.values()):
        hints[param.name] = _parameter_hint(tool, param, globalns)
        # the field's own name is internal; the parameter name is its alias (so no clash with BaseModel attributes)
        fields[f"p{index}"] = _field(hints[param.name], param, doc.params.get(param.name))
    aliases = list(hints)
    try:
        args_model = create_model(f"{tool.replace('.', '_')}_args", __config__=ConfigDict(extra="forbid"), **fields)
        raw_schema = args_model.model_json_schema(by_alias=True, schema_generator=_SchemaGenerator)
    except (PydanticUserError, _Unrepresentable) as exc:
        for parameter, hint in hints.items():  # find the culprit, so the error can name it
            _check_type(tool, parameter, hint)
        raise ToolDefinitionError(f"tool {tool!r}: cannot build the argument schema ({exc})", tool=tool) from exc
    input_schema = _input_schema(tool, raw_schema, aliases)
    output_schema, dump_output = _output(tool, signature, globalns, doc.returns)
    return FunctionSchema(
        name=tool,
        description=(description if description is not None else doc.description).strip(),
        input_schema=input_schema,
        output_schema=output_schema,
        is_async=is_async_callable(fn),
        validate_args=_validator(tool, args_model, list(fields), aliases),
        dump_output=dump_output,
    )


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` returns a coroutine (async functions, partials of them, async ``__call__``)."""
    if inspect.iscoroutinefunction(fn):
        return True
    return not inspect.isroutine(fn) and inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))  # noqa: B004 (the method itself)


def _function_name(fn: Callable[..., Any]) -> str:
    fn_name = getattr(fn, "__name__", None)
    if not isinstance(fn_name, str) or fn_name == "<lambda>":
        raise ToolDefinitionError(
            f"cannot name the tool {fn!r}: a lambda or a callable without __name__ has no usable name; pass name=...",
            tool=None,
        )
    return fn_name


def _annotation_source(fn: Callable[..., Any]) -> Any:
    """The object whose annotations, globals and docstring describe ``fn``."""
    obj: Any = inspect.unwrap(fn)
    while isinstance(obj, functools.partial):
        obj = inspect.unwrap(obj.func)
    if not inspect.isroutine(obj) and callable(obj) and not inspect.isclass(obj):
        call = getattr(type(obj), "__call__", None)  # noqa: B004 (the method, for its annotations)
        return call if call is not None else obj
    return obj


def _resolve(tool: str, parameter: str, annotation: Any, globalns: dict[str, Any]) -> Any:
    # a throwaway class lets typing.get_type_hints resolve one annotation at a time, so an
    # unresolvable name is reported against the parameter that uses it
    probe = type("_Probe", (), {"__annotations__": {"x": annotation}})
    try:
        return typing.get_type_hints(probe, globalns=globalns, include_extras=True)["x"]
    except Exception as exc:
        where = "the return annotation" if parameter == "return" else f"parameter {parameter!r}"
        raise ToolDefinitionError(
            f"tool {tool!r}: {where} has the annotation {annotation!r}, which cannot be resolved "
            f"({type(exc).__name__}: {exc}); define the type at module level, before the function",
            tool=tool,
            parameter=parameter,
        ) from exc


def _parameter_hint(tool: str, param: inspect.Parameter, globalns: dict[str, Any]) -> Any:
    def refuse(why: str) -> ToolDefinitionError:
        return ToolDefinitionError(f"tool {tool!r}: parameter {param.name!r} {why}", tool=tool, parameter=param.name)

    if param.kind is inspect.Parameter.VAR_POSITIONAL:
        raise refuse(f"(*{param.name}) is variadic; arguments arrive by name as a JSON object, so list each one")
    if param.kind is inspect.Parameter.VAR_KEYWORD:
        raise refuse(
            f"(**{param.name}) accepts arbitrary keywords, which have no schema; declare each argument, "
            "or describe them with ToolSpec.from_schema(spec, fn)"
        )
    if param.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise refuse("is positional-only; arguments arrive by name, so remove the '/' from the signature")
    if param.annotation is _EMPTY:
        raise refuse(f"has no type annotation; annotate it (e.g. `{param.name}: str`) so its schema can be built")
    hint = _resolve(tool, param.name, param.annotation, globalns)
    if _is_bare_object(hint):
        raise refuse("is typed `object`, which says nothing about its JSON shape; use a concrete type, or Any")
    return hint


def _is_bare_object(hint: Any) -> bool:
    return (typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint) is object


def _check_type(tool: str, parameter: str, hint: Any) -> None:
    where = "the return annotation" if parameter == "return" else f"parameter {parameter!r}"

    def refuse(why: str) -> ToolDefinitionError:
        return ToolDefinitionError(f"tool {tool!r}: {where} {why}", tool=tool, parameter=parameter)

    if _is_bare_object(hint):
        raise refuse("is typed `object`, which says nothing about its JSON shape; use a concrete type, or Any")
    try:
        TypeAdapter(hint).json_schema(schema_generator=_SchemaGenerator)
    except _Unrepresentable as exc:
        raise refuse(f"of type {_type_name(hint)} would get an incomplete JSON Schema ({exc}); simplify it") from exc
    except PydanticUserError as exc:
        first = str(exc).splitlines()[0]
        raise refuse(
            f"has type {_type_name(hint)}, which cannot be expressed as JSON Schema ({first}); "
            "use JSON-friendly types (str, int, float, bool, list, dict, Literal, Enum, pydantic models)"
        ) from exc


def _type_name(hint: Any) -> str:
    return hint.__qualname__ if isinstance(hint, type) else repr(hint)


def _field(hint: Any, param: inspect.Parameter, doc: str | None) -> tuple[Any, Any]:
    default = ... if param.default is _EMPTY else param.default
    has_description = isinstance(default, FieldInfo) and default.description is not None
    if typing.get_origin(hint) is Annotated:
        metadata = typing.get_args(hint)[1:]
        has_description = has_description or any(isinstance(m, FieldInfo) and m.description for m in metadata)
    extra = Field(alias=param.name) if has_description or not doc else Field(alias=param.name, description=doc)
    return Annotated[hint, extra], default


def _input_schema(tool: str, raw: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
    defs = raw.get("$defs", {})
    properties: dict[str, Any] = {}
    for alias in aliases:
        try:
            prop = inline_refs(raw["properties"][alias], defs)
        except RecursiveSchema as exc:
            raise ToolDefinitionError(
                f"tool {tool!r}: parameter {alias!r} uses the recursive type {exc.name!r}, which cannot be inlined "
                "into the plan schema; use a non-recursive type (e.g. a bounded nesting of models)",
                tool=tool,
                parameter=alias,
            ) from exc
        properties[alias] = close_objects(strip_titles(prop))
    return {
        "type": "object",
        "properties": properties,
        "required": list(raw.get("required", [])),
        "additionalProperties": False,
    }


def _output(
    tool: str, signature: inspect.Signature, globalns: dict[str, Any], returns_doc: str | None
) -> tuple[dict[str, Any] | None, Callable[[Any], Any]]:
    if signature.return_annotation is _EMPTY:
        return None, functools.partial(_dump_plain, tool)
    hint = _resolve(tool, "return", signature.return_annotation, globalns)
    try:
        if _is_bare_object(hint):
            raise _Unrepresentable("object")
        adapter: TypeAdapter[Any] = TypeAdapter(hint)
        schema = adapter.json_schema(mode="serialization", schema_generator=_SchemaGenerator)
    except (PydanticUserError, _Unrepresentable) as exc:
        _check_type(tool, "return", hint)  # raises with the reason
        raise ToolDefinitionError(f"tool {tool!r}: cannot build the output schema ({exc})", tool=tool) from exc
    defs = schema.pop("$defs", {})
    # closed: the result is dumped through this type, so an object has exactly the fields it lists
    try:
        schema = close_objects(strip_titles(inline_refs(schema, defs)))
    except RecursiveSchema:  # keep the definitions, at the top, referenced as #/$defs/...
        schema = close_objects(strip_titles({**schema, "$defs": defs}))
    if returns_doc and "description" not in schema:
        schema["description"] = returns_doc
    return schema, functools.partial(_dump_typed, tool, adapter)


def _dump_plain(tool: str, value: Any) -> Any:
    try:
        return to_jsonable_python(value)
    except PydanticSerializationError as exc:
        raise ToolError(
            f"tool {tool!r} returned a {type(value).__name__}, which is not JSON-compatible ({exc}); "
            "return JSON data or a pydantic model, and annotate the return type",
            tool=tool,
        ) from exc


def _dump_typed(tool: str, adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.dump_python(value, mode="json", warnings="error")
    except PydanticSerializationError:
        pass  # not an instance of the annotated type (e.g. a dict for a model): coerce it through validation
    try:
        return adapter.dump_python(adapter.validate_python(value), mode="json")
    except (ValidationError, PydanticSerializationError) as exc:
        raise ToolError(
            f"tool {tool!r} returned a {type(value).__name__} that does not match its return annotation: "
            f"{_summarize(exc)}; fix the function or its annotation",
            tool=tool,
        ) from exc


def _validator(
    tool: str, model: type[BaseModel], field_names: list[str], aliases: list[str]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    pairs = tuple(zip(field_names, aliases, strict=True))

    def validate_args(args: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(args, dict):
            raise ToolError(f"tool {tool!r}: arguments must be a JSON object, got {type(args).__name__}", tool=tool)
        try:
            # strict JSON mode: judge the arguments as the JSON text they came from
            validated = model.model_validate_json(to_json(args), strict=True)
        except PydanticSerializationError as exc:
            raise ToolError(f"tool {tool!r}: arguments are not JSON-compatible ({exc})", tool=tool) from exc
        except ValidationError as exc:
            raise ToolError(f"tool {tool!r}: invalid arguments: {_describe(exc, aliases)}", tool=tool) from exc
        return {alias: getattr(validated, field) for field, alias in pairs}

    return validate_args


def _describe(exc: ValidationError, accepted: list[str]) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        argument = str(loc[0]) if loc else "?"
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
        if error["type"] == "extra_forbidden" and len(loc) == 1:
            listed = ", ".join(accepted) or "none"
            problems.append(f"argument {argument!r}: unexpected argument (accepted: {listed})")
        elif error["type"] == "missing" and len(loc) == 1:
            problems.append(f"argument {argument!r}: missing required argument")
        else:
            got = repr(error.get("input"))
            got = got if len(got) <= 60 else got[:57] + "..."
            problems.append(f"argument {argument + path!r}: {error['msg']} (got {got})")
    return "; ".join(problems)


def _summarize(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
    return str(exc).splitlines()[-1].strip()
