"""Which attention implementation a transformers model should use on a device."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["AttentionChoice", "select_attention"]


@dataclass(frozen=True, slots=True)
class AttentionChoice:
    """The attention backend to pass as transformers' ``attn_implementation``, and why."""

    implementation: Literal["sdpa", "flash_attention_2"]
    reason: str


def select_attention(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> AttentionChoice:
    """Pick ``flash_attention_2`` when the optional ``flash_attn`` extra can serve this device
    and dtype (CUDA, Ampere or newer, fp16/bf16), else torch SDPA (which itself dispatches to
    flash/cuDNN/memory-efficient kernels on recent GPUs)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return AttentionChoice("sdpa", f"torch SDPA on {dev.type}")
    if importlib.util.find_spec("flash_attn") is None:
        return AttentionChoice("sdpa", "flash_attn is not installed (pip install 'reasoner[flash]'); torch SDPA")
    if dtype not in (torch.float16, torch.bfloat16):
        return AttentionChoice("sdpa", f"flash_attn needs fp16/bf16, model runs in {dtype}; torch SDPA")
    major, _ = torch.cuda.get_device_capability(dev)
    if major < 8:
        return AttentionChoice("sdpa", f"flash_attn needs compute capability >= 8.0, device has {major}.x; torch SDPA")
    return AttentionChoice("flash_attention_2", "flash_attn installed and the device supports it")
