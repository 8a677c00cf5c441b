"""``reasoner tools``: list the registered tools with their schemas."""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Mapping
from typing import Any

from reasoner._options import build_registry
from reasoner.cli._common import CliError, Command, Context, debug_flag
from reasoner.cli._options import add_tool_options, engine_options
from reasoner.tools import ToolSpec

__all__ = ["TOOLS", "type_text"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="show only these tools, with their full JSON schemas")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the tools as JSON: OpenAI-style function specs plus output_schema and metadata",
    )
    add_tool_options(parser)
    debug_flag(parser, top=False)


def type_text(schema: Any, depth: int = 0) -> str:
    """A JSON Schema as a short type expression: ``string``, ``list[number]``, ``{a: string}``."""
    if not isinstance(schema, Mapping):
        return "any"
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return " | ".join(type_text(s, depth) for s in schema[key])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(type_text({**schema, "type": k}, depth) for k in kind)
    if kind == "array":
        return f"list[{type_text(schema.get('items', {}), depth + 1)}]"
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if not props:
            extra = schema.get("additionalProperties")
            return f"dict[string, {type_text(extra, depth + 1)}]" if isinstance(extra, Mapping) else "object"
        if depth >= 2:
            return "{…}"
        required = set(schema.get("required") or ())
        inner = ", ".join(f"{k}{'' if k in required else '?'}: {type_text(v, depth + 1)}" for k, v in props.items())
        return "{" + inner + "}"
    return str(kind) if kind else "any"


def _options(spec: ToolSpec) -> str:
    parts = []
    if spec.timeout is not None:
        parts.append(f"timeout {spec.timeout:g} s")
    if spec.retries:
        parts.append(f"retries {spec.retries}")
    if spec.cache:
        parts.append("cached")
    if spec.max_concurrency is not None:
        parts.append(f"at most {spec.max_concurrency} at once")
    if spec.requires_approval:
        parts.append("requires approval")
    return ", ".join(parts)


def describe(spec: ToolSpec, *, full: bool) -> list[str]:
    """Plain lines describing one tool: its summary, arguments, return type and options."""
    summary = spec.description.strip().split("\n\n")[0].replace("\n", " ")
    lines = [f"{spec.name}  {summary}".rstrip()]
    props: Mapping[str, Any] = spec.input_schema.get("properties") or {}
    required = set(spec.input_schema.get("required") or ())
    width = max((len(name) for name in props), default=0)
    for name, schema in props.items():
        flags = "required" if name in required else f"default {json.dumps(schema['default'])}" if "default" in schema else "optional"
        about = f"  {schema['description']}" if isinstance(schema, Mapping) and schema.get("description") else ""
        lines.append(f"    {name.ljust(width)}  {type_text(schema)}  ({flags}){about}")
    if not props:
        lines.append("    (no arguments)")
    if spec.output_schema is not None:
        title = spec.output_schema.get("title")
        lines.append(f"  returns {title + ': ' if title else ''}{type_text(spec.output_schema)}")
    options = _options(spec)
    if options:
        lines.append(f"  options {options}")
    if full:
        lines.append("  input schema:")
        lines.extend("    " + line for line in json.dumps(spec.input_schema, indent=2).splitlines())
        if spec.output_schema is not None:
            lines.append("  output schema:")
            lines.extend("    " + line for line in json.dumps(spec.output_schema, indent=2).splitlines())
    return lines


def handle(args: argparse.Namespace, ctx: Context) -> int:
    registry = build_registry(engine_options(args), ctx.env)
    specs = list(registry)
    if args.names:
        unknown = [name for name in args.names if name not in registry]
        if unknown:
            close = difflib.get_close_matches(unknown[0], registry.names(), n=3)
            known = ", ".join(registry.names()) or "none"
            hint = f"did you mean {', '.join(close)}?" if close else f"registered tools: {known}"
            raise CliError(f"no tool named {unknown[0]!r}", hint)
        specs = [registry[name] for name in args.names]
    if args.json:
        ctx.stdout.write(json.dumps([spec.to_json() for spec in specs], indent=2) + "\n")
        return 0
    if not specs:
        ctx.stdout.write("no tools registered (add some with --tools module:attr, or drop --no-demo)\n")
        return 0
    for i, spec in enumerate(specs):
        if i:
            ctx.stdout.write("\n")
        ctx.stdout.write("\n".join(describe(spec, full=bool(args.names))) + "\n")
    return 0


TOOLS = Command(
    name="tools",
    help="list the registered tools with their schemas",
    description="List the tools a run would register (the demo toolkit, installed plugins and --tools) "
    "with their arguments, return types and options. Name tools to see their full JSON Schemas.",
    configure=configure,
    handler=handle,
)
