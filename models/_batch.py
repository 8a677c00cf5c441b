"""Several generations' forward passes as one: the KV of B sequences in one cache, with holes.

Row ``b`` of a :class:`BatchKV` holds the keys and values of sequence ``b``'s tokens in
order, at the columns where ``valid[b]`` is true; every other column is a hole. Holes come
from a row joining a batch whose rows are longer (it is right-aligned, padded on the left)
and from steps in which a row fed fewer tokens than another row (forced tokens make some
rows feed several) or none (its consumer has not caught up). Each row's rotary positions
count only its own tokens, so a row attends to exactly what it would attend to alone:

    input_ids [B, K]     each row's new tokens right-aligned, pads on the left
    position_ids [B, K]  the row's own next positions (pads: any finite value)
    mask [B, 1, K, L+K]  valid columns, causally; a pad query attends to itself only,
                         so no hidden state is ever a softmax over nothing (NaN)
    logits [B, V]        at the last column: a real token in every row that fed one

The keys and values live in slabs ``[B, H, capacity, D]`` allocated when rows join or
leave and when the columns run out (capacity doubles), never per step: a step writes its
``K`` columns in place. A row leaves by a copy of the others, which also drops the
leading columns that are holes in every row; when holes outweigh tokens, :meth:`compact`
right-aligns every row again.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

import torch

from reasoner.errors import ModelError
from reasoner.models._prefix import KV

__all__ = ["BatchKV"]

_PAD_ID = 0
_MIN_CAPACITY = 64


def _round_up(n: int) -> int:
    return max(_MIN_CAPACITY, 1 << (n - 1).bit_length())


@functools.cache
def _slab_layer_class() -> Any:
    from transformers.cache_utils import DynamicLayer

    class SlabLayer(DynamicLayer):  # type: ignore[no-untyped-call]  # an untyped base
        """A cache layer over preallocated slabs ``[B, H, C, D]``: ``update`` writes the new
        keys and values at the next columns and returns the slabs up to them (views)."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, start: int) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._slabs, self._end = (keys, values), start
            self.keys, self.values = keys[:, :, :start], values[:, :, :start]
            self.device, self.is_initialized = keys.device, True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            keys, values = self._slabs
            end = self._end + key_states.shape[-2]
            keys[:, :, self._end : end] = key_states
            values[:, :, self._end : end] = value_states
            self._end = end
            self.keys, self.values = keys[:, :, :end], values[:, :, :end]
            return self.keys, self.values

    return SlabLayer


