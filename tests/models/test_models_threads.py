"""The torch thread count of local decoding: the cores other processes leave free."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from reasoner.errors import UsageError
from reasoner.models import _threads
from reasoner.models._threads import ThreadPolicy, others_busy_cores


@pytest.fixture(autouse=True)
def keep_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("REASONER_THREADS", raising=False)  # tests/conftest.py fixes it for the other tests
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_others_busy_cores_subtracts_this_process() -> None:
    # 2 s of wall time: the machine was busy 3.0 CPU-seconds, 1.0 of them ours
    assert others_busy_cores((10.0, 100.0, 5.0), (12.0, 103.0, 6.0)) == pytest.approx(1.0)
    assert others_busy_cores((10.0, 100.0, 5.0), (12.0, 101.0, 6.0)) == 0.0  # never negative
    assert others_busy_cores((10.0, 100.0, 5.0), (10.0, 101.0, 5.0)) == 0.0


class Clock:
    """Scripted snapshots: others keep ``busy`` cores busy; this process uses none."""

    def __init__(self, busy: float) -> None:
        self.now, self.cpu, self.busy = 0.0, 0.0, busy

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.cpu += self.busy * seconds

    def __call__(self) -> tuple[float, float, float]:
        return self.now, self.cpu, 0.0


def _scripted(monkeypatch: pytest.MonkeyPatch, busy: float, cores: int, threads: int) -> tuple[Clock, ThreadPolicy]:
    """A policy over ``cores`` CPUs reading a scripted clock, torch at ``threads`` threads."""
    clock = Clock(busy)
    monkeypatch.setattr(_threads, "_snapshot", clock)
    monkeypatch.setattr(_threads, "_now", lambda: clock.now)
    monkeypatch.setattr(_threads, "_cores", lambda: cores)
    torch.set_num_threads(threads)
    return clock, ThreadPolicy()


@pytest.mark.parametrize(("busy", "expected"), [(0.1, 4), (1.2, 3), (2.0, 2), (3.7, 1), (9.0, 1)])
def test_the_cores_left_free_are_used(monkeypatch: pytest.MonkeyPatch, busy: float, expected: int) -> None:
    clock, policy = _scripted(monkeypatch, busy, cores=4, threads=4)
    clock.advance(0.5)
    assert policy.apply() == 4  # the first window is not a second long yet: unchanged
    clock.advance(0.6)
    assert policy.apply() == expected == torch.get_num_threads()


def test_a_look_at_most_once_a_second_and_stale_windows_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, policy = _scripted(monkeypatch, busy=1.9, cores=2, threads=2)
    clock.advance(1.5)
    assert policy.apply() == 1
    clock.busy = 0.0  # the neighbour stops
    clock.advance(0.5)
    assert policy.apply() == 1  # too soon to look again
    clock.advance(0.6)
    assert policy.apply() == 2
    clock.busy = 1.9
    clock.advance(60.0)  # idle for a minute: that window is dropped, a new one starts
    assert policy.apply() == 2
    clock.advance(1.0)
    assert policy.apply() == 1


def test_a_fixed_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "_snapshot", Clock(busy=5.0))
    assert ThreadPolicy(3).apply() == 3 == torch.get_num_threads()
    monkeypatch.setenv("REASONER_THREADS", "1")
    assert ThreadPolicy().apply() == 1 == torch.get_num_threads()


def test_bad_counts_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="threads must be 1 or more"):
        ThreadPolicy(0)
    monkeypatch.setenv("REASONER_THREADS", "two")
    with pytest.raises(UsageError, match="REASONER_THREADS='two' is not a whole number"):
        ThreadPolicy()


def test_the_real_proc_files_are_read() -> None:
    snapshot = _threads._snapshot()
    if snapshot is None:
        pytest.skip("no /proc here")
    wall, busy, mine = snapshot
    assert wall > 0 and busy > 0 and mine > 0


def test_never_more_threads_than_torch_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # a container may see 64 CPUs it is not allowed to fill: torch's own default caps the count
    clock, policy = _scripted(monkeypatch, busy=0.0, cores=64, threads=2)
    clock.advance(1.5)
    assert policy.apply() == 2
