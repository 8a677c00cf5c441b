"""LoRA fine-tuning of a local causal LM on (messages -> reply) samples, with peft.

The core of ``reasoner tune``: it knows nothing of plans or roles, only of samples whose
prompt is a list of chat messages and whose target is the reply text. The prompt is
rendered by :func:`~reasoner.models._local.chat_prompt` (the function the local backend
uses at run time), the reply is followed by the EOS token, and the loss covers the
reply's tokens only.

Training is plain and deterministic: a fixed seed orders the samples (batches of similar
length, shuffled), AdamW over the LoRA weights only, linear warm-up then linear decay.
On CPU the frozen base runs in bfloat16 when the processor supports it (AMX or
avx512_bf16; the adapter weights stay float32 and matmuls autocast to bfloat16), on CUDA
in bfloat16. A checkpoint (adapter weights, optimizer, step) is written every
``checkpoint_every`` steps; :func:`train_lora` with ``resume=True`` continues from the
latest one and reaches the same weights as an uninterrupted run.

torch and peft are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.errors import ModelUnavailable, UsageError
from reasoner.models._protocol import Message

if TYPE_CHECKING:
    import torch

__all__ = ["LoraConfig", "Progress", "TrainResult", "cpu_supports_bf16", "encode_sample", "merge_adapter", "train_lora"]

_CHECKPOINT = "checkpoint.pt"
_GROUP_TOKENS = 16  # samples are batched with others that start the same (chat template + system prompt)
_MIN_SHARED = 32  # a shorter shared prefix is not worth a separate pass
_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True, slots=True)
class LoraConfig:
    """How to train. ``dtype`` is ``"auto"`` (bfloat16 where supported, else float32),
    ``"bfloat16"`` or ``"float32"``; ``batch_tokens`` bounds the padded tokens per step."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    learning_rate: float = 1e-3
    epochs: float = 2.0
    batch_tokens: int = 4096
    max_length: int = 1024
    warmup_steps: int = 20
    weight_decay: float = 0.0
    seed: int = 0
    dtype: str = "auto"
    checkpoint_every: int = 50
    target_modules: tuple[str, ...] = _TARGETS

    def __post_init__(self) -> None:
        for name in ("rank", "alpha", "batch_tokens", "max_length", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"LoraConfig({name}={value!r}) must be a whole number >= 1")
        if not 0 < self.learning_rate < 1:
            raise UsageError(f"LoraConfig(learning_rate={self.learning_rate!r}) must be between 0 and 1")
        if not self.epochs > 0:
            raise UsageError(f"LoraConfig(epochs={self.epochs!r}) must be > 0")
        if self.dtype not in ("auto", "bfloat16", "float32"):
            raise UsageError(f"LoraConfig(dtype={self.dtype!r}): use auto, bfloat16 or float32")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["target_modules"] = list(self.target_modules)
        return out


@dataclass(frozen=True, slots=True)
class Progress:
    """One training step done: for a progress bar."""

    step: int
    steps: int
    loss: float
    tokens: int  # tokens processed so far in this process (prompt and reply, unpadded)
    tokens_per_s: float
    eta_s: float


