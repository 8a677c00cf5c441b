"""The static-cache runner: KV in preallocated slots, fixed-shape steps, CUDA graphs on GPU.

Every sequence's keys and values live in a *slot*: per layer one tensor ``[1, H_kv, C, D]``
allocated once (``C`` = ``max_cache_len``) and written in place, so its address never
changes. Slots come from a pool and go back to it when the cache that holds one is dropped.

A forward pass over ``K`` new tokens at positions ``p..p+K-1`` is one of two kinds:

* **fixed-shape** (``K`` up to 32: the sampled token and the tokens the grammar forces
  after it). ``K`` is padded to a bucket ``Kb`` in (1, 2, 4, 8, 16, 32) and attention runs
  over a window of ``W`` columns (the smallest power of two from 256 that holds
  ``p + Kb``, at most ``C``), so a handful of shapes serve every step. Every input is read
  from one fixed device buffer (ids, positions, the index of the last real token), the
  keys and values are written with ``index_copy_`` at the step's positions, and the mask
  is computed from the positions on the device::

      ids [1, Kb]   positions [1, Kb]   mask [1, 1, Kb, W] = col <= position
      logits [1, V] at the last real token (logits_to_keep as a device index)

  Padding tokens write keys and values past the sequence's end, where no real query
  looks and the next step overwrites them. On CUDA each ``(slot, Kb, W)`` step is
  captured once in a CUDA graph and replayed; elsewhere the same function runs eagerly.
* **exact** (the prefill, and longer runs of forced tokens): the new tokens appended at
  ``p`` and attention over exactly ``p + K`` columns, as the dynamic cache computes it.

The inputs of a fixed-shape step reach the device through a double-buffered pinned
:class:`~reasoner.kernels.HostStager`, and the scaled-dot-product attention kernel of
those steps is chosen once (flash, then memory-efficient, then cuDNN, then math: the first
that runs these shapes) and forced, so :attr:`StaticCacheRunner.info` reports what runs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from reasoner.errors import ModelError, UsageError
from reasoner.kernels import HostStager
from reasoner.models._batch import _slab_layer_class
from reasoner.models._decode import RunnerInfo
from reasoner.models._prefix import KV

__all__ = ["STEP_BUCKETS", "StaticCache", "StaticCacheRunner", "static_unsupported"]

STEP_BUCKETS = (1, 2, 4, 8, 16, 32)  # tokens per fixed-shape step, padded up to one of these
_MAX_STEP = STEP_BUCKETS[-1]
_MIN_WINDOW = 256
_WARMUP = 2  # eager runs on a side stream before a capture (lazy inits, autotuning)
_BACKENDS = ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH")
_BACKEND_NAMES = {"FLASH_ATTENTION": "flash", "EFFICIENT_ATTENTION": "efficient", "CUDNN_ATTENTION": "cudnn", "MATH": "math"}


@functools.cache
def _fixed_layer_class() -> Any:
    from transformers.cache_utils import DynamicLayer

    class FixedLayer(DynamicLayer):  # type: ignore[no-untyped-call]  # an untyped base
        """A cache layer over a slot's slabs ``[1, H, C, D]`` for a fixed-shape step: ``update``
        writes the new keys and values at ``positions`` and returns the first ``window``
        columns (views, so the shapes are the same at every step of a bucket)."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, positions: torch.Tensor, window: int) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._slabs, self._positions = (keys, values), positions
            self._window = (keys[:, :, :window], values[:, :, :window])
            self.keys, self.values = self._window
            self.device, self.is_initialized = keys.device, True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            keys, values = self._slabs
            keys.index_copy_(2, self._positions, key_states)
            values.index_copy_(2, self._positions, value_states)
            return self._window

    return FixedLayer


