"""Docstring parsing: the summary, per-parameter descriptions and the return description.

Three common styles are understood, and may not be mixed within one docstring:

- Google: ``Args:`` (or ``Arguments:``, ``Parameters:``, ``Params:``, ``Keyword Args:``)
  with ``name (type): text`` entries, and ``Returns:``.
- NumPy: a ``Parameters`` header underlined with dashes, ``name : type`` entries with the
  text indented below, and ``Returns``.
- Sphinx/reST: ``:param name: text``, ``:param type name: text``, ``:returns: text``.

Continuation lines are joined with single spaces. Anything not recognised is left out of
the parameter descriptions, never guessed.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_PARAMS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters"}
_GOOGLE_RETURNS = {"returns", "return"}
_GOOGLE_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
_GOOGLE_SECTIONS = _GOOGLE_PARAMS | _GOOGLE_RETURNS | {
    "yields", "raises", "example", "examples", "note", "notes", "attributes", "see also",
    "warning", "warnings", "todo", "references", "methods",
}  # fmt: skip
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*\*{0,2}[A-Za-z_][A-Za-z0-9_]*)*)\s*(?::\s*(.*))?$")
_SPHINX_FIELD = re.compile(r"^:(\w+)((?:\s+[^:]+)?)\s*:\s*(.*)$")
# "Price: the latest close" -> "the latest close" (a Google ``Returns:`` entry may start with its type)
_TYPE_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:\s*\|\s*[A-Za-z_][\w.]*(?:\[[^\]]*\])?)*:\s+")


@dataclass(frozen=True, slots=True)
class Docstring:
    """What a docstring says: the free text, each parameter's text, the return text."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)
    returns: str | None = None


def parse_docstring(doc: str | None) -> Docstring:
    """Parse a Google, NumPy or Sphinx docstring; an empty or missing one gives empty fields."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    if any(_SPHINX_FIELD.match(line.strip()) for line in lines):
        return _parse_sphinx(lines)
    if any(_NUMPY_UNDERLINE.match(lines[i + 1]) and lines[i].strip() for i in range(len(lines) - 1)):
        return _parse_numpy(lines)
    return _parse_google(lines)


def _join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _description(lines: list[str]) -> str:
    paragraphs = "\n".join(line.rstrip() for line in lines).strip()
    return re.sub(r"\n{3,}", "\n\n", paragraphs)


def _parse_google(lines: list[str]) -> Docstring:
    sections: dict[str, list[str]] = {}
    head: list[str] = []
    current: list[str] | None = None
    for line in lines:
        match = _GOOGLE_HEADER.match(line)
        if match and _indent(line) == 0 and match.group(1).strip().lower() in _GOOGLE_SECTIONS:
            current = sections.setdefault(match.group(1).strip().lower(), [])
            continue
        if current is None:
            head.append(line)
        else:
            current.append(line)
    params: dict[str, str] = {}
    for key in _GOOGLE_PARAMS:
        params.update(_google_entries(sections.get(key, [])))
    returns = next((sections[k] for k in ("returns", "return") if k in sections), None)
    returns_text = _TYPE_PREFIX.sub("", _join(returns), count=1) if returns else None
    return Docstring(_description(head), params, returns_text or None)


def _google_entries(body: list[str]) -> dict[str, str]:
    entries: dict[str, list[str]] = {}
    base: int | None = None
    name: str | None = None
    for line in body:
        if not line.strip():
            continue
        indent = _indent(line)
        if base is None:
            base = indent
        match = _GOOGLE_ENTRY.match(line.strip())
        if indent <= base and match:
            name = match.group(1)
            entries[name] = [match.group(2)]
        elif name is not None and indent > base:
            entries[name].append(line)
    return {k: _join(v) for k, v in entries.items()}


def _parse_numpy(lines: list[str]) -> Docstring:
    sections: dict[str, list[str]] = {}
    head: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and _NUMPY_UNDERLINE.match(lines[i + 1]):
            current = sections.setdefault(line.strip().lower(), [])
            i += 2
            continue
        (head if current is None else current).append(line)
        i += 1
    params: dict[str, str] = {}
    for key in ("parameters", "other parameters", "keyword arguments"):
        for names, text in _numpy_entries(sections.get(key, [])):
            for name in names:
                params[name] = text
    returns_text: str | None = None
    if "returns" in sections:
        entries = _numpy_entries(sections["returns"])
        returns_text = " ".join(text or ", ".join(names) for names, text in entries) or None
    return Docstring(_description(head), params, returns_text)


def _numpy_entries(body: list[str]) -> list[tuple[list[str], str]]:
    entries: list[tuple[list[str], list[str]]] = []
    base: int | None = None
    for line in body:
        if not line.strip():
            continue
        indent = _indent(line)
        if base is None:
            base = indent
        if indent <= base:
            match = _NUMPY_ENTRY.match(line.strip())
            names = [n.strip().lstrip("*") for n in match.group(1).split(",")] if match else [line.strip()]
            entries.append((names, []))
        elif entries:
            entries[-1][1].append(line)
    return [(names, _join(text)) for names, text in entries]


def _parse_sphinx(lines: list[str]) -> Docstring:
    head: list[str] = []
    fields: list[tuple[str, str, list[str]]] = []
    for line in lines:
        match = _SPHINX_FIELD.match(line.strip())
        if match:
            fields.append((match.group(1), match.group(2).strip(), [match.group(3)]))
        elif fields:
            fields[-1][2].append(line)
        else:
            head.append(line)
    params: dict[str, str] = {}
    returns: str | None = None
    for kind, arg, text in fields:
        if kind in ("param", "parameter", "arg", "argument", "key", "keyword") and arg:
            params[arg.split()[-1].lstrip("*")] = _join(text)
        elif kind in ("returns", "return"):
            returns = _join(text) or None
    return Docstring(_description(head), params, returns)
