from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reasoner.errors import ToolDefinitionError, UsageError
from reasoner.tools import ToolRegistry

MakeDist = Callable[..., str]

PLUGIN = """
from reasoner.tools import ToolSpec, tool


@tool
def forecast(city: str) -> str:
    '''Weather forecast.'''
    return "sunny in " + city


def plain(n: int) -> int:
    return n * 2


def _echo(text: str) -> str:
    return text


echo = ToolSpec.from_function(_echo, name="echo")
bundle = [ToolSpec.from_function(_echo, name="echo.loud"), plain]


def make_tools():
    @tool(name="factory.made")
    def made(x: int) -> int:
        return x

    return [made]


def variadic(*xs: int) -> int:
    return 0


bad_bundle = [variadic]
not_a_tool = 42


def failing_factory():
    raise RuntimeError("no API key")
"""


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Write a fake installed distribution (dist-info + module) and put it on sys.path."""
    modules: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(dist: str, entry_points: dict[str, str], *, group: str, source: str = PLUGIN) -> str:
        module = f"fake_plugin_{uuid.uuid4().hex[:8]}"
        modules.append(module)
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = [f"[{group}]", *(f"{name} = {value.format(module=module)}" for name, value in entry_points.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)


@pytest.fixture
def group() -> str:
    return f"reasoner_test_{uuid.uuid4().hex[:8]}"


async def test_each_kind_of_entry_point_is_loaded(make_dist: MakeDist, group: str) -> None:
    make_dist(
        "fake-weather",
        {
            "a_function": "{module}:forecast",
            "b_spec": "{module}:echo",
            "c_list": "{module}:bundle",
            "d_factory": "{module}:make_tools",
        },
        group=group,
    )
    registry = ToolRegistry.from_entry_points(group)
    # ordered by distribution, then entry-point name; a list keeps its own order
    assert registry.names() == ["forecast", "echo", "echo.loud", "plain", "factory.made"]
    assert await registry["forecast"].invoke({"city": "Oslo"}) == "sunny in Oslo"
    assert await registry["plain"].invoke({"n": 4}) == 8


def test_the_default_group_is_reasoner_tools(make_dist: MakeDist) -> None:
    make_dist("fake-default", {"weather": "{module}:forecast"}, group="reasoner.tools")
    assert "forecast" in ToolRegistry.from_entry_points().names()
    registry = ToolRegistry.of([])
    added = registry.load_entry_points()
    assert "forecast" in [spec.name for spec in added] and "forecast" in registry


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("fake_missing_module_xyz:tool", "failed to import: ModuleNotFoundError"),
        ("{module}:does_not_exist", "failed to import: AttributeError"),
        ("{module}:not_a_tool", "names a int, not a tool"),
        ("{module}:failing_factory", "the tool factory raised RuntimeError: no API key"),
        ("{module}:bad_bundle", r"parameter 'xs' \(\*xs\) is variadic"),
    ],
)
def test_a_broken_plugin_is_reported_naming_the_entry_point_and_distribution(
    make_dist: MakeDist, group: str, value: str, why: str
) -> None:
    make_dist("fake-good", {"good": "{module}:forecast"}, group=group)
    make_dist("fake-broken", {"broken": value}, group=group)
    registry = ToolRegistry()
    with pytest.raises(ToolDefinitionError, match=why) as info:
        registry.load_entry_points(group)
    message = str(info.value)
    assert "entry point 'broken'" in message
    assert "distribution fake-broken 1.0" in message
    assert f"group {group!r}" in message
    assert len(registry) == 0  # nothing half-registered


def test_two_distributions_providing_the_same_name_conflict(make_dist: MakeDist, group: str) -> None:
    make_dist("fake-one", {"weather": "{module}:forecast"}, group=group)
    make_dist("fake-two", {"weather2": "{module}:forecast"}, group=group)
    with pytest.raises(UsageError, match="distribution fake-two 1.0 provides a tool named 'forecast'.*fake-one 1.0"):
        ToolRegistry.from_entry_points(group)


def test_a_plugin_tool_clashing_with_a_registered_tool(make_dist: MakeDist, group: str) -> None:
    make_dist("fake-clash", {"weather": "{module}:forecast"}, group=group)

    def forecast(city: str) -> str:
        return city

    registry = ToolRegistry.of([forecast])
    with pytest.raises(UsageError, match="provides a tool named 'forecast', but a tool registered earlier"):
        registry.load_entry_points(group)
    assert registry.names() == ["forecast"]


def test_an_empty_group_gives_an_empty_registry(group: str) -> None:
    assert len(ToolRegistry.from_entry_points(group)) == 0
