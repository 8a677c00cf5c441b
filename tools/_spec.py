"""ToolSpec: a registered tool's schema, metadata and implementation."""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypedDict, Unpack

import anyio
from pydantic_core import to_jsonable_python

from reasoner.errors import ToolDefinitionError, ToolError, UsageError
from reasoner.tools._dialect import convert_function_spec, schema_validator
from reasoner.tools._options import check_name, check_options
from reasoner.tools._schema import function_schema, is_async_callable

__all__ = ["ToolOptions", "ToolSpec"]


class ToolOptions(TypedDict, total=False):
    """Options accepted by ``@tool(...)``, :meth:`ToolSpec.from_function` and :meth:`ToolSpec.from_schema`."""

    name: str
    description: str
    timeout: float | None
    retries: int
    cache: bool
    max_concurrency: int | None
    requires_approval: bool


_OPTION_NAMES = tuple(ToolOptions.__annotations__)
_METADATA = ("timeout", "retries", "cache", "max_concurrency", "requires_approval")


def _identity(args: dict[str, Any]) -> dict[str, Any]:
    return args


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what the planner sees (name, description, schemas) and how it runs.

    ``input_schema`` is a JSON Schema object (``type: object``, ``properties``,
    ``required``, ``additionalProperties: false``) with every ``$ref`` inlined.
    ``output_schema`` is the JSON Schema of the return value, or ``None`` when the tool
    declares none. ``timeout`` (seconds, ``None``: the engine default), ``retries``
    (extra attempts), ``cache``, ``max_concurrency`` (``None``: no per-tool cap) and
    ``requires_approval`` are read by the executor; they are checked on construction
    (``ToolDefinitionError`` for a value out of range).

    Build one with :meth:`from_function` (or ``@tool``) or :meth:`from_schema`; direct
    construction (as in tests) skips argument validation unless ``validate_args`` is given.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    fn: Callable[..., Any]
    is_async: bool
    timeout: float | None = None
    retries: int = 0
    cache: bool = False
    max_concurrency: int | None = None
    requires_approval: bool = False
    # validates and coerces the arguments dict; set by the constructors (from_function / from_schema)
    validate_args: Callable[[dict[str, Any]], dict[str, Any]] = field(default=_identity, repr=False, compare=False)
    # turns the function's return value into JSON data; set by the constructors
    dump_output: Callable[[Any], Any] = field(default=to_jsonable_python, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if not isinstance(self.description, str):
            raise ToolDefinitionError(f"tool {self.name!r}: description must be a string", tool=self.name)
        check_options(
            self.name,
            timeout=self.timeout,
            retries=self.retries,
            cache=self.cache,
            max_concurrency=self.max_concurrency,
            requires_approval=self.requires_approval,
        )

    @classmethod
    def from_function(cls, fn: Callable[..., Any] | ToolSpec, **options: Unpack[ToolOptions]) -> ToolSpec:
        """The tool for a Python function (sync or async).

        A function decorated with ``@tool`` returns its attached spec when no options are
        given; options given here override the decorator's. The input schema comes from
        the signature, the description and parameter texts from the docstring (Google,
        NumPy or Sphinx), the output schema from the return annotation; see
        ``reasoner.tools._schema`` for the exact rules.

        Raises :class:`ToolDefinitionError` naming the parameter for a signature that
        cannot be represented, and for an unknown or out-of-range option.
        """
        _check_option_names(options)
        if isinstance(fn, ToolSpec):
            return fn if not options else fn._with_options(options)
        if not callable(fn):
            raise UsageError(f"a tool must be a function or a ToolSpec, got {type(fn).__name__} {fn!r}")
        attached = getattr(fn, "__reasoner_tool__", None)
        # functools.wraps copies __dict__, so a wrapper may carry the wrapped function's spec: only trust our own
        own = attached if isinstance(attached, ToolSpec) and attached.fn is fn else None
        if own is not None and not options:
            return own
        given: dict[str, Any] = {**_options_of(own), **options} if own is not None else {**options}
        built = function_schema(fn, name=given.get("name"), description=given.get("description"))
        metadata = {k: given[k] for k in _METADATA if k in given}
        return cls(
            name=built.name,
            description=built.description,
            input_schema=built.input_schema,
            output_schema=built.output_schema,
            fn=fn,
            is_async=built.is_async,
            validate_args=built.validate_args,
            dump_output=built.dump_output,
            **metadata,
        )

    @classmethod
    def from_schema(cls, spec: Mapping[str, Any], fn: Callable[..., Any], **options: Unpack[ToolOptions]) -> ToolSpec:
        """The tool described by a function spec, implemented by ``fn`` (sync or async).

        ``spec`` is an OpenAI tool or function spec, or the common function-calling dialect
        (types ``dict``, ``float``, ``tuple``, ``any``; dotted names), or an entry of
        :meth:`ToolRegistry.to_json` (whose output schema and metadata are kept). ``fn`` is
        called with the arguments as keywords, after they pass jsonschema validation
        (Draft 2020-12) against the converted schema; ``fn``'s signature must accept every
        property and need nothing the schema leaves optional. Options given here override
        the spec's metadata. See ``reasoner.tools._dialect`` for the conversion rules.
        """
        _check_option_names(options)
        converted = convert_function_spec(spec, name=options.get("name"))
        merged: dict[str, Any] = {**converted.metadata, **options}
        _check_option_names(merged)
        name = check_name(merged.pop("name", converted.name))
        description = merged.pop("description", converted.description)
        if not callable(fn):
            raise ToolDefinitionError(f"tool {name!r}: the implementation must be callable, got {fn!r}", tool=name)
        _check_signature(name, fn, converted.input_schema)
        return cls(
            name=name,
            description=description,
            input_schema=converted.input_schema,
            output_schema=converted.output_schema,
            fn=fn,
            is_async=is_async_callable(fn),
            validate_args=schema_validator(name, converted.input_schema),
            **merged,
        )

    async def invoke(self, args: dict[str, Any]) -> Any:
        """Validate ``args``, call the tool and return its result as JSON data.

        Python tools validate in pydantic's strict JSON mode (``"3"`` is refused for an
        ``int``; strings become enums and dates; dicts become nested models); spec tools
        validate with jsonschema. Sync functions run in a worker thread; if the caller is
        cancelled the thread is abandoned (it cannot be interrupted) and finishes in the
        background. The result is dumped through the return annotation in JSON mode
        (pydantic models become dicts), or with ``pydantic_core.to_jsonable_python`` when
        there is none.

        Raises ``ToolError`` for arguments that do not fit the input schema and for a result
        that cannot be turned into JSON; whatever the tool raises propagates unchanged (the
        executor handles retries, timeouts and ``ToolRetry``).
        """
        kwargs = self.validate_args(args)
        if self.is_async:
            result = await self.fn(**kwargs)
        else:
            result = await anyio.to_thread.run_sync(partial(self.fn, **kwargs), abandon_on_cancel=True)
            if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
                result = await result
        return self.dump_output(result)

    def to_json(self) -> dict[str, Any]:
        """An OpenAI-style tool spec plus ``output_schema`` and ``metadata`` (the options).

        :meth:`from_schema` reads it back.
        """
        return {
            **self.to_openai(),
            "output_schema": copy.deepcopy(self.output_schema),
            "metadata": {k: getattr(self, k) for k in _METADATA},
        }

    def to_openai(self) -> dict[str, Any]:
        """The tool in OpenAI's chat-completions ``tools`` format (nothing else); a fresh copy."""
        function = {"name": self.name, "description": self.description, "parameters": copy.deepcopy(self.input_schema)}
        return {"type": "function", "function": function}

    def _with_options(self, options: Mapping[str, Any]) -> ToolSpec:
        new = replace(self, **options)
        if new.name == self.name:
            return new
        # the old name is in the validator's and serializer's messages: say the new one
        return replace(
            new,
            validate_args=_renamed(self.validate_args, self.name, new.name),
            dump_output=_renamed(self.dump_output, self.name, new.name),
        )


def _options_of(spec: ToolSpec) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in ("name", "description", *_METADATA)}


