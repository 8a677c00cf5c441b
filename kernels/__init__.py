"""reasoner.kernels: the decode loop's hot operations, each a Triton kernel with a torch twin.

- :func:`apply_token_bitmask` sets disallowed logits to ``-inf`` (Triton on CUDA, torch
  elsewhere); :func:`apply_token_bitmask_reference` is the torch twin tests compare against.
- :func:`sample` draws greedy or temperature/top-p tokens without a host sync.
- :func:`select_attention` reports SDPA vs ``flash_attn``.
- :class:`HostStager` double-buffers small per-step uploads (masks, step inputs) through
  pinned host memory into a fixed device buffer.
"""

from __future__ import annotations

from reasoner.kernels._attention import AttentionChoice as AttentionChoice
from reasoner.kernels._attention import select_attention as select_attention
from reasoner.kernels._bitmask import allocate_token_bitmask as allocate_token_bitmask
from reasoner.kernels._bitmask import apply_token_bitmask as apply_token_bitmask
from reasoner.kernels._bitmask import apply_token_bitmask_reference as apply_token_bitmask_reference
from reasoner.kernels._bitmask import unpack_token_bitmask as unpack_token_bitmask
from reasoner.kernels._sampling import sample as sample
from reasoner.kernels._staging import HostStager as HostStager

__all__ = [
    "AttentionChoice",
    "HostStager",
    "allocate_token_bitmask",
    "apply_token_bitmask",
    "apply_token_bitmask_reference",
    "sample",
    "select_attention",
    "unpack_token_bitmask",
]
