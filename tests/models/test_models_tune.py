"""LoRA training (reasoner.models._tune): targets, shared-prefix batches, resume, merging."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from reasoner.errors import ModelUnavailable, UsageError
from reasoner.models import Message, TransformersModel, random_llama
from reasoner.models._local import chat_prompt
from reasoner.models._tune import (
    LoraConfig,
    _collate,
    batch_loss,
    encode_sample,
    merge_adapter,
    train_lora,
)

SYSTEM = "You plan tool calls. " + "Tools: search, stock_price, chart, calculator, convert_units. " * 4


def _samples(n: int = 6) -> list[tuple[list[Message], str]]:
    return [([Message("system", SYSTEM), Message("user", f"Question {i}: price of item {i}?")], f'{{"answer":{i}}}') for i in range(n)]


def _fresh(tokenizer: Any) -> TransformersModel:
    return random_llama(tokenizer, vocab_size=len(tokenizer) + 64, seed=0, dtype="float32")


def test_the_loss_covers_only_the_reply_and_its_end(smol_tokenizer: Any) -> None:
    messages, output = _samples(1)[0]
    encoded = encode_sample(smol_tokenizer, messages, output, max_length=512)
    assert encoded is not None
    ids, labels = encoded
    prompt = smol_tokenizer(chat_prompt(smol_tokenizer, messages), add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt)] == prompt  # the prompt exactly as the local backend renders it
    assert labels[: len(prompt)] == [-100] * len(prompt)
    assert smol_tokenizer.decode(labels[len(prompt) :]) == output + smol_tokenizer.eos_token
    assert encode_sample(smol_tokenizer, messages, output, max_length=len(ids) - 1) is None  # too long: left out, never cut


def test_a_shared_prompt_prefix_gives_the_same_loss_as_whole_samples(smol_tokenizer: Any) -> None:
    model = _fresh(smol_tokenizer).model
    encoded = [encode_sample(smol_tokenizer, m, o, max_length=512) for m, o in _samples(3)]
    batch = [e for e in encoded if e is not None]
    with torch.no_grad():
        shared = batch_loss(model, batch, 0, torch.device("cpu"))
        whole = model(**_collate(batch, 0, torch.device("cpu"))).loss
    assert float(shared) == pytest.approx(float(whole), rel=1e-4)


def test_training_lowers_the_loss_and_writes_a_peft_adapter(smol_tokenizer: Any, tmp_path: Path) -> None:
    model = _fresh(smol_tokenizer)
    seen = []
    config = LoraConfig(rank=8, alpha=16, dropout=0.0, learning_rate=0.05, epochs=8, batch_tokens=4096, warmup_steps=1, dtype="float32")
    result = train_lora(model.model, smol_tokenizer, _samples(), tmp_path / "a", config=config, on_progress=seen.append)
    assert result.steps == len(seen) == 8 and seen[-1].step == seen[-1].steps == 8
    assert result.losses[-1] < result.losses[0] - 0.25  # a random tiny model learns slowly: its tied embeddings are frozen
    assert seen[-1].tokens_per_s > 0 and seen[-1].eta_s == 0
    saved = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert saved["r"] == 8 and (tmp_path / "a" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "a" / "checkpoint.pt").exists()  # a finished run leaves no checkpoint


def test_resume_reaches_the_same_adapter_as_an_uninterrupted_run(smol_tokenizer: Any, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    config = LoraConfig(rank=4, alpha=8, dropout=0.0, learning_rate=5e-3, epochs=4, batch_tokens=4096, warmup_steps=1, dtype="float32", checkpoint_every=1)
    train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(), tmp_path / "whole", config=config)
    first = train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(), tmp_path / "cut", config=config, max_steps=2)
    assert first.steps == 2 and (tmp_path / "cut" / "checkpoint.pt").is_file()
    second = train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(), tmp_path / "cut", config=config, resume=True)
    assert second.resumed_from == 2 and second.steps == 4
    whole, cut = load_file(tmp_path / "whole" / "adapter_model.safetensors"), load_file(tmp_path / "cut" / "adapter_model.safetensors")
    assert whole.keys() == cut.keys()
    for key in whole:
        torch.testing.assert_close(whole[key], cut[key])
    with pytest.raises(UsageError, match="other data or settings"):
        train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(3), tmp_path / "cut2", config=config, max_steps=1)
        train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(5), tmp_path / "cut2", config=config, resume=True)


def test_resume_without_a_checkpoint_says_so(smol_tokenizer: Any, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no checkpoint"):
        train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(), tmp_path, resume=True)


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_merging_without_peft_matches_peft(smol_tokenizer: Any, tmp_path: Path) -> None:
    import peft

    config = LoraConfig(rank=4, alpha=8, dropout=0.0, learning_rate=5e-3, epochs=2, warmup_steps=1, dtype="float32")
    train_lora(_fresh(smol_tokenizer).model, smol_tokenizer, _samples(), tmp_path, config=config)
    base = _fresh(smol_tokenizer).model
    ours = merge_adapter(copy.deepcopy(base), tmp_path)
    theirs = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path).merge_and_unload()
    x = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        assert not torch.allclose(ours(x).logits, base(x).logits)
        torch.testing.assert_close(ours(x).logits, theirs(x).logits, rtol=1e-4, atol=1e-4)


def test_a_folder_that_is_not_an_adapter_is_refused(smol_tokenizer: Any, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no LoRA adapter"):
        merge_adapter(_fresh(smol_tokenizer).model, tmp_path)


@pytest.mark.parametrize(("field", "value"), [("rank", 0), ("learning_rate", 2.0), ("epochs", 0), ("dtype", "float16")])
def test_bad_settings_are_refused(field: str, value: Any) -> None:
    with pytest.raises(UsageError, match=field):
        LoraConfig(**{field: value})