@dataclass(frozen=True, slots=True)
class TrainResult:
    steps: int
    samples: int
    epochs: float
    tokens: int
    seconds: float
    tokens_per_s: float
    final_loss: float
    dtype: str
    device: str
    resumed_from: int = 0
    losses: list[float] = field(default_factory=list)


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (AMX or avx512_bf16), per /proc/cpuinfo."""
    from reasoner.models._dtype import cpu_bf16_support

    return cpu_bf16_support() is not None


def _dtype(config: LoraConfig, device: torch.device) -> torch.dtype:
    import torch

    if config.dtype == "float32":
        return torch.float32
    if config.dtype == "bfloat16" or device.type == "cuda" or cpu_supports_bf16():
        return torch.bfloat16
    return torch.float32


def encode_sample(tokenizer: Any, messages: Sequence[Message], output: str, *, max_length: int) -> tuple[list[int], list[int]] | None:
    """``(input_ids, labels)`` for one sample: the prompt exactly as the local backend renders
    it, then ``output`` and EOS; labels are -100 on the prompt. ``None`` when it is longer
    than ``max_length`` tokens (never cut: a cut reply teaches the model to stop early)."""
    from reasoner.models._local import chat_prompt

    prompt: list[int] = tokenizer(chat_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"]
    reply: list[int] = tokenizer(output, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    if eos is None:
        raise UsageError("the tokenizer has no eos_token_id: the reply's end cannot be taught")
    ids = prompt + reply + [int(eos)]
    if len(ids) > max_length:
        return None
    return ids, [-100] * len(prompt) + reply + [int(eos)]


def _batches(samples: Sequence[tuple[list[int], list[int]]], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped into batches (in random order) of samples that share their first
    ``_GROUP_TOKENS`` tokens (the same system prompt) and have similar lengths; a batch's
    cost, its shared prefix once plus each sample's rest, stays within ``batch_tokens``."""
    order = sorted(range(len(samples)), key=lambda i: (samples[i][0][:_GROUP_TOKENS], len(samples[i][0]), rng.random()))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            ids = [samples[k][0] for k in (*current, i)]
            shared = _shared_prefix([samples[k] for k in (*current, i)])
            cost = shared + (len(ids)) * (max(len(x) for x in ids) - shared)
            if cost > batch_tokens or samples[i][0][:_GROUP_TOKENS] != samples[current[0]][0][:_GROUP_TOKENS]:
                batches.append(current)
                current = []
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _shared_prefix(samples: Sequence[tuple[list[int], list[int]]]) -> int:
    """How many leading tokens every sample has in common, short of its first label (the
    token before a label must be computed in the batched pass, where the loss is)."""
    limit = min(next((j for j, y in enumerate(labels) if y != -100), len(labels)) for _, labels in samples) - 1
    first = samples[0][0]
    n = 0
    while n < limit and all(len(ids) > n and ids[n] == first[n] for ids, _ in samples):
        n += 1
    return n


def _schedule(steps: int, total: int, warmup: int) -> float:
    if steps < warmup:
        return (steps + 1) / warmup
    return max(0.0, (total - steps) / max(1, total - warmup))


