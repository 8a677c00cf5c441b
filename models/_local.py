"""The local transformers backend: a model and tokenizer driven by our own decode loop."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

# OpenMP's wait policy is left to the runtime (libgomp: a short spin, then sleep): spinning
# threads made decoding many times slower beside busy processes only while every core had a
# thread of ours; the thread count now follows the load (reasoner.models._threads), and
# OMP_WAIT_POLICY=PASSIVE cost 15-20% per run on an idle machine (README, Benchmarks).
import torch

from reasoner.errors import ModelUnavailable, UsageError
from reasoner.kernels import select_attention
from reasoner.models._decode import (
    DynamicCacheRunner,
    Generation,
    IncrementalDetokenizer,
    RunnerInfo,
    StopMatcher,
)
from reasoner.models._dtype import resolve_dtype
from reasoner.models._prefix import DEFAULT_MAX_BYTES, PrefixCache
from reasoner.models._protocol import (
    Delta,
    FinishReason,
    GenerateOptions,
    Message,
    Usage,
    as_messages,
)
from reasoner.models._scheduler import DecodeScheduler, Ticket
from reasoner.models._static import StaticCacheRunner
from reasoner.models._threads import ThreadPolicy

__all__ = ["RUNNER_NAMES", "RunnerName", "TransformersModel", "chat_prompt", "device_limiter", "quiet_progress", "random_llama"]

T = TypeVar("T")

_LOOKAHEAD = 2  # steps the scheduler may compute ahead of a consumer (one in flight, one waiting)

_LIMITERS: anyio.lowlevel.RunVar[dict[str, anyio.CapacityLimiter]] = anyio.lowlevel.RunVar("reasoner_device_limiters")


@contextlib.contextmanager
def quiet_progress() -> Iterator[None]:
    """Silence transformers' progress bars (loading, saving) for the duration; a library
    does not draw on the user's terminal."""
    from transformers.utils import logging

    hf_logging: Any = logging  # untyped module
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def device_limiter(device: torch.device | str) -> anyio.CapacityLimiter:
    """The one ``CapacityLimiter(1)`` of ``device`` in the current event loop, for blocking
    work that must not run beside another on the device (a local model's generations run
    on its decode scheduler's thread instead)."""
    try:
        limiters = _LIMITERS.get()
    except LookupError:
        limiters = {}
        _LIMITERS.set(limiters)
    key = str(torch.device(device))
    if key not in limiters:
        limiters[key] = anyio.CapacityLimiter(1)
    return limiters[key]


RunnerName = Literal["auto", "dynamic", "static", "graph"]
RUNNER_NAMES: tuple[str, ...] = ("auto", "dynamic", "static", "graph")


def _runner_for(model: Any, device: torch.device, runner: str, max_cache_len: int) -> tuple[DynamicCacheRunner | StaticCacheRunner, str]:
    """The runner named ``runner`` (``"auto"``: the dynamic cache everywhere, for now: the
    static and CUDA-graph runners have not run on a GPU yet, so they are chosen by name),
    and why it is not the one asked for."""
    if runner not in RUNNER_NAMES:
        raise UsageError(f"runner={runner!r} is not a runner: use one of {', '.join(RUNNER_NAMES)}")
    if runner == "auto" and device.type == "cuda":
        return DynamicCacheRunner(model, device), "the graph runner is opt-in (runner='graph') until it has run on a GPU"
    if runner in ("dynamic", "auto"):
        return DynamicCacheRunner(model, device), ""
    from reasoner.models._static import static_unsupported

    reason = static_unsupported(model)
    if reason is not None:
        return DynamicCacheRunner(model, device), f"no static cache: {reason}"
    return StaticCacheRunner(model, device, max_cache_len=max_cache_len, graphs=runner != "static"), ""


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return frozenset(ids)


