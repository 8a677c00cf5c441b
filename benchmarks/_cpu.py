"""What the CPU benchmarks print about the machine and the code they ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch

from reasoner.models._dtype import cpu_bf16_support


def cpu() -> str:
    """The CPU model name, its core count, torch's thread count and bf16 support."""
    name = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    bf16 = cpu_bf16_support() or "no bf16 instructions"
    return f"{name}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, {bf16}"


def commit() -> str:
    """The short commit, ``+dirty`` when tracked files differ from it."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load() -> str:
    """The 1-minute load average and the niceness this process runs at."""
    return f"load average {os.getloadavg()[0]:.2f}, nice {os.nice(0)}"