def static_unsupported(model: Any) -> str | None:
    """Why ``model`` cannot run on the static-cache runner (``None`` when it can): it must be
    a decoder whose every layer attends to the full context, with a config that names its
    layers and heads."""
    config = getattr(model, "config", None)
    if config is None:
        return "the model has no config"
    layer_types = getattr(config, "layer_types", None)
    if layer_types and any(t != "full_attention" for t in layer_types):
        return f"its layers are not all full attention ({sorted(set(layer_types))})"
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return "it uses sliding-window attention"
    for name in ("num_hidden_layers", "num_attention_heads", "hidden_size"):
        if not isinstance(getattr(config, name, None), int):
            return f"its config has no integer {name}"
    if "logits_to_keep" not in inspect.signature(model.forward).parameters:
        return "its forward() takes no logits_to_keep"
    return None


class _Slot:
    """One sequence's preallocated keys and values: per layer ``[1, H_kv, C, D]``."""

    __slots__ = ("index", "keys", "values")

    def __init__(self, index: int, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        self.index, self.keys, self.values = index, keys, values


class StaticCache:
    """What :meth:`StaticCacheRunner.new_cache` returns: a slot and how many of its positions
    hold the sequence's tokens. The slot goes back to the pool when this object is dropped."""

    __slots__ = ("__weakref__", "length", "slot")

    def __init__(self, slot: _Slot, length: int) -> None:
        self.slot, self.length = slot, length


class StaticCacheRunner:
    """The :class:`~reasoner.models._decode.Runner` over preallocated KV slots (module doc).

    Args:
        model: a transformers causal LM running SDPA attention (switched to it if it can be).
        device: where it runs.
        max_cache_len: positions per slot (prompt plus reply); a longer generation fails
            with a :class:`ModelError` that says so.
        graphs: capture fixed-shape steps in CUDA graphs (default: on CUDA; needs CUDA).
        fixed_shapes: run steps of up to 32 tokens as fixed-shape steps (default); without,
            every step is exact.

    Raises:
        UsageError: the model cannot run here (see :func:`static_unsupported`), a bad
            ``max_cache_len``, or ``graphs`` without CUDA.
    """

    def __init__(
        self,
        model: Any,
        device: torch.device,
        *,
        max_cache_len: int = 4096,
        graphs: bool | None = None,
        fixed_shapes: bool = True,
    ) -> None:
        reason = static_unsupported(model)
        if reason is not None:
            raise UsageError(f"the static-cache runner cannot run this model: {reason}; use runner='dynamic'")
        if isinstance(max_cache_len, bool) or not isinstance(max_cache_len, int) or max_cache_len < _MAX_STEP:
            raise UsageError(f"max_cache_len={max_cache_len!r} must be an integer >= {_MAX_STEP}")
        self.device = torch.device(device)
        if graphs and self.device.type != "cuda":
            raise UsageError(f"CUDA graphs need a CUDA device, the model is on {self.device}; use graphs=False")
        self.model = model
        self._use_sdpa(model)
        config = model.config
        heads = config.num_attention_heads
        self._layers = config.num_hidden_layers
        self._kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
        self._head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
        self._dtype = next(model.parameters()).dtype
        self.max_cache_len = max_cache_len
        self.graphs = self.device.type == "cuda" if graphs is None else graphs
        self.fixed_shapes = fixed_shapes
        self.graph_error: str | None = None  # why graphs were turned off, if a capture failed
        self.shape_error: str | None = None  # why fixed-shape steps were turned off, if they were
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._free: list[_Slot] = []
        self._slots = 0
        self._lock = threading.Lock()
        self._inputs = HostStager((2 * _MAX_STEP + 1,), torch.long, self.device)  # ids | positions | last
        self._cols = torch.arange(max_cache_len, device=self.device)
        self._backend: str | None = None  # the SDPA backend of fixed-shape steps, once chosen
        self._graphs: dict[tuple[int, int, int], tuple[Any, torch.Tensor]] = {}
        self._pool: Any = None

    @property
    def info(self) -> RunnerInfo:
        """What runs the steps: the runner, whether CUDA graphs replay them, and the attention
        kernel (``sdpa:<backend>`` once the first fixed-shape step has chosen one)."""
        name = "static+cuda-graph" if self.graphs and self.fixed_shapes else "static"
        attention = "sdpa" if self._backend is None else f"sdpa:{_BACKEND_NAMES[self._backend]}"
        note = f"{self.max_cache_len} positions per slot, {self._slots} slot(s)"
        if self.graph_error is not None:
            note += f"; CUDA graphs off: {self.graph_error}"
        if self.shape_error is not None:
            note += f"; fixed-shape steps off: {self.shape_error}"
        return RunnerInfo(name, attention, note)

    # the Runner protocol

    def new_cache(self, prefix: KV | None = None) -> StaticCache:
        n = 0 if not prefix else prefix[0][0].shape[-2]
        if n > self.max_cache_len:
            raise ModelError(self._too_long(n))
        slot = self._acquire()
        for layer, (keys, values) in enumerate(prefix or ()):
            slot.keys[layer][:, :, :n] = keys
            slot.values[layer][:, :, :n] = values
        cache = StaticCache(slot, n)
        weakref.finalize(cache, self._release, slot)
        return cache

    def export(self, cache: StaticCache) -> KV | None:
        # a copy: the slot is written again by later steps and by the next sequence in it
        n = cache.length
        return tuple((k[:, :, :n].clone(), v[:, :, :n].clone()) for k, v in zip(cache.slot.keys, cache.slot.values, strict=True))

    def forward(self, token_ids: Sequence[int], cache: StaticCache) -> torch.Tensor:
        """Feed ``token_ids`` after the ``cache.length`` tokens the cache holds; return the
        logits ``[1, V]`` at the last of them (a fixed buffer on CUDA graphs: read it before
        the next step)."""
        n, start = len(token_ids), cache.length
        if n == 0:
            raise ModelError("StaticCacheRunner.forward: no tokens to feed")
        if start + n > self.max_cache_len:
            raise ModelError(self._too_long(start + n))
        bucket = next((b for b in STEP_BUCKETS if b >= n), None)
        if self.fixed_shapes and bucket is not None and start + bucket <= self.max_cache_len:
            logits = self._fixed_step(cache.slot, token_ids, start, bucket)
        else:
            logits = self._exact_step(cache.slot, token_ids, start)
        cache.length = start + n
        return logits

    # steps

    def _exact_step(self, slot: _Slot, token_ids: Sequence[int], start: int) -> torch.Tensor:
        from transformers.cache_utils import Cache

        layer = _slab_layer_class()
        cache = Cache(layers=[layer(k, v, start) for k, v in zip(slot.keys, slot.values, strict=True)])
        input_ids = torch.tensor([list(token_ids)], dtype=torch.long, device=self.device)
        out = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def _fixed_step(self, slot: _Slot, token_ids: Sequence[int], start: int, bucket: int) -> torch.Tensor:
        n = len(token_ids)
        window = self._window(start + bucket)
        host = self._inputs.host().numpy()
        host[:n] = token_ids
        host[n:bucket] = 0
        host[_MAX_STEP : _MAX_STEP + bucket] = range(start, start + bucket)
        host[2 * _MAX_STEP] = n - 1
        self._inputs.upload()
        if self._backend is None:
            logits = self._choose_backend(slot, bucket, window)
            if logits is None:  # no SDPA kernel runs the fixed shapes: exact steps from now on
                self.fixed_shapes = False
                return self._exact_step(slot, token_ids, start)
            return logits
        if not self.graphs:
            return self._fixed_forward(slot, bucket, window)
        entry = self._graphs.get((slot.index, bucket, window))
        if entry is None:
            return self._capture(slot, bucket, window)
        graph, logits = entry
        graph.replay()
        return logits

    def _fixed_forward(self, slot: _Slot, bucket: int, window: int) -> torch.Tensor:
        # the step a CUDA graph captures: only device tensors at fixed addresses as inputs
        from transformers.cache_utils import Cache

        buf = self._inputs.device_buffer
        ids = buf[:bucket].view(1, bucket)  # [1, Kb]
        positions = buf[_MAX_STEP : _MAX_STEP + bucket]  # [Kb]
        last = buf[2 * _MAX_STEP : 2 * _MAX_STEP + 1]  # [1]: the last real token
        mask = (self._cols[None, :window] <= positions[:, None])[None, None]  # [1, 1, Kb, W]
        layer = _fixed_layer_class()
        cache = Cache(layers=[layer(k, v, positions, window) for k, v in zip(slot.keys, slot.values, strict=True)])
        with self._sdpa_kernel():
            out = self.model(
                input_ids=ids,
                position_ids=positions.view(1, bucket),
                attention_mask=mask,
                use_cache=True,
                logits_to_keep=last,
                **{self._cache_kw: cache},
            )
        logits: torch.Tensor = out.logits[:, -1, :]  # [1, V]
        return logits

    def _choose_backend(self, slot: _Slot, bucket: int, window: int) -> torch.Tensor | None:
        # The first SDPA kernel that runs a fixed-shape step, forced from then on. Each try
        # writes the same keys and values at the same positions, so a failed one is harmless.
        from torch.nn.attention import SDPBackend

        errors = []
        for name in _BACKENDS:
            if not hasattr(SDPBackend, name):
                continue
            self._backend = name
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch warns why a forced kernel cannot run
                    return self._fixed_forward(slot, bucket, window)
            except RuntimeError as exc:
                errors.append(f"{_BACKEND_NAMES[name]}: {str(exc).splitlines()[0]}")
        self._backend = None
        self.shape_error = f"no SDPA kernel runs them ({'; '.join(errors)})"
        return None

    @contextlib.contextmanager
    def _sdpa_kernel(self) -> Iterator[None]:
        if self._backend is None:
            yield
            return
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel([getattr(SDPBackend, self._backend)]):
            yield

    def _capture(self, slot: _Slot, bucket: int, window: int) -> torch.Tensor:
        with torch.cuda.device(self.device):  # the decode thread's current device may be another
            return self._capture_here(slot, bucket, window)

    def _capture_here(self, slot: _Slot, bucket: int, window: int) -> torch.Tensor:
        # warm up on a side stream, capture, replay (a capture records without running)
        current = torch.cuda.current_stream(self.device)
        cuda: Any = torch.cuda  # Stream() is untyped
        side = cuda.Stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            for _ in range(_WARMUP):
                logits = self._fixed_forward(slot, bucket, window)
        current.wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                logits = self._fixed_forward(slot, bucket, window)
        except RuntimeError as exc:  # something in the forward cannot be captured: run eagerly
            self.graphs, self.graph_error = False, str(exc).splitlines()[0]
            self._graphs.clear()
            return self._fixed_forward(slot, bucket, window)
        self._graphs[(slot.index, bucket, window)] = (graph, logits)
        graph.replay()
        return logits

    # slots

    def _window(self, end: int) -> int:
        window = _MIN_WINDOW
        while window < end:
            window *= 2
        return min(window, self.max_cache_len)

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._free:
                return self._free.pop()
            index = self._slots
            self._slots += 1
        shape = (1, self._kv_heads, self.max_cache_len, self._head_dim)
        keys = [torch.zeros(shape, dtype=self._dtype, device=self.device) for _ in range(self._layers)]
        values = [torch.zeros(shape, dtype=self._dtype, device=self.device) for _ in range(self._layers)]
        return _Slot(index, keys, values)

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            self._free.append(slot)

    def _too_long(self, n: int) -> str:
        return (
            f"the sequence needs {n} positions but the static KV cache holds {self.max_cache_len}: "
            "raise max_cache_len (TransformersModel(max_cache_len=...)) or lower max_tokens"
        )

    @staticmethod
    def _use_sdpa(model: Any) -> None:
        # the fixed-shape steps pass a boolean 4-D mask, which SDPA takes and eager attention does not
        if getattr(model.config, "_attn_implementation", "sdpa") == "sdpa":
            return
        setter = getattr(model, "set_attn_implementation", None)
        try:
            if setter is None:
                raise AttributeError("set_attn_implementation")
            setter("sdpa")
        except (AttributeError, ValueError, ImportError) as exc:
            raise UsageError(f"the static-cache runner needs SDPA attention and cannot switch this model to it: {exc}") from exc