class BatchKV:
    """The KV cache of a batch of sequences and the batched forward pass over it (module doc).

    Rows are numbered in the order they joined; :meth:`leave` renumbers the rows after it.
    Not thread-safe (the decode scheduler's thread owns it).
    """

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model
        self.device = device
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._keys: list[torch.Tensor] = []  # per layer [B, H, C, D]
        self._values: list[torch.Tensor] = []
        self._valid = torch.zeros((0, 0), dtype=torch.bool, device=device)  # [B, C]
        self._lengths: list[int] = []  # tokens per row (its next rotary position)
        self._width = 0  # columns used, holes included

    @property
    def rows(self) -> int:
        """Sequences in the batch."""
        return len(self._lengths)

    @property
    def width(self) -> int:
        """Columns in use (tokens plus holes) per row."""
        return self._width

    def length(self, row: int) -> int:
        """The number of tokens of ``row`` (holes excluded)."""
        return self._lengths[row]

    def join(self, kv: KV) -> int:
        """Add a sequence whose per-layer KV is ``kv`` (``[1, H, n, D]``); return its row."""
        if kv[0][0].shape[-2] == 0:
            raise ModelError("BatchKV.join: a sequence without tokens cannot join a batch")
        self._rebuild([*(self.take(b) for b in range(self.rows)), kv])
        return self.rows - 1

    def leave(self, row: int) -> None:
        """Drop ``row``; the rows after it move up by one."""
        keep = [b for b in range(self.rows) if b != row]
        if not keep:
            self._keys, self._values, self._lengths, self._width = [], [], [], 0
            self._valid = self._valid[:0, :0]
            return
        index = torch.tensor(keep, device=self.device)
        used = self._valid[keep, : self._width].any(dim=0)
        first = int(used.nonzero()[0]) if bool(used.any()) else self._width
        width = self._width - first
        capacity = self._valid.shape[1]
        self._keys = [self._shrink(k, index, first, width, capacity) for k in self._keys]
        self._values = [self._shrink(v, index, first, width, capacity) for v in self._values]
        valid = torch.zeros((len(keep), capacity), dtype=torch.bool, device=self.device)
        valid[:, :width] = self._valid[index, first : self._width]
        self._valid, self._width = valid, width
        self._lengths = [self._lengths[b] for b in keep]

    def take(self, row: int) -> KV:
        """The KV of ``row`` without its holes: per layer ``[1, H, n, D]``, a copy."""
        cols = self._valid[row, : self._width].nonzero().flatten()
        return tuple(
            (k[row : row + 1, :, : self._width].index_select(2, cols), v[row : row + 1, :, : self._width].index_select(2, cols))
            for k, v in zip(self._keys, self._values, strict=True)
        )

    def holes(self) -> int:
        """Columns in use beyond the longest row's tokens."""
        return self._width - max(self._lengths, default=0)

    def compact(self) -> None:
        """Right-align every row again, dropping all holes but the left padding."""
        self._rebuild([self.take(b) for b in range(self.rows)])

    def forward(self, inputs: Sequence[Sequence[int]]) -> torch.Tensor:
        """Feed ``inputs[b]`` to row ``b`` (possibly nothing) in one forward pass; return the
        logits ``[B, V]`` at each row's last new token (meaningless for a row fed nothing)."""
        if len(inputs) != self.rows:
            raise ModelError(f"BatchKV.forward: {len(inputs)} inputs for {self.rows} rows")
        k = max((len(ids) for ids in inputs), default=0)
        if k == 0:
            raise ModelError("BatchKV.forward: no row has a token to feed")
        if self._width + k > self._valid.shape[1]:
            self._grow(_round_up(self._width + k))
        rows, start, end = self.rows, self._width, self._width + k
        ids = torch.full((rows, k), _PAD_ID, dtype=torch.long)
        positions = torch.empty((rows, k), dtype=torch.long)
        new = torch.zeros((rows, k), dtype=torch.bool)
        for b, row_ids in enumerate(inputs):
            n, first = len(row_ids), self._lengths[b]
            positions[b] = first
            if n:
                ids[b, k - n :] = torch.tensor(list(row_ids), dtype=torch.long)
                positions[b, k - n :] = torch.arange(first, first + n)
                new[b, k - n :] = True
            self._lengths[b] += n
        self._valid[:, start:end] = new.to(self.device)
        cols = torch.arange(end, device=self.device)
        query_cols = torch.arange(start, end, device=self.device)
        causal = cols[None, :] <= query_cols[:, None]  # [K, L+K]
        itself = cols[None, :] == query_cols[:, None]
        mask = (self._valid[:, None, :end] & causal[None]) | itself[None]  # [B, K, L+K]
        from transformers.cache_utils import Cache

        layer = _slab_layer_class()
        cache = Cache(layers=[layer(kk, vv, start) for kk, vv in zip(self._keys, self._values, strict=True)])
        out = self.model(
            input_ids=ids.to(self.device),
            position_ids=positions.to(self.device),
            attention_mask=mask[:, None],
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kw: cache},
        )
        self._width = end
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def _shrink(self, slab: torch.Tensor, index: torch.Tensor, first: int, width: int, capacity: int) -> torch.Tensor:
        out = slab.new_zeros((index.numel(), slab.shape[1], capacity, slab.shape[3]))
        out[:, :, :width] = slab.index_select(0, index)[:, :, first : first + width]
        return out

    def _grow(self, capacity: int) -> None:
        def wider(slab: torch.Tensor) -> torch.Tensor:
            out = slab.new_zeros((*slab.shape[:2], capacity, slab.shape[3]))
            out[:, :, : self._width] = slab[:, :, : self._width]
            return out

        self._keys = [wider(k) for k in self._keys]
        self._values = [wider(v) for v in self._values]
        valid = torch.zeros((self.rows, capacity), dtype=torch.bool, device=self.device)
        valid[:, : self._width] = self._valid[:, : self._width]
        self._valid = valid

    def _rebuild(self, kvs: Sequence[KV]) -> None:
        # every row right-aligned at the longest one's end; room for some steps after it
        lengths = [kv[0][0].shape[-2] for kv in kvs]
        width = max(lengths)
        capacity = _round_up(width + _MIN_CAPACITY)
        layers = len(kvs[0])
        keys: list[torch.Tensor] = []
        values: list[torch.Tensor] = []
        for layer in range(layers):
            k0, v0 = kvs[0][layer]
            k_slab = k0.new_zeros((len(kvs), k0.shape[1], capacity, k0.shape[3]))
            v_slab = v0.new_zeros((len(kvs), v0.shape[1], capacity, v0.shape[3]))
            for b, kv in enumerate(kvs):
                k_slab[b, :, width - lengths[b] : width] = kv[layer][0][0]
                v_slab[b, :, width - lengths[b] : width] = kv[layer][1][0]
            keys.append(k_slab)
            values.append(v_slab)
        valid = torch.zeros((len(kvs), capacity), dtype=torch.bool, device=self.device)
        for b, n in enumerate(lengths):
            valid[b, width - n : width] = True
        self._keys, self._values, self._valid = keys, values, valid
        self._lengths, self._width = lengths, width
