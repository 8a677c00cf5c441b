"""The prefix KV cache: the keys and values of prompt prefixes, keyed by token ids.

Every call of a local model prefills its prompt into a KV cache. Most of that prompt is
the same from call to call (the planner's system text and tool list are ~90% of its
prompt), so the KV of each prefilled prompt is kept here, and a later call whose prompt
starts with the same token ids copies that KV instead of recomputing it: only the rest of
its prompt is prefilled.

The entry that serves a prompt is the one sharing the longest common prefix of token ids
with it, and any prefix of an entry serves: in a causal model the KV of positions
``0..n-1`` depends only on tokens ``0..n-1``, so slicing an entry's KV at ``n`` gives
exactly the KV a prefill of those ``n`` tokens computes. Nobody has to say where the
shared part ends; the token ids say it.

Entries are immutable tensors (a generation copies them into its own cache), so
concurrent generations share them freely; a lock guards the index. Memory is bounded:
entries are evicted least recently used first once their bytes pass ``max_bytes``, and
an entry whose ids extend another's replaces it (the longer KV holds the shorter).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from reasoner.errors import UsageError

__all__ = ["KV", "PrefixCache", "PrefixHit"]

# Per layer (keys, values), each [1, H_kv, L, D]; L is the number of cached tokens.
KV = tuple[tuple[torch.Tensor, torch.Tensor], ...]

DEFAULT_MAX_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class PrefixHit:
    """The KV of the first ``length`` tokens of a prompt (views into a cache entry)."""

    length: int
    kv: KV


def _kv_bytes(kv: KV) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:  # the common case for a repeated system prompt: one C-speed compare
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


class PrefixCache:
    """Bounded, thread-safe store of prompt-prefix KV (see the module doc).

    Args:
        max_bytes: the most bytes of KV kept (default 256 MiB); 0 disables the cache.
        min_tokens: a shared prefix shorter than this is not worth a lookup hit.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, *, min_tokens: int = 8) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise UsageError(f"PrefixCache(max_bytes={max_bytes!r}) must be an integer >= 0 (0 disables it)")
        if isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 1:
            raise UsageError(f"PrefixCache(min_tokens={min_tokens!r}) must be an integer >= 1")
        self.max_bytes = max_bytes
        self.min_tokens = min_tokens
        self._entries: OrderedDict[tuple[int, ...], tuple[KV, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.reused_tokens = 0

    def __repr__(self) -> str:
        return f"PrefixCache(entries={len(self)}, bytes={self.bytes}, max_bytes={self.max_bytes})"

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes of KV held now."""
        return self._bytes

    def lookup(self, ids: Sequence[int]) -> PrefixHit | None:
        """The cached KV of the longest prefix of ``ids`` that an entry shares, leaving at
        least the last token of ``ids`` to be computed (its logits are what a prefill is
        for); ``None`` when no entry shares ``min_tokens`` or more."""
        ids = tuple(ids)
        best_key: tuple[int, ...] | None = None
        best = 0
        with self._lock:
            for key in self._entries:
                n = _common_prefix(key, ids)
                if n > best:
                    best_key, best = key, n
            best = min(best, len(ids) - 1)
            if best_key is None or best < self.min_tokens:
                self.misses += 1
                return None
            self._entries.move_to_end(best_key)
            kv = self._entries[best_key][0]
            self.hits += 1
            self.reused_tokens += best
        return PrefixHit(best, tuple((k[:, :, :best], v[:, :, :best]) for k, v in kv))

    def store(self, ids: Sequence[int], kv: KV) -> None:
        """Keep ``kv`` (the KV of exactly ``ids``; it must never be written to again) for later
        lookups. An entry whose ids are a prefix of ``ids`` is replaced; nothing is stored when
        an entry already starts with ``ids`` or the KV alone is over ``max_bytes``.

        Raises:
            UsageError: ``kv`` does not hold ``len(ids)`` positions.
        """
        ids = tuple(ids)
        if any(k.shape[-2] != len(ids) or v.shape[-2] != len(ids) for k, v in kv):
            raise UsageError(f"PrefixCache.store: the KV does not hold the {len(ids)} positions of the ids it is stored under")
        size = _kv_bytes(kv)
        if len(ids) < self.min_tokens or size > self.max_bytes:
            return
        with self._lock:
            for key in list(self._entries):
                if len(key) >= len(ids) and key[: len(ids)] == ids:
                    self._entries.move_to_end(key)
                    return
                if key == ids[: len(key)]:
                    self._bytes -= self._entries.pop(key)[1]
            self._entries[ids] = (kv, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
