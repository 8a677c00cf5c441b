"""How many torch threads local decoding uses: the cores that other processes leave free.

On a CPU, a forward pass split over N threads waits for the slowest of them; when another
process keeps a core busy, one of ours is descheduled at every step and a decode step of
SmolLM2 in bf16 took 1.5 s with 2 threads where 1 thread took 0.15 s (2 cores, a training
job beside it). :class:`ThreadPolicy` measures, between steps and at most once a second,
how much CPU time the rest of the machine used since the last look (``/proc/stat`` minus
this process's own ``/proc/self/stat``; the first window opens when the model is built,
and one older than 30 s is discarded) and sets ``torch.set_num_threads`` to the cores
left free, at least one. ``$REASONER_THREADS`` (or ``threads=``) fixes the count instead;
where ``/proc`` cannot be read, torch's own default stands.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

from reasoner.errors import UsageError

__all__ = ["ThreadPolicy", "others_busy_cores"]

_LOOK_EVERY_S = 1.0  # at most one look per second: each window is at least this long
_STALE_S = 30.0  # a longer window (the model sat idle) starts a new one instead


_now = time.monotonic


def _cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def _cores() -> int:
    return len(_cpus())


def _snapshot() -> tuple[float, float, float] | None:
    """(wall seconds, busy CPU-seconds of the CPUs this process may run on, this process's
    CPU-seconds), or ``None``. Only those CPUs count: in a container, ``/proc/stat`` can
    list the whole host."""
    cpus = _cpus()
    try:
        lines = Path("/proc/stat").read_text().splitlines()
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        busy = 0
        for line in lines:
            name, *fields = line.split() or [""]
            if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus):
                continue
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            busy += sum(values) - values[3] - (values[4] if len(values) > 4 else 0)
        mine = int(own[11]) + int(own[12])  # utime, stime (fields 14 and 15 of the whole line)
    except (OSError, IndexError, ValueError):
        return None
    return _now(), busy / ticks, mine / ticks


def others_busy_cores(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """The cores other processes kept busy on average between two snapshots."""
    wall = after[0] - before[0]
    if wall <= 0:
        return 0.0
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(0.0, others / wall)


class ThreadPolicy:
    """Chooses the torch thread count for local decoding (module doc).

    Args:
        threads: a fixed count; ``None`` reads ``$REASONER_THREADS``, else adapts to the load.
    """

    def __init__(self, threads: int | None = None) -> None:
        if threads is None and os.environ.get("REASONER_THREADS"):
            raw = os.environ["REASONER_THREADS"]
            try:
                threads = int(raw)
            except ValueError:
                raise UsageError(f"REASONER_THREADS={raw!r} is not a whole number of threads") from None
        if threads is not None and threads < 1:
            raise UsageError(f"threads must be 1 or more, not {threads}")
        self.fixed = threads
        self.cores = min(_cores(), torch.get_num_threads())  # never more than torch's own default
        self.chosen: int | None = None  # the last count set
        self._last = None if threads is not None else _snapshot()  # the first window starts now

    def apply(self) -> int:
        """Set (and return) the thread count for the next steps: call between steps."""
        if self.fixed is not None:
            wanted = self.fixed
        else:
            before = self._last
            if before is not None and _now() - before[0] < _LOOK_EVERY_S:
                return torch.get_num_threads()  # without reading /proc: this runs before every step
            now = _snapshot()
            if now is None:
                return torch.get_num_threads()
            self._last = now
            if before is None or now[0] - before[0] > _STALE_S:  # an old window says little about now
                return torch.get_num_threads()
            free = self.cores - others_busy_cores(before, now)
            wanted = max(1, min(self.cores, math.floor(free + 0.5)))
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)  # per thread under OpenMP: the decode thread's own
        self.chosen = wanted
        return wanted
