"""The Triton twin of :func:`apply_token_bitmask_reference` (CUDA only).

Imported lazily: ``triton`` is optional and this module is only loaded for CUDA logits.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import torch

_BLOCK = 1024


@functools.cache
def triton_available() -> bool:
    """Whether the Triton kernel can run here (triton importable and a CUDA device present)."""
    return importlib.util.find_spec("triton") is not None and torch.cuda.is_available()


@functools.cache
def _kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit  # type: ignore[misc, untyped-decorator, unused-ignore]
    def bitmask_kernel(
        logits_ptr: Any,
        bitmask_ptr: Any,
        vocab: Any,
        words: Any,
        logits_stride: Any,
        bitmask_stride: Any,
        BLOCK: tl.constexpr,
    ) -> None:
        row = tl.program_id(1)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        in_vocab = offs < vocab
        word = offs // 32
        covered = word < words
        packed = tl.load(bitmask_ptr + row * bitmask_stride + word, mask=in_vocab & covered, other=0)
        allowed = (packed >> (offs % 32)) & 1
        tl.store(logits_ptr + row * logits_stride + offs, float("-inf"), mask=in_vocab & (allowed == 0))

    return bitmask_kernel


def apply_token_bitmask_triton(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """In place on CUDA: ``logits`` [V] or [B, V], ``bitmask`` [W] (shared by every row) or
    [B, W] int32 on the same device."""
    rows = logits.view(1, -1) if logits.dim() == 1 else logits
    masks = bitmask.view(1, -1) if bitmask.dim() == 1 else bitmask
    if rows.stride(-1) != 1 or masks.stride(-1) != 1:
        raise ValueError("apply_token_bitmask_triton needs the last dimension contiguous")
    batch, vocab = rows.shape
    grid = (-(-vocab // _BLOCK), batch)
    mask_stride = 0 if bitmask.dim() == 1 else masks.stride(0)
    _kernel()[grid](rows, masks, vocab, masks.shape[-1], rows.stride(0), mask_stride, BLOCK=_BLOCK)
    return logits