class TransformersModel:
    """A local causal LM (transformers model + tokenizer) behind the :class:`Model` protocol.

    Prompts are built with the tokenizer's chat template (a plain ``role: content``
    transcript when it has none). Every generation runs on the model's one decode thread
    (:class:`~reasoner.models._scheduler.DecodeScheduler`, ``scheduler``), which feeds each
    stream through a bounded buffer (at most 2 steps ahead of its consumer; 1 with
    ``refine``) and batches the forward passes of concurrent generations, each with its own
    grammar, mask and sampler (continuous batching, up to ``max_batch``). Cancelling or
    leaving a stream takes its generation out before the scheduler's next step. The KV of every prompt is kept in a :class:`PrefixCache` (``prefix_cache``)
    shared by all calls, so a later prompt that starts with the same tokens (the same
    system text, tool list, examples) prefills only what differs. With a schema, tokens are masked by a ``reasoner.grammars`` grammar before
    sampling, tokens the grammar forces are appended without sampling, and generation ends
    when the grammar is complete (``finish_reason="grammar"``).

    Args:
        model: a transformers causal LM (``LlamaForCausalLM``, ...).
        tokenizer: its transformers (fast) tokenizer.
        name: the name reported in usage and errors.
        device: where to run; the model is moved there.
        dtype: weights and activations dtype, a torch dtype or a name (``"float32"``,
            ``"bfloat16"``, ``"float16"``, ``"auto"``); default ``$REASONER_DTYPE``, else
            auto: bfloat16 on CUDA and on CPUs with AMX/AVX512-BF16, float32 elsewhere.
        prefix_cache_bytes: the most bytes of prompt-prefix KV kept (0: no prefix cache).
        max_batch: the most generations whose steps share a forward pass; more wait.
        draft_tokens: greedy text without a schema drafts up to this many tokens per
            forward pass from what it copies (prompt lookup, see ``reasoner.models._decode``);
            0 turns it off. In bfloat16 a drafted step rounds like a multi-token step, so a
            near tie can go the other way than one token at a time would (float32: identical).
        threads: torch threads on a CPU; default ``$REASONER_THREADS``, else the cores other
            processes leave free, looked at between steps (``reasoner.models._threads``).
        runner: what runs a generation's own forward passes: ``"dynamic"`` (transformers'
            growing cache, the reference), ``"static"`` (preallocated KV slots and
            fixed-shape steps, see ``reasoner.models._static``), ``"graph"`` (static with
            the steps captured in CUDA graphs; CUDA only) or ``"auto"`` (dynamic: the static
            and graph runners are chosen by name until they have run on a GPU). :attr:`runner_info` says which runs.
            Batched steps of concurrent generations run eagerly whatever the runner.
        max_cache_len: positions per static KV slot (prompt plus reply).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str | None = None,
        prefix_cache_bytes: int = DEFAULT_MAX_BYTES,
        max_batch: int = 8,
        draft_tokens: int = 8,
        threads: int | None = None,
        runner: RunnerName = "auto",
        max_cache_len: int = 4096,
    ) -> None:
        self.name = name
        self.device = torch.device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.tokenizer = tokenizer
        self.eos_ids = _eos_ids(model, tokenizer)
        if not self.eos_ids:
            raise UsageError(f"model {name!r}: neither the model config nor the tokenizer names an EOS token; set eos_token_id")
        self._runner, self._runner_note = _runner_for(self.model, self.device, runner, max_cache_len)
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        policy = ThreadPolicy(threads) if self.device.type == "cpu" else None
        self.scheduler = DecodeScheduler(self.model, self.device, max_batch=max_batch, threads=policy)
        self._closers: torch.Tensor | None = None
        if draft_tokens < 0:
            raise UsageError(f"model {name!r}: draft_tokens must be 0 (off) or more, not {draft_tokens}")
        self.draft_tokens = draft_tokens

    refines_schema = True  # stream() takes refine= (see reasoner.models.Model)

    def __repr__(self) -> str:
        return f"TransformersModel(name={self.name!r}, device={str(self.device)!r}, dtype={self.dtype}, runner={self.runner_info.runner!r})"

    @property
    def runner_info(self) -> RunnerInfo:
        """What runs this model's forward passes: the runner and the attention kernel (the
        static runner names the SDPA backend once its first step has chosen it)."""
        info = self._runner.info
        return RunnerInfo(info.runner, info.attention, self._runner_note) if self._runner_note else info

    @classmethod
    def from_folder(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str | None = None,
        adapter: str | Path | None = None,
        runner: RunnerName = "auto",
    ) -> TransformersModel:
        """Load a model and tokenizer saved with ``save_pretrained`` in a local folder (blocking;
        never downloads); ``adapter`` is a peft LoRA adapter folder to merge into the weights;
        ``runner`` as in the constructor.

        Raises:
            ModelUnavailable: the folder is missing or does not hold a loadable model, or
                the adapter cannot be applied (or peft is missing).
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelUnavailable(f"no model at {folder}: expected a folder with config.json, weights and tokenizer files")
        dev = torch.device(device)
        dtype = resolve_dtype(dtype, dev)
        # an adapter's small deltas are merged in float32 (bf16's 8-bit mantissa would round
        # many of them away), and the merged weights cast afterwards
        load_dtype = torch.float32 if adapter is not None else dtype
        try:
            with quiet_progress():
                tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(
                    folder,
                    dtype=load_dtype,
                    local_files_only=True,
                    attn_implementation=select_attention(dev, dtype).implementation,
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(f"cannot load the model in {folder}: {exc}") from exc
        if adapter is not None:
            from reasoner.models._tune import merge_adapter

            model = merge_adapter(model, adapter)
        return cls(model, tokenizer, name=name or folder.name, device=dev, dtype=dtype, runner=runner)

    @classmethod
    def from_config(
        cls,
        config: Any,
        tokenizer: Any,
        *,
        seed: int = 0,
        name: str = "random",
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str | None = None,
        runner: RunnerName = "auto",
    ) -> TransformersModel:
        """A model with random weights (seeded, without touching the global RNG) built from a
        transformers config; speed and grammar tests do not depend on weight values."""
        from transformers import AutoModelForCausalLM

        auto: Any = AutoModelForCausalLM  # untyped
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = auto.from_config(config, attn_implementation="sdpa")
        return cls(model, tokenizer, name=name, device=device, dtype=dtype, runner=runner)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        options: GenerateOptions | None = None,
        refine: Callable[[], dict[str, Any]] | None = None,
    ) -> AsyncIterator[Delta]:
        """Stream the reply (see :class:`reasoner.models.Model`; ``refine`` swaps the grammar
        between steps, replaying the tokens so far into it)."""
        opts = options or GenerateOptions()
        msgs = as_messages(messages)
        started = time.perf_counter()
        grammar = None if schema is None else await self._grammar(schema, opts.grammar_backend)
        prompt_ids = await anyio.to_thread.run_sync(self._prompt_ids, msgs)
        generator = None
        if opts.seed is not None and opts.temperature > 0:
            generator = torch.Generator(device=self.device).manual_seed(opts.seed)
        gen = Generation(
            runner=self._runner,
            prompt_ids=prompt_ids,
            options=opts,
            eos_ids=self.eos_ids,
            matcher=None if grammar is None else grammar.matcher(),
            grammar_vocab_size=0 if grammar is None else grammar.vocab_size,
            vocab_limit=len(self.tokenizer),
            generator=generator,
            closer_ids=self._closer_ids() if grammar is not None and (opts.close_within or opts.close_on_repeat) else None,
            prefix_cache=self.prefix_cache if self.prefix_cache.max_bytes else None,
            draft_tokens=self.draft_tokens,
        )
        detok = IncrementalDetokenizer(self.tokenizer)
        stops = StopMatcher(opts.stop)
        step = gen.start()
        ticket: Ticket | None = None
        try:
            while True:
                text, hit_stop = stops.push(detok.push(step.tokens))
                finish: FinishReason | None = "stop" if hit_stop else step.finish_reason
                if finish is not None:
                    if not hit_stop:
                        rest, hit_stop = stops.push(detok.flush())
                        text += rest if hit_stop else rest + stops.flush()
                        finish = "stop" if hit_stop else finish
                    usage = Usage(
                        self.name, len(prompt_ids), len(gen.completion_ids), gen.forced_count, time.perf_counter() - started,
                        cached_tokens=min(gen.cached_tokens, len(prompt_ids)),
                    )  # fmt: skip
                    yield Delta(text, step.tokens, finish, usage)
                    return
                if text or step.tokens:
                    yield Delta(text, step.tokens)
                await anyio.lowlevel.checkpoint_if_cancelled()
                if refine is not None and schema is not None:
                    wanted = refine()
                    if wanted is not schema:  # the scheduler holds no step of ours (lock step): swap now
                        schema = wanted
                        grammar = await self._grammar(schema, opts.grammar_backend)
                        await anyio.to_thread.run_sync(gen.replace_matcher, grammar.matcher(), grammar.vocab_size)
                if ticket is None:
                    lock_step = refine is not None and schema is not None
                    ticket = self.scheduler.submit(gen, capacity=1 if lock_step else _LOOKAHEAD)
                else:
                    ticket.release()
                step = await ticket.next()
        finally:
            if ticket is not None:
                ticket.cancel()

    @property
    def context_length(self) -> int | None:
        """Tokens the model can attend to (prompt plus reply), from its config."""
        value = getattr(self.model.config, "max_position_embeddings", None)
        return int(value) if isinstance(value, int) else None

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Prompt tokens of ``messages`` in this model's chat format and tokenizer."""
        return len(self._prompt_ids(as_messages(messages)))

    def count_text(self, text: str) -> int:
        """Tokens of ``text`` in this model's tokenizer."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _closer_ids(self) -> torch.Tensor:
        """Ids of the tokens made only of ``"``, ``]`` and ``}`` (plus EOS): what closes JSON."""
        if self._closers is None:
            from reasoner.grammars import closing_token_ids

            ids = sorted({*closing_token_ids(self.tokenizer, len(self.tokenizer)), *self.eos_ids})
            self._closers = torch.tensor(ids, dtype=torch.long, device=self.device)
        return self._closers

    def _prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        ids: list[int] = self.tokenizer(chat_prompt(self.tokenizer, messages), add_special_tokens=False)["input_ids"]
        return ids

    async def _grammar(self, schema: dict[str, Any], backend: str) -> Any:
        # reasoner.grammars caches compiled grammars per (tokenizer, backend, schema)
        from reasoner.grammars import compile_json_schema

        compile_: Callable[[], Any] = functools.partial(compile_json_schema, schema, self.tokenizer, backend=backend)
        return await anyio.to_thread.run_sync(compile_)


