"""Apply a packed token bitmask to logits: the torch reference and the dispatcher.

A bitmask is an int32 tensor ``[..., W]`` whose bit ``i % 32`` of word ``i // 32`` says
whether token ``i`` is allowed (the layout llguidance and xgrammar fill). The logits
``[..., V]`` may be wider than the mask covers (a model's embedding rows are often padded
past the tokenizer's vocabulary): tokens the mask does not cover are disallowed.
"""

from __future__ import annotations

import torch

from reasoner.errors import UsageError

__all__ = ["allocate_token_bitmask", "apply_token_bitmask", "apply_token_bitmask_reference", "unpack_token_bitmask"]

_BITS = 32


def allocate_token_bitmask(vocab_size: int, *, batch: int | None = None, pin_memory: bool = False) -> torch.Tensor:
    """A zeroed int32 bitmask for ``vocab_size`` tokens on the CPU: ``[ceil(V/32)]`` or
    ``[batch, ceil(V/32)]``; in page-locked memory with ``pin_memory`` (needs CUDA), so its
    copy to the GPU is a true asynchronous DMA rather than a staged, synchronous one.

    The one allocator for grammar masks: a grammar matcher's ``fill_bitmask`` takes a row.
    For a model whose logits are wider than ``vocab_size``, allocate for the logits' width:
    the matcher zeroes the words past its vocabulary, so those tokens stay disallowed."""
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= 0:
        raise UsageError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    words = -(-vocab_size // _BITS)
    shape = (words,) if batch is None else (batch, words)
    return torch.zeros(shape, dtype=torch.int32, pin_memory=pin_memory)


def _check(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    if bitmask.dtype != torch.int32:
        raise UsageError(
            f"apply_token_bitmask: bitmask must be int32, got {bitmask.dtype}; allocate it with allocate_token_bitmask()"
        )
    if logits.dim() not in (1, 2) or bitmask.dim() not in (1, logits.dim()):
        raise UsageError(
            f"apply_token_bitmask: logits {tuple(logits.shape)} and bitmask {tuple(bitmask.shape)} must be "
            "[V] and [W], or [B, V] and [B, W] (or [W], shared by every row)"
        )
    if bitmask.dim() == 2 and logits.shape[0] != bitmask.shape[0]:
        raise UsageError(f"apply_token_bitmask: batch sizes differ: logits {logits.shape[0]}, bitmask {bitmask.shape[0]}")


def unpack_token_bitmask(bitmask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """The boolean ``allowed`` tensor ``[..., vocab_size]`` of a packed bitmask ``[..., W]``."""
    shifts = torch.arange(_BITS, dtype=torch.int32, device=bitmask.device)
    # bits: [..., W, 32] -> [..., W*32]; `& 1` makes the arithmetic shift of negative words harmless
    bits = ((bitmask.unsqueeze(-1) >> shifts) & 1).bool().flatten(-2)
    covered = bits.shape[-1]
    if covered >= vocab_size:
        return bits[..., :vocab_size]
    pad = torch.zeros((*bits.shape[:-1], vocab_size - covered), dtype=torch.bool, device=bits.device)
    return torch.cat([bits, pad], dim=-1)


def apply_token_bitmask_reference(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """Torch reference: set disallowed logits to ``-inf`` in place and return ``logits``.

    Works on any device. ``logits``: [V] or [B, V] float; ``bitmask``: [W] or [B, W] int32
    (a [W] mask applies to every row).
    """
    _check(logits, bitmask)
    allowed = unpack_token_bitmask(bitmask.to(logits.device, non_blocking=True), logits.shape[-1])
    return logits.masked_fill_(~allowed, float("-inf"))


def apply_token_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """Set the logits of disallowed tokens to ``-inf`` in place and return ``logits``.

    ``logits``: [V] or [B, V] float on any device; ``bitmask``: [W] or [B, W] int32
    (on the CPU or the logits' device; copied without a host sync; a [W] mask applies to
    every row). Tokens past ``32*W``
    are disallowed. On CUDA with Triton importable this runs one fused kernel; elsewhere
    the torch reference.

    Raises:
        UsageError: the dtypes or shapes do not fit together.
    """
    _check(logits, bitmask)
    if logits.is_cuda:
        from reasoner.kernels._triton_bitmask import triton_available

        if triton_available():
            from reasoner.kernels._triton_bitmask import apply_token_bitmask_triton

            return apply_token_bitmask_triton(logits, bitmask.to(logits.device, non_blocking=True))
    return apply_token_bitmask_reference(logits, bitmask)
