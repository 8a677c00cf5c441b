"""The one benchmark header: what every benchmark prints about the machine and the code it ran on.

``header("bench_x")`` is the line to print first; ``cpu_name()``, ``cpu()``, ``commit()`` and
``load()`` are its parts (``cpu()`` adds torch's threads and bf16 support, importing torch);
``gpu()`` names the CUDA device and the software that drives it.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def cpu_name() -> str:
    """The CPU model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu() -> str:
    """The CPU model name, its core count, torch's thread count and bf16 support."""
    import torch

    from reasoner.models._dtype import cpu_bf16_support

    bf16 = cpu_bf16_support() or "no bf16 instructions"
    return f"{cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, {bf16}"


def gpu() -> str:
    """The CUDA device (name, memory, compute capability), driver, CUDA, torch and
    transformers versions; or why there is none."""
    import torch
    import transformers

    if not torch.cuda.is_available():
        return f"no CUDA device (torch {torch.__version__})"
    props = torch.cuda.get_device_properties(0)
    driver = "unknown"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        driver = out.stdout.strip().splitlines()[0] if out.stdout.strip() else driver
    except (OSError, subprocess.SubprocessError):
        pass
    return (
        f"{props.name}, {props.total_memory / 2**30:.0f} GiB, sm_{props.major}{props.minor}, {props.multi_processor_count} SMs, "
        f"driver {driver}, CUDA {torch.version.cuda}, torch {torch.__version__}, transformers {transformers.__version__}"
    )


def commit() -> str:
    """The short commit, ``+dirty`` when tracked files differ from it."""
    here = Path(__file__).parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load() -> str:
    """The 1-minute load average and the niceness this process runs at."""
    return f"load average {os.getloadavg()[0]:.2f}, nice {os.nice(0)}"


def header(name: str) -> str:
    """``name``, then the CPU and its cores, Python, the load, and the commit, on one line."""
    return f"{name}  commit {commit()}  {cpu_name()}, {os.cpu_count()} cores  Python {platform.python_version()}  {load()}"
