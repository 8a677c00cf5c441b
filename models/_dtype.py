"""Which dtype a local model runs in: bf16 where the hardware computes it natively, else fp32.

On CUDA that is always bfloat16. On a CPU, bfloat16 only pays where the processor has
bf16 instructions (AVX512-BF16 or AMX-BF16: oneDNN then runs bf16 matrix products at
about twice the fp32 rate, and every weight read moves half the bytes); elsewhere torch
emulates bf16 through fp32 and it is slower than plain fp32, so float32 is the default.

The choice, strongest first: a ``dtype`` given to the loader (``load_model(dtype=...)``,
``TransformersModel.from_folder(dtype=...)``, a catalog entry's ``dtype``, the CLI's
``--dtype``); else the ``REASONER_DTYPE`` environment variable; else ``"auto"`` as above.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reasoner.errors import UsageError

if TYPE_CHECKING:
    import torch

__all__ = ["DTYPE_ENV", "DTYPE_NAMES", "DtypeName", "cpu_bf16_support", "resolve_dtype"]

DTYPE_ENV = "REASONER_DTYPE"
DtypeName = Literal["auto", "float32", "bfloat16", "float16"]
DTYPE_NAMES: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.cache
def cpu_bf16_support() -> str | None:
    """The CPU feature that makes bf16 fast here (``"amx_bf16"`` or ``"avx512_bf16"``, from
    ``/proc/cpuinfo``), or ``None`` when the processor has neither (or does not say)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return next((flag for flag in _BF16_FLAGS if flag in flags), None)
    return None


def resolve_dtype(dtype: str | torch.dtype | None, device: str | torch.device) -> torch.dtype:
    """The torch dtype for a model on ``device``: ``dtype`` itself when it is a torch dtype or
    a name (``"float32"``, ``"bfloat16"``, ``"float16"``); for ``None`` the ``REASONER_DTYPE``
    environment variable, else ``"auto"``; ``"auto"`` is bfloat16 on CUDA and on CPUs with
    bf16 instructions (see :func:`cpu_bf16_support`), float32 elsewhere.

    Raises:
        UsageError: an unknown dtype name (the message lists the known ones).
    """
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    source = "dtype"
    if dtype is None:
        dtype, source = os.environ.get(DTYPE_ENV) or "auto", DTYPE_ENV
    name = dtype.strip().lower().removeprefix("torch.")
    if name not in DTYPE_NAMES:
        raise UsageError(f"{source}={dtype!r} is not a dtype this backend runs: use one of {', '.join(DTYPE_NAMES)}")
    if name != "auto":
        result: torch.dtype = getattr(torch, name)
        return result
    if torch.device(device).type == "cuda" or cpu_bf16_support() is not None:
        return torch.bfloat16
    return torch.float32
