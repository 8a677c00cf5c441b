"""Loading what options name: ``module:attr`` objects, tools, the ``--output`` type."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.tools import ToolRegistry, ToolSpec

__all__ = ["OptionError", "add_tools", "import_object", "load_output"]


class OptionError(UsageError):
    """A wrong option (a flag, a setting): ``message`` says what is wrong, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_FORM = "the form is module:attr (e.g. mytools:search) or path/to/file.py:attr"


# -- module:attr -------------------------------------------------------------------------


def _import_module(target: str, option: str, spec: str) -> ModuleType:
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise OptionError(f"{option} {spec!r}: no file {str(path)!r}", f"check the path; {_FORM}")
        name = f"_reasoner_tools_{path.stem}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise OptionError(f"{option} {spec!r}: cannot load {str(path)!r} as a Python module", "give a .py file")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise _import_failed(option, spec, str(path), exc) from exc
        return module
    # Modules in the current folder are importable, but only after everything installed:
    # a folder first on sys.path would shadow installed packages (a checkout of reasoner
    # holds a `kernels/` folder, and transformers imports the top-level `kernels` package).
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is not None and target.startswith(exc.name) and target[len(exc.name) :][:1] in ("", "."):
            raise OptionError(
                f"{option} {spec!r}: no module named {exc.name!r}",
                f"run reasoner from the folder that holds {exc.name}.py, or install the package; {_FORM}",
            ) from exc
        raise _import_failed(option, spec, target, exc) from exc
    except Exception as exc:
        raise _import_failed(option, spec, target, exc) from exc


def _import_failed(option: str, spec: str, target: str, exc: BaseException) -> OptionError:
    return OptionError(
        f"{option} {spec!r}: importing {target} raised {type(exc).__name__}: {exc}",
        f"fix the error in {target} (run with --debug to see the traceback)",
    )


def import_object(spec: str, option: str) -> Any:
    """The object ``module:attr`` (``attr`` may be dotted; ``module`` may be a ``.py`` path).

    Raises :class:`OptionError` naming the option, the module and the attribute, with the fix.
    """
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise OptionError(f"{option} {spec!r} names no attribute", _FORM)
    module = _import_module(target, option, spec)
    value: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(value, part):
            owner = target if i == 0 else f"{target}:{'.'.join(attr.split('.')[:i])}"
            public = [n for n in dir(value) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=3)
            hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else f"{owner} defines {_few(public)}"
            raise OptionError(f"{option} {spec!r}: {owner} has no attribute {part!r}", hint)
        value = getattr(value, part)
    return value


def _few(names: list[str]) -> str:
    if not names:
        return "no public names"
    shown = ", ".join(names[:8])
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "")


# -- the tool registry -------------------------------------------------------------------


def _tool_items(value: Any, option: str, spec: str) -> list[Any]:
    if isinstance(value, ToolRegistry):
        return list(value)
    if isinstance(value, ToolSpec) or callable(value) and not isinstance(value, type):
        return [value]
    if isinstance(value, list | tuple):
        bad = [item for item in value if not (isinstance(item, ToolSpec) or callable(item) and not isinstance(item, type))]
        if not bad:
            return list(value)
        value = bad[0]
    raise OptionError(
        f"{option} {spec!r} is a {type(value).__name__} ({value!r:.60}), not a tool",
        "point it at a function, a ToolSpec, a list of them or a ToolRegistry",
    )


def _register(registry: ToolRegistry, items: Iterable[Any], source: str, clash_hint: str) -> None:
    for item in items:
        try:
            registry.add(item)
        except ToolDefinitionError as exc:
            hint = "change the function so that each parameter is named and typed (or wrap it in one that is)"
            raise OptionError(f"{source}: {exc}", hint) from exc
        except UsageError as exc:  # a name already taken
            raise OptionError(f"{source}: {exc}", clash_hint) from exc


def add_tools(registry: ToolRegistry, spec: str, option: str, clash_hint: str) -> None:
    """Register the tools ``spec`` (``module:attr``) names: a function, a ToolSpec, a list of
    them or a ToolRegistry; :class:`OptionError` naming ``option`` when it cannot."""
    value = import_object(spec, option)
    _register(registry, _tool_items(value, option, spec), f"{option} {spec!r}", clash_hint)


# -- --output ------------------------------------------------------------------------------


def load_output(spec: str) -> Any:
    """The ``output=`` type for ``--output``: ``module:Model`` (anything pydantic's
    ``TypeAdapter`` takes) or a JSON Schema file (``.json``), passed as a dict: the answer is then
    the JSON value, validated against it."""
    from pydantic import TypeAdapter

    path = Path(spec).expanduser()
    if spec.endswith(".json") or path.is_file():
        return _schema_type(path, spec)
    if ":" not in spec:
        raise OptionError(
            f"--output {spec!r} is neither module:Model nor a JSON Schema file",
            "pass a pydantic model as module:Model (e.g. myapp.models:Report) or the path of a .json file",
        )
    value = import_object(spec, "--output")
    try:
        TypeAdapter(value).json_schema()
    except Exception as exc:
        raise OptionError(
            f"--output {spec!r}: pydantic cannot build a JSON Schema for {value!r:.60}: {exc}",
            "point it at a pydantic model, a dataclass or a typed container",
        ) from exc
    return value


def _schema_type(path: Path, spec: str) -> dict[str, Any]:
    """The JSON Schema in ``path``, for ``output=`` (the loop checks and inlines it)."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OptionError(f"--output {spec!r}: no such file", "check the path of the JSON Schema file") from exc
    except ValueError as exc:
        raise OptionError(f"--output {spec!r} is not JSON: {exc}", "fix the file so it holds one JSON Schema object") from exc
    if not isinstance(schema, dict):
        raise OptionError(f"--output {spec!r} holds a {type(schema).__name__}, not a JSON Schema object", 'write a schema like {"type": "object", ...}')
    from reasoner._output import output_schema

    try:
        output_schema(schema)
    except UsageError as exc:
        raise OptionError(f"--output {spec!r}: {exc}", "fix the schema") from exc
    return schema
