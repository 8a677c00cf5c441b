"""Our decode loop, as small synchronous pieces that the async model drives step by step.

One generation is: prefill the prompt (plus any tokens the grammar forces before the
first sample) into a KV cache, then repeat :meth:`Generation.step`:

    forward(pending)        -> logits [1, V]      (launched first: on a GPU it runs ...)
    grammar fills bitmask   -> int32 [W] on CPU   (... while the CPU computes the mask)
    apply mask, sample      -> token id
    matcher advances; tokens it forces are appended without sampling and fed to the
    next forward together with the sampled one (one multi-token step into the cache)

until EOS, a terminated grammar, or ``max_tokens``. With ``options.close_within``, the last
steps before ``max_tokens`` keep only tokens that close strings, arrays and objects when
the grammar allows one, so a grammar-constrained instance ends in time where it can; with
``options.close_on_repeat`` they do so from the moment the tokens start to loop. Stop strings and detokenization
work on text, on the async side (:class:`StopMatcher`, :class:`IncrementalDetokenizer`).

The forward pass is behind :class:`Runner`: :class:`DynamicCacheRunner` (the reference)
or the static-cache, CUDA-graph runner of ``reasoner.models._static``. With a
:class:`~reasoner.models._prefix.PrefixCache`, the first step starts from the cached KV of
the longest prefix of ``prompt + forced`` that an earlier call already computed, prefills
only the rest, and leaves the KV of the whole of it in the cache for later calls.

Greedy, unconstrained generations (the answerer's text) draft from what they are likely to
copy (prompt-lookup decoding): when the last tokens also occur earlier in the prompt or the
completion, the tokens that followed them there are fed with the pending token in one
forward pass (:meth:`DraftRunner.forward_all`); the longest run the model's own argmax agrees
with is kept, the argmax after it is the next token, and the rest is cut from the cache.
The output is the greedy one; on a CPU a forward over 9 tokens costs little more than one.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import torch

from reasoner.errors import ModelError
from reasoner.grammars import GrammarMatcher as Matcher  # the one matcher protocol (kept as Matcher here)
from reasoner.kernels import HostStager, allocate_token_bitmask, apply_token_bitmask, sample
from reasoner.models._prefix import KV, PrefixCache
from reasoner.models._protocol import FinishReason, GenerateOptions

__all__ = [
    "DraftRunner",
    "DynamicCacheRunner",
    "Generation",
    "IncrementalDetokenizer",
    "Matcher",
    "Runner",
    "RunnerInfo",
    "StepResult",
    "StopMatcher",
]


class Runner(Protocol):
    """Runs the model forward over new tokens, appending them to a KV cache.

    ``new_cache(prefix)`` starts a cache holding a copy of ``prefix`` (per layer keys and
    values ``[1, H, L, D]``); ``export(cache)`` returns the KV a cache holds now, as tensors
    that later steps never write to (``None`` when this cache cannot be shared).
    """

    def new_cache(self, prefix: KV | None = None) -> Any: ...
    def forward(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor: ...
    def export(self, cache: Any) -> KV | None: ...


@runtime_checkable
class DraftRunner(Runner, Protocol):
    """A runner that can verify drafted tokens: ``forward_all`` returns the logits of every
    fed position ``[K, V]``; ``truncate(cache, n)`` drops the last ``n`` tokens' KV."""

    def forward_all(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor: ...
    def truncate(self, cache: Any, tokens: int) -> None: ...


@dataclass(frozen=True, slots=True)
class RunnerInfo:
    """What runs a local model's forward passes, for reports (``TransformersModel.runner_info``,
    benchmark headers): the runner (``"dynamic"``, ``"static"``, ``"static+cuda-graph"``),
    the attention implementation (``"sdpa"``, ``"sdpa:efficient"``, ...) and a note."""

    runner: str
    attention: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.runner}, attention {self.attention}" + (f" ({self.note})" if self.note else "")


