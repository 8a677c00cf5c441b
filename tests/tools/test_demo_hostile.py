"""Demo tools against hostile input: numbers past a float, TeX in titles, planted symlinks, odd addresses."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from reasoner.errors import ToolError, ToolRetry, UsageError
from reasoner.tools._http import make_http_get
from reasoner.tools.demo import _chart as chart_module
from reasoner.tools.demo import calculator, convert_units, default_chart_dir, make_chart


def test_round_with_more_digits_than_decimals_default_precision() -> None:
    assert calculator("round(1e20, 10)").value == 1e20  # was decimal.InvalidOperation
    assert calculator("round(1e308, 100)").value == 1e308
    assert calculator("round(2.675, 2)").value == 2.68


def test_a_conversion_past_the_largest_float_is_a_retry_not_infinity() -> None:
    with pytest.raises(ToolRetry, match="too large for a number"):
        convert_units(1e308, "km", "mm")


@pytest.mark.parametrize("title", ["$x^{$", "$" + "{" * 45 + "x" + "}" * 45 + "$", r"costs $5 and $6 \frac"])
def test_chart_titles_and_labels_are_text_not_tex(tmp_path: Path, title: str) -> None:
    result = make_chart(tmp_path)([1.0, 2.0], [title, "$a_{$"], title)  # was ValueError / RecursionError from mathtext
    assert Path(result.path).stat().st_size > 0 and result.title == title


def test_the_default_chart_folder_is_private_to_this_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = default_chart_dir()
    assert folder.parent.name == f"reasoner-{os.getuid()}"
    result = chart_module.chart([1.0, 2.0])
    assert Path(result.path).parent == folder and (folder.parent.stat().st_mode & 0o777) == 0o700


def test_a_planted_symlink_for_the_chart_folder_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    default_chart_dir().parent.symlink_to(elsewhere)  # what another user of a shared /tmp can do
    with pytest.raises(ToolError, match="not a private folder"):
        chart_module.chart([1.0, 2.0])
    assert not any(elsewhere.iterdir())
    os.unlink(default_chart_dir().parent)
    default_chart_dir().parent.mkdir(mode=0o777)
    os.chmod(default_chart_dir().parent, 0o777)
    with pytest.raises(ToolError, match="open to others"):
        chart_module.chart([1.0, 2.0])


def _get(hosts: dict[str, Sequence[str]], **options: object):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> Sequence[str]:
        return hosts[host]

    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="inside")))
    return make_http_get(client, resolver=resolve, **options)


@pytest.mark.parametrize("address", ["192.0.0.8", "192.31.196.1", "192.52.193.1", "192.175.48.1", "3fff::1", "2620:4f:8000::1"])
async def test_special_purpose_addresses_pythons_tables_call_global_are_refused(address: str) -> None:
    with pytest.raises(ToolRetry, match="special-purpose"):
        await _get({"h.example": [address]})("http://h.example/")


async def test_allow_opens_one_network_not_all() -> None:
    get = _get({"svc.internal": ["10.1.2.3"], "db.internal": ["10.9.9.9"], "me": ["127.0.0.1"]}, allow=["10.1.2.0/24", "127.0.0.1"])
    assert (await get("http://svc.internal/")).text == "inside"
    assert (await get("http://me/")).text == "inside"
    with pytest.raises(ToolRetry, match="a private address"):
        await get("http://db.internal/")
    with pytest.raises(UsageError, match="allow="):
        make_http_get(allow=["not a network"])