def chat_prompt(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The prompt text for ``messages``, up to where the assistant's reply starts: the
    tokenizer's chat template, or a plain ``role: content`` transcript when it has none.
    The local backend prompts with this, and ``reasoner tune`` trains on it."""
    dicts = [{"role": m.role, "content": m.content} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        text: str = tokenizer.apply_chat_template(dicts, tokenize=False, add_generation_prompt=True)
        return text
    return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant: "


def random_llama(
    tokenizer: Any,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab_size: int | None = None,
    seed: int = 0,
    name: str = "random-llama",
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
    runner: RunnerName = "auto",
    initializer_range: float = 0.02,
) -> TransformersModel:
    """A tiny random-weight Llama around a real tokenizer, for tests and benchmarks.

    ``vocab_size`` defaults to ``len(tokenizer)`` rounded up to a multiple of 64, so the
    embedding has padding rows past the tokenizer's vocabulary, as real checkpoints do.
    ``initializer_range`` is the weights' standard deviation (transformers' default 0.02
    makes a model that repeats one token; 0.1 writes varied text).
    """
    from transformers import LlamaConfig

    if vocab_size is None:
        vocab_size = -(-len(tokenizer) // 64) * 64
    if vocab_size < len(tokenizer):
        raise UsageError(f"random_llama: vocab_size {vocab_size} is smaller than the tokenizer's {len(tokenizer)} tokens")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise UsageError("random_llama: the tokenizer has no eos_token_id; give it an eos_token")
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
        pad_token_id=eos,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
    )
    return TransformersModel.from_config(config, tokenizer, seed=seed, name=name, device=device, dtype=dtype, runner=runner)
