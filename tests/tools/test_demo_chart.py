"""chart: a bar chart PNG on disk, labelled as sample data, written atomically."""

from __future__ import annotations

import math
from pathlib import Path

import anyio
import pytest
from PIL import Image

from reasoner.errors import ToolRetry
from reasoner.tools.demo import ChartResult, default_chart_dir, make_chart
from reasoner.tools.demo._chart import FOOTER, _figure


def _png(path: str) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def test_writes_a_png_into_the_chosen_folder_and_returns_its_path(tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    result = chart([203.7, 413.62, 176.28], ["AMZN", "MSFT", "GOOGL"], "Latest close")
    path = Path(result.path)
    assert path.parent == tmp_path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = _png(result.path)
    assert image.format == "PNG"
    assert image.size == (result.width, result.height) == (640, 400)
    assert result == ChartResult(path=str(path), title="Latest close", bars=3, width=640, height=400)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_every_chart_says_sample_data(tmp_path: Path) -> None:
    result = make_chart(tmp_path)([1.0, 2.0])
    assert _png(result.path).info["Source"] == FOOTER
    assert "sample data" in FOOTER
    assert _figure([1.0, 2.0], ["a", "b"], "t").get_supxlabel() == FOOTER


def test_the_same_chart_goes_to_the_same_file_and_a_different_one_elsewhere(tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    first = chart([1.0, 2.0], ["a", "b"], "x")
    assert chart([1.0, 2.0], ["a", "b"], "x").path == first.path
    assert chart([1.0, 2.5], ["a", "b"], "x").path != first.path
    assert chart([1.0, 2.0], ["a", "b"], "y").path != first.path


def test_bars_are_numbered_without_labels_and_negatives_are_drawn(tmp_path: Path) -> None:
    result = make_chart(tmp_path)([-3.0, 5.5, 0.0], title="")
    assert result.bars == 3
    assert _png(result.path).size == (640, 400)


def test_the_output_folder_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "charts"
    assert Path(make_chart(folder)([1.0]).path).parent == folder


def test_default_folder_is_in_the_temp_dir() -> None:
    assert default_chart_dir().name == "reasoner-charts"


@pytest.mark.parametrize(
    ("values", "labels", "reason"),
    [
        ([], None, "values is empty"),
        ([1.0] * 51, None, "more than 50 bars"),
        ([1.0, math.nan], None, "finite"),
        ([1.0, math.inf], None, "finite"),
        ([1.0, 2.0], ["only one"], "1 labels for 2 values"),
    ],
)
def test_unusable_input_is_sent_back_to_the_planner(
    tmp_path: Path, values: list[float], labels: list[str] | None, reason: str
) -> None:
    with pytest.raises(ToolRetry, match=reason):
        make_chart(tmp_path)(values, labels)


async def test_concurrent_calls_from_worker_threads_each_write_a_valid_png(tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    results: list[ChartResult] = []

    async def draw(i: int) -> None:
        results.append(await anyio.to_thread.run_sync(chart, [float(i), float(i + 1)], ["a", "b"], f"chart {i}"))

    async with anyio.create_task_group() as group:
        for i in range(4):
            group.start_soon(draw, i)
    assert len({r.path for r in results}) == 4
    assert all(_png(r.path).size == (640, 400) for r in results)