class DynamicCacheRunner:
    """Eager forward with transformers' growing ``DynamicCache`` (the CPU path).

    The reference every other runner is tested against (token-identical greedy output);
    :class:`~reasoner.models._static.StaticCacheRunner` keeps its interface.
    """

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model
        self.device = device
        # transformers renamed forward(past_key_values=) to cache= (deprecated from 5.2x on)
        self._cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    @property
    def info(self) -> RunnerInfo:
        """The runner ("dynamic") and the model's attention implementation."""
        return RunnerInfo("dynamic", str(getattr(self.model.config, "_attn_implementation", None) or "sdpa"))

    def new_cache(self, prefix: KV | None = None) -> Any:
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        for layer, (keys, values) in enumerate(prefix or ()):
            cache.update(keys, values, layer)  # concatenates onto an empty layer: a copy
        return cache

    def export(self, cache: Any) -> KV | None:
        # A DynamicLayer replaces its tensors on every update (torch.cat), so the ones it
        # holds now are never written again. Other layer kinds (sliding windows) may be.
        from transformers.cache_utils import DynamicLayer

        layers = getattr(cache, "layers", None)
        if not layers or any(type(layer) is not DynamicLayer or not layer.is_initialized for layer in layers):
            return None
        return tuple((layer.keys, layer.values) for layer in layers)

    def forward(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor:
        # input_ids: [1, K] -> logits [1, V] at the last position; K tokens appended to the cache
        input_ids = torch.tensor([list(token_ids)], dtype=torch.long, device=self.device)
        out = self.model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def forward_all(self, token_ids: Sequence[int], cache: Any) -> torch.Tensor:
        # input_ids: [1, K] -> logits [K, V], one row per fed position
        input_ids = torch.tensor([list(token_ids)], dtype=torch.long, device=self.device)
        out = self.model(input_ids=input_ids, use_cache=True, **{self._cache_kw: cache})
        logits: torch.Tensor = out.logits[0]
        return logits

    def truncate(self, cache: Any, tokens: int) -> None:
        # slices, never writes: tensors a prefix cache holds stay as they are
        if tokens <= 0:
            return
        for layer in cache.layers:
            layer.keys = layer.keys[..., :-tokens, :]
            layer.values = layer.values[..., :-tokens, :]


@dataclass(frozen=True, slots=True)
class StepResult:
    """Tokens a step appended to the completion (sampled first, then forced) and, when the
    generation is over, why."""

    tokens: tuple[int, ...]
    forced: int
    finish_reason: FinishReason | None


@dataclass(slots=True)
class Generation:
    """The state of one generation. Not thread-safe: one step at a time (the async side
    runs each step in a worker thread under the device's limiter).

    ``start()`` returns the tokens the grammar forces before anything is sampled; the
    first ``step()`` prefills ``prompt + those`` and samples. Tokens at or past
    ``vocab_limit`` (embedding padding rows) are never sampled.
    """

    runner: Runner
    prompt_ids: Sequence[int]
    options: GenerateOptions
    eos_ids: frozenset[int]
    matcher: Matcher | None = None
    grammar_vocab_size: int = 0
    vocab_limit: int | None = None
    generator: torch.Generator | None = None
    closer_ids: torch.Tensor | None = None  # [C] ids that only close ("]}) and EOS ids
    prefix_cache: PrefixCache | None = None
    draft_tokens: int = 0  # greedy text without a grammar: tokens drafted per forward at most
    staged_masks: bool | None = None  # masks through a double-buffered HostStager (None: on CUDA)
    completion_ids: list[int] = field(default_factory=list, init=False)
    forced_count: int = field(default=0, init=False)
    cached_tokens: int = field(default=0, init=False)  # prompt tokens whose KV came from the prefix cache
    _cache: Any = field(default=None, init=False)
    _pending: list[int] = field(default_factory=list, init=False)
    _bitmask: torch.Tensor | None = field(default=None, init=False)
    _stager: HostStager | None = field(default=None, init=False)
    _done: bool = field(default=False, init=False)
    _closing: bool = field(default=False, init=False)  # sticky: the text looped, close it

    def start(self) -> StepResult:
        forced = self._take_forced(budget=self.options.max_tokens)
        self._pending = [*self.prompt_ids, *forced]
        self.completion_ids.extend(forced)
        self.forced_count += len(forced)
        return StepResult(tuple(forced), len(forced), self._finish_after_tokens())

    def step(self) -> StepResult:
        """One forward pass over the pending tokens (the prefill first), then :meth:`choose`."""
        if self._done:
            raise ModelError("Generation.step() called after the generation finished")
        if self._cache is None:
            logits = self._prefill()
        elif self._cache is _DETACHED:
            raise ModelError("Generation.step(): a batch runs this generation's forward passes (detach_cache)")
        else:
            draft = self._draft()
            if draft:
                return self._verify(draft)
            logits = self.runner.forward(self._pending, self._cache)  # [1, V]
        return self.choose(logits)

    def _draft(self) -> list[int]:
        # prompt lookup: only where the output is the argmax and no grammar must see each token
        if not self.draft_tokens or self.matcher is not None or self.options.temperature > 0 or not isinstance(self.runner, DraftRunner):
            return []
        room = self.options.max_tokens - len(self.completion_ids) - 1  # the verified token comes on top
        return lookup_draft([*self.prompt_ids, *self.completion_ids], min(self.draft_tokens, room))

    def _verify(self, draft: list[int]) -> StepResult:
        # feed pending + draft at once; keep the draft while it is what greedy would pick
        runner = cast(DraftRunner, self.runner)
        fed = len(self._pending)
        logits = runner.forward_all([*self._pending, *draft], self._cache)  # [fed + D, V]
        if self.vocab_limit is not None and logits.shape[-1] > self.vocab_limit:
            logits[:, self.vocab_limit :] = float("-inf")
        greedy = logits[fed - 1 : fed - 1 + len(draft)].argmax(dim=-1).tolist()
        kept = 0
        while kept < len(draft) and greedy[kept] == draft[kept] and draft[kept] not in self.eos_ids:
            kept += 1
        runner.truncate(self._cache, len(draft) - kept)
        self.completion_ids.extend(draft[:kept])
        result = self.choose(logits[fed - 1 + kept : fed + kept])  # the token after the kept run
        return StepResult((*draft[:kept], *result.tokens), result.forced, result.finish_reason)

    @property
    def pending(self) -> Sequence[int]:
        """The tokens the next forward pass feeds (the prompt and forced tokens before the
        prefill; then the last sampled token and the tokens forced after it)."""
        return self._pending

    @property
    def done(self) -> bool:
        """Whether the generation has finished."""
        return self._done

    @property
    def prefilled(self) -> bool:
        """Whether the prompt has been fed (the cache holds it)."""
        return self._cache is not None

    def detach_cache(self) -> Any:
        """Hand the generation's own KV cache over (to a batch that runs its forward passes
        from now on); until :meth:`attach_cache` only :meth:`choose` may be called."""
        cache, self._cache = self._cache, _DETACHED
        return cache

    def attach_cache(self, cache: Any) -> None:
        """Take a KV cache of the runner's kind back (holding exactly the tokens fed so far);
        :meth:`step` runs the forward passes again."""
        self._cache = cache

    def choose(self, logits: torch.Tensor) -> StepResult:
        """Mask and sample ``logits`` [1, V] (the forward pass over :attr:`pending`, in place),
        advance the grammar and take the tokens it forces next."""
        if self._done:
            raise ModelError("Generation.choose() called after the generation finished")
        if self.vocab_limit is not None and logits.shape[-1] > self.vocab_limit:
            logits[:, self.vocab_limit :] = float("-inf")  # embedding rows past the tokenizer are padding
        if self.matcher is not None:
            apply_token_bitmask(logits, self._fill_mask(self.matcher, logits))
            logits = self._steer_to_close(logits)
        token = int(sample(logits, self.options.temperature, self.options.top_p, self.generator)[0])
        if token in self.eos_ids:
            self._done = True
            return StepResult((), 0, "grammar" if self.matcher is not None else "stop")
        if self.matcher is not None:
            self.matcher.advance(token)
        self.completion_ids.append(token)
        forced = self._take_forced(budget=self.options.max_tokens - len(self.completion_ids))
        self.completion_ids.extend(forced)
        self.forced_count += len(forced)
        self._pending = [token, *forced]
        return StepResult((token, *forced), len(forced), self._finish_after_tokens())

    def _fill_mask(self, matcher: Matcher, logits: torch.Tensor) -> torch.Tensor:
        # The grammar's bitmask for this step, filled on the CPU while a GPU still runs the
        # forward pass (nothing before this synchronises with it). Staged: into one of two
        # pinned buffers, then a non-blocking copy to a fixed device buffer.
        staged = logits.is_cuda if self.staged_masks is None else self.staged_masks
        if self._bitmask is None:  # once per generation (and grammar), reused by every step
            self._bitmask = allocate_token_bitmask(self.grammar_vocab_size)
            if staged:
                self._stager = HostStager(tuple(self._bitmask.shape), torch.int32, logits.device)
        host = self._bitmask if self._stager is None else self._stager.host()
        matcher.fill_bitmask(host)
        if not bool(host.any()):
            raise ModelError("the grammar allows no token here; the schema cannot be completed")
        return host if self._stager is None else self._stager.upload()

    def _prefill(self) -> torch.Tensor:
        # the first forward: from the longest cached prefix of the pending ids, if any
        ids = self._pending
        hit = None if self.prefix_cache is None else self.prefix_cache.lookup(ids)
        self._cache = self.runner.new_cache(hit.kv) if hit is not None else self.runner.new_cache()
        start = 0 if hit is None else hit.length
        self.cached_tokens = start
        logits = self.runner.forward(ids[start:], self._cache)  # [1, V]
        if self.prefix_cache is not None:
            kv = self.runner.export(self._cache)
            if kv is not None:
                self.prefix_cache.store(ids, kv)
        return logits

    def replace_matcher(self, matcher: Matcher, grammar_vocab_size: int) -> None:
        """Continue under another grammar: ``matcher`` is advanced over the completion so far
        (``ModelError`` if the new grammar does not accept it)."""
        for token in self.completion_ids:
            try:
                matcher.advance(token)
            except Exception as exc:
                raise ModelError(f"the refined grammar does not accept the text decoded so far: {exc}") from exc
        self.matcher = matcher
        if grammar_vocab_size != self.grammar_vocab_size:
            self.grammar_vocab_size = grammar_vocab_size
            self._bitmask = self._stager = None

    def _steer_to_close(self, logits: torch.Tensor) -> torch.Tensor:
        # near max_tokens, keep only the closing tokens the grammar allows (if it allows any)
        if self.closer_ids is None:
            return logits
        if self.options.close_on_repeat and not self._closing:
            self._closing = _loops(self.completion_ids)
        left = self.options.max_tokens - len(self.completion_ids)
        if not self._closing and (not self.options.close_within or left > self.options.close_within):
            return logits
        closers = logits[:, self.closer_ids]  # [1, C]
        if not bool(torch.isfinite(closers).any()):
            return logits
        steered = torch.full_like(logits, float("-inf"))
        steered[:, self.closer_ids] = closers
        return steered

    def _take_forced(self, budget: int) -> list[int]:
        if self.matcher is None or budget <= 0 or self.matcher.is_terminated():
            return []
        forced: list[int] = []
        for token in self.matcher.forced_tokens()[:budget]:
            if token in self.eos_ids:
                break
            self.matcher.advance(token)
            forced.append(token)
        return forced

    def _finish_after_tokens(self) -> FinishReason | None:
        reason: FinishReason | None = None
        if self.matcher is not None and self.matcher.is_terminated():
            reason = "grammar"
        elif len(self.completion_ids) >= self.options.max_tokens:
            reason = "length"
        self._done = reason is not None
        return reason


_DETACHED = object()  # the cache of a generation whose steps a batch runs

_DRAFT_NGRAM = 3  # the longest tail looked up; down to 2 tokens


def lookup_draft(ids: Sequence[int], limit: int) -> list[int]:
    """The tokens that followed the latest earlier occurrence of the last 3 (else 2) tokens
    of ``ids``, at most ``limit`` of them; ``[]`` when the tail occurs nowhere before."""
    if limit <= 0:
        return []
    n = len(ids)
    for size in range(_DRAFT_NGRAM, 1, -1):
        if n <= size:
            continue
        tail = list(ids[n - size :])
        for start in range(n - size - 1, -1, -1):
            if ids[start] == tail[0] and list(ids[start : start + size]) == tail:
                return list(ids[start + size : min(start + size + limit, n)])
    return []


_LOOP_PERIOD = 16
_LOOP_SPAN = 16


def _loops(ids: Sequence[int]) -> bool:
    """Whether ``ids`` end in a run of at most 16 tokens repeated over at least 16 tokens
    (and at least 3 times)."""
    n = len(ids)
    for period in range(1, _LOOP_PERIOD + 1):
        span = max(_LOOP_SPAN, 3 * period)
        if span > n:
            break
        tail = ids[n - span :]
        if all(tail[i] == tail[i - period] for i in range(period, span)):
            return True
    return False


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text deltas.

    Decodes a short window of recent ids (TGI's prefix/read offsets) rather than the whole
    completion each time, and holds text back while it ends in a partial UTF-8 sequence
    (the decoder's U+FFFD), so no delta ever contains a replacement character that a later
    token would have completed.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0
        self._read = 0

    def _decode(self, ids: list[int]) -> str:
        text: str = self._tokenizer.decode(ids, skip_special_tokens=True)
        return text

    def push(self, ids: Sequence[int]) -> str:
        """Add tokens; return the text they complete (possibly empty)."""
        self._ids.extend(ids)
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) > len(prefix_text) and not text.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self._ids)
            return text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """The text still held back (a trailing partial character decodes as U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return text[len(prefix_text) :]


class StopMatcher:
    """Finds stop strings in streamed text.

    Text that could be the start of a stop string is held back until the next piece shows
    whether it is; the stop string and everything after it are never emitted.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(stops)
        self._held = ""

    def push(self, text: str) -> tuple[str, bool]:
        """Return ``(text safe to emit, whether a stop string was hit)``."""
        if not self._stops:
            return text, False
        buf = self._held + text
        hits = [i for i in (buf.find(s) for s in self._stops) if i >= 0]
        if hits:
            self._held = ""
            return buf[: min(hits)], True
        keep = 0
        for s in self._stops:
            for n in range(min(len(s) - 1, len(buf)), 0, -1):
                if buf.endswith(s[:n]):
                    keep = max(keep, n)
                    break
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        """The held-back text, at the end of the stream (it turned out not to be a stop)."""
        held, self._held = self._held, ""
        return held