def _collate(samples: Sequence[tuple[list[int], list[int]]], pad: int, device: torch.device) -> dict[str, torch.Tensor]:
    import torch

    width = max(len(ids) for ids, _ in samples)
    ids = torch.full((len(samples), width), pad, dtype=torch.long)  # [B, T]
    labels = torch.full((len(samples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(samples), width), dtype=torch.long)
    for row, (x, y) in enumerate(samples):
        ids[row, : len(x)] = torch.tensor(x)
        labels[row, : len(y)] = torch.tensor(y)
        mask[row, : len(x)] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def batch_loss(model: Any, samples: Sequence[tuple[list[int], list[int]]], pad: int, device: torch.device) -> torch.Tensor:
    """Mean loss over the label tokens of ``samples``. A prefix all samples share (the
    system prompt) is run once and its KV cache repeated for the batch (the same loss as
    running each sample whole, for a fraction of the prompt compute)."""
    import torch

    shared = _shared_prefix(samples) if len(samples) > 1 else 0
    if shared < _MIN_SHARED:
        loss: torch.Tensor = model(**_collate(samples, pad, device)).loss
        return loss
    from transformers import DynamicCache

    prefix = torch.tensor([samples[0][0][:shared]], device=device)  # [1, P]
    cache = DynamicCache()
    key = _cache_keyword(model)
    model(input_ids=prefix, use_cache=True, **{key: cache})
    cache.batch_repeat_interleave(len(samples))  # [1, H, P, D] -> [B, H, P, D], gradients flow back to the one prefix pass
    rest = _collate([(ids[shared:], labels[shared:]) for ids, labels in samples], pad, device)
    rest["attention_mask"] = torch.cat([torch.ones((len(samples), shared), dtype=torch.long, device=device), rest["attention_mask"]], dim=1)
    loss = model(**rest, use_cache=True, **{key: cache}).loss
    return loss


def _cache_keyword(model: Any) -> str:
    # transformers renamed forward(past_key_values=) to cache= (deprecated from 5.2x on)
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def train_lora(
    model: Any,
    tokenizer: Any,
    samples: Sequence[tuple[Sequence[Message], str]],
    out_dir: str | Path,
    *,
    config: LoraConfig = LoraConfig(),
    resume: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    max_steps: int | None = None,
) -> TrainResult:
    """Train a LoRA adapter on ``model`` (a transformers causal LM, changed in place: it is
    wrapped by peft) and save it to ``out_dir`` (``adapter_config.json`` and
    ``adapter_model.safetensors``). Blocking; ``on_progress`` is called after every step.

    ``max_steps`` stops early (the schedule still spans the whole run: for measuring and
    tests). Checkpoints go to ``out_dir/checkpoint.pt``; ``resume=True`` continues from it.

    Raises:
        ModelUnavailable: peft is not installed.
        UsageError: no sample fits ``config.max_length``, or ``resume`` without a checkpoint.
    """
    try:
        import peft
    except ImportError as exc:
        raise ModelUnavailable("reasoner tune needs peft: pip install 'reasoner[tune]'") from exc
    import torch

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    encoded = [e for e in (encode_sample(tokenizer, m, o, max_length=config.max_length) for m, o in samples) if e is not None]
    if not encoded:
        raise UsageError(f"no sample fits in max_length={config.max_length} tokens; raise it")
    device = next(model.parameters()).device
    dtype = _dtype(config, device)
    torch.manual_seed(config.seed)
    model.to(dtype=dtype)
    lora = peft.LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), task_type="CAUSAL_LM", bias="none",
    )  # fmt: skip
    with _quiet_peft():
        wrapped: Any = peft.get_peft_model(model, lora)  # adapter weights in float32 (autocast_adapter_dtype)
    params = [p for p in wrapped.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)

    rng = random.Random(config.seed)
    epochs = max(1, math.ceil(config.epochs))
    plan: list[list[int]] = []
    for _ in range(epochs):
        plan += _batches(encoded, config.batch_tokens, rng)
    total = max(1, round(len(plan) * config.epochs / epochs))
    plan = plan[:total]

    start_step = 0
    checkpoint = out / _CHECKPOINT
    if resume:
        if not checkpoint.is_file():
            raise UsageError(f"--resume: no checkpoint at {checkpoint}; start without --resume")
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state["total"] != total or state["samples"] != len(encoded):
            raise UsageError(f"--resume: {checkpoint} is from a run with other data or settings; start without --resume")
        peft.set_peft_model_state_dict(wrapped, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
        torch.set_rng_state(state["rng"])

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    losses: list[float] = []
    tokens = 0
    started = time.perf_counter()
    stop = total if max_steps is None else min(total, start_step + max_steps)
    wrapped.train()
    for step in range(start_step, stop):
        batch = [encoded[i] for i in plan[step]]
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * _schedule(step, total, config.warmup_steps)
        with autocast:
            loss = batch_loss(wrapped, batch, pad, device)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        tokens += sum(len(ids) for ids, _ in batch)
        elapsed = time.perf_counter() - started
        rate = tokens / elapsed if elapsed > 0 else 0.0
        if on_progress is not None:
            eta = elapsed / (step + 1 - start_step) * (stop - step - 1)
            on_progress(Progress(step + 1, total, losses[-1], tokens, rate, eta))
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
            _save_checkpoint(checkpoint, wrapped, optimizer, step + 1, total, len(encoded))
    seconds = time.perf_counter() - started
    wrapped.eval()
    wrapped.save_pretrained(out)
    if stop == total:
        checkpoint.unlink(missing_ok=True)
    else:
        _save_checkpoint(checkpoint, wrapped, optimizer, stop, total, len(encoded))
    return TrainResult(
        steps=stop, samples=len(encoded), epochs=config.epochs, tokens=tokens, seconds=seconds,
        tokens_per_s=tokens / seconds if seconds > 0 else 0.0, final_loss=sum(losses[-20:]) / max(1, len(losses[-20:])),
        dtype=str(dtype).removeprefix("torch."), device=str(device), resumed_from=start_step, losses=losses,
    )  # fmt: skip


@contextlib.contextmanager
def _quiet_peft() -> Iterator[None]:
    # peft calls a transformers property that transformers 5 deprecates; not the user's concern
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _save_checkpoint(path: Path, model: Any, optimizer: Any, step: int, total: int, samples: int) -> None:
    import peft
    import torch

    state = {
        "adapter": peft.get_peft_model_state_dict(model),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "total": total,
        "samples": samples,
        "rng": torch.get_rng_state(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a crash mid-write never leaves a torn checkpoint


def merge_adapter(model: Any, adapter: str | Path) -> Any:
    """``model`` with the LoRA adapter in folder ``adapter`` (peft format) merged into its
    weights, in place: ``W += B @ A * alpha / r`` per adapted layer. Plain LoRA adapters
    (what ``reasoner tune`` writes) merge without peft; other kinds (DoRA, rsLoRA, rank or
    alpha patterns) go through peft when it is installed. Blocking.

    Raises:
        ModelUnavailable: not an adapter folder, an adapter for another model, or a kind
            that needs peft when peft is missing.
    """
    import json

    folder = Path(adapter).expanduser()
    config_file, weights_file = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not config_file.is_file() or not weights_file.is_file():
        raise ModelUnavailable(f"no LoRA adapter at {folder}: expected adapter_config.json and adapter_model.safetensors")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"{config_file} is unreadable: {exc}") from exc
    plain = (
        config.get("peft_type") == "LORA" and not config.get("use_dora") and not config.get("use_rslora")
        and not config.get("rank_pattern") and not config.get("alpha_pattern") and not config.get("fan_in_fan_out")
        and config.get("bias", "none") == "none" and not config.get("modules_to_save")
    )  # fmt: skip
    if not plain:
        return _merge_with_peft(model, folder)
    import torch
    from safetensors.torch import load_file

    scale = float(config["lora_alpha"]) / float(config["r"])
    state = load_file(weights_file)
    modules = dict(model.named_modules())
    merged = 0
    with torch.no_grad():
        for key, a in state.items():
            if not key.endswith(".lora_A.weight"):
                continue
            stem = key.removesuffix(".lora_A.weight")
            name = stem.removeprefix("base_model.model.")
            module = modules.get(name)
            b = state.get(stem + ".lora_B.weight")
            if module is None or b is None or not hasattr(module, "weight"):
                raise ModelUnavailable(f"the adapter in {folder} does not fit this model: it adapts {name!r}, which the model lacks")
            delta = (b.float() @ a.float()) * scale  # [out, r] @ [r, in] -> [out, in]
            if delta.shape != module.weight.shape:
                raise ModelUnavailable(f"the adapter in {folder} does not fit this model: {name} is {tuple(module.weight.shape)}, the adapter's delta {tuple(delta.shape)}")
            module.weight += delta.to(device=module.weight.device, dtype=module.weight.dtype)
            merged += 1
    if not merged:
        raise ModelUnavailable(f"the adapter in {folder} has no LoRA weights")
    return model.eval()


def _merge_with_peft(model: Any, folder: Path) -> Any:
    try:
        import peft
    except ImportError as exc:
        raise ModelUnavailable(f"the adapter in {folder} is not plain LoRA; merging it needs peft: pip install 'reasoner[tune]'") from exc
    dtype = next(model.parameters()).dtype
    try:
        with _quiet_peft():
            wrapped: Any = peft.PeftModel.from_pretrained(model, folder, autocast_adapter_dtype=False)
        merged = wrapped.merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelUnavailable(f"cannot apply the adapter in {folder}: {exc}") from exc
    return merged.to(dtype=dtype).eval()
