"""Double-buffered host staging for small per-step uploads (grammar masks, step inputs).

A decode step on a GPU wants its small inputs (the grammar's token bitmask, the token ids
and positions of the next step) on the device without stalling the host: the CPU writes
them into page-locked host memory and a non-blocking copy moves them while the GPU still
runs the previous work. Writing into a host buffer whose copy has not finished would
corrupt it, so there are two host buffers used in turn, each with the CUDA event of its
last copy: the CPU fills one while the other may still be in flight, and waits (rarely,
and only for that copy) before it reuses a buffer. The destination is one fixed device
tensor, so a captured CUDA graph can read it at a fixed address.

On a CPU device the same object works without pinning or events (the copy is a plain
``copy_``), which is how the logic is tested where no GPU is at hand.
"""

from __future__ import annotations

from typing import Any

import torch

from reasoner.errors import UsageError

__all__ = ["HostStager"]


class HostStager:
    """Two host buffers (pinned when ``device`` is CUDA) feeding one fixed device buffer.

    ``host()`` returns the next host buffer to write, after the copy that last read it has
    finished; ``upload()`` copies it to :attr:`device_buffer` without blocking the host and
    returns that buffer. Not thread-safe: one writer (the decode thread).

    Args:
        shape: the buffers' shape.
        dtype: their dtype.
        device: where :attr:`device_buffer` lives.
    """

    def __init__(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str) -> None:
        if not shape or any(isinstance(n, bool) or not isinstance(n, int) or n <= 0 for n in shape):
            raise UsageError(f"HostStager: shape must be positive integers, got {shape!r}")
        self.device = torch.device(device)
        self.pinned = self.device.type == "cuda"
        self._hosts = [torch.zeros(shape, dtype=dtype, pin_memory=self.pinned) for _ in range(2)]
        self._events: list[Any] = [None, None]  # torch.cuda.Event of each host buffer's last copy
        self.device_buffer = torch.zeros(shape, dtype=dtype, device=self.device)
        self._turn = 0
        self.waits = 0  # times host() had to wait for a copy (for tests and benchmarks)

    def host(self) -> torch.Tensor:
        """The host buffer to fill next (its previous copy has completed)."""
        event = self._events[self._turn]
        if event is not None:
            if not event.query():
                self.waits += 1
                event.synchronize()
            self._events[self._turn] = None
        return self._hosts[self._turn]

    def upload(self) -> torch.Tensor:
        """Copy the buffer :meth:`host` returned to :attr:`device_buffer` (non-blocking on
        CUDA, in stream order after the work queued so far) and return the device buffer."""
        src = self._hosts[self._turn]
        self.device_buffer.copy_(src, non_blocking=self.pinned)
        if self.pinned:
            cuda: Any = torch.cuda  # Event() is untyped
            event = cuda.Event()
            event.record()
            self._events[self._turn] = event
        self._turn ^= 1
        return self.device_buffer