def _renamed(call: Callable[[Any], Any], old: str, new: str) -> Callable[[Any], Any]:
    prefix, new_prefix = f"tool {old!r}", f"tool {new!r}"

    def renamed(value: Any) -> Any:
        try:
            return call(value)
        except ToolError as exc:
            message = str(exc)
            message = new_prefix + message[len(prefix) :] if message.startswith(prefix) else message
            raise ToolError(message, tool=new, node_id=exc.node_id) from exc

    return renamed


def _check_option_names(options: Mapping[str, Any]) -> None:
    for key in options:
        if key not in _OPTION_NAMES:
            close = difflib.get_close_matches(key, _OPTION_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ToolDefinitionError(f"unknown tool option {key!r}; {hint}options are: {', '.join(_OPTION_NAMES)}")


def _check_signature(tool: str, fn: Callable[..., Any], schema: dict[str, Any]) -> None:
    """Refuse a spec whose arguments ``fn`` could not take, or that omits one ``fn`` needs."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return  # builtins without a signature: nothing to compare
    kinds = inspect.Parameter
    takes_any = any(p.kind is kinds.VAR_KEYWORD for p in params.values())
    for prop in schema["properties"]:
        p = params.get(prop)
        if not takes_any and (p is None or p.kind in (kinds.POSITIONAL_ONLY, kinds.VAR_POSITIONAL)):
            raise ToolDefinitionError(
                f"tool {tool!r}: parameter {prop!r} is in the schema but {_fn_name(fn)} takes no keyword argument "
                f"{prop!r}; add it to the function (or **kwargs) or remove it from the schema",
                tool=tool,
                parameter=prop,
            )
    required = set(schema["required"])
    for p in params.values():
        needed = p.default is kinds.empty and p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        if needed and p.name not in required:
            raise ToolDefinitionError(
                f"tool {tool!r}: parameter {p.name!r} is required by {_fn_name(fn)} but not by the schema, so a call "
                "may leave it out; list it in `required` or give it a default in the function",
                tool=tool,
                parameter=p.name,
            )


def _fn_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', type(fn).__name__)}()"
