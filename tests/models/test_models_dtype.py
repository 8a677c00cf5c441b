"""Which dtype a local model runs in: explicit choices, REASONER_DTYPE, and bf16 where the CPU has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from reasoner.errors import ConfigError, UsageError
from reasoner.models import Catalog, complete, load_model, load_smollm2, random_llama
from reasoner.models import _dtype as dtype_module
from reasoner.models._dtype import resolve_dtype
from reasoner.models._embedded import SHIPPED_ADAPTER


def test_explicit_dtypes_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONER_DTYPE", "float16")
    assert resolve_dtype(torch.float32, "cpu") is torch.float32
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    assert resolve_dtype("torch.float32", "cpu") is torch.float32
    assert resolve_dtype(None, "cpu") is torch.float16


@pytest.mark.parametrize(("support", "expected"), [("avx512_bf16", torch.bfloat16), ("amx_bf16", torch.bfloat16), (None, torch.float32)])
def test_auto_is_bf16_only_on_cpus_with_bf16_instructions(
    monkeypatch: pytest.MonkeyPatch, support: str | None, expected: torch.dtype
) -> None:
    monkeypatch.delenv("REASONER_DTYPE", raising=False)
    monkeypatch.setattr(dtype_module, "cpu_bf16_support", lambda: support)
    assert resolve_dtype(None, "cpu") is expected
    assert resolve_dtype("auto", "cpu") is expected
    assert resolve_dtype("auto", "cuda") is torch.bfloat16


def test_unknown_dtypes_are_refused_naming_where_they_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match=r"dtype='fp8'.*auto, float32, bfloat16, float16"):
        resolve_dtype("fp8", "cpu")
    monkeypatch.setenv("REASONER_DTYPE", "half-ish")
    with pytest.raises(UsageError, match="REASONER_DTYPE='half-ish'"):
        resolve_dtype(None, "cpu")


async def test_a_bf16_model_runs_in_bf16(smol_tokenizer: Any) -> None:
    model = random_llama(smol_tokenizer, seed=2, dtype="bfloat16")
    assert model.dtype is torch.bfloat16
    assert {p.dtype for p in model.model.parameters()} == {torch.bfloat16}
    result = await complete(model, "Say hello.", max_tokens=4)
    assert result.usage.completion_tokens >= 1


def test_load_model_takes_a_dtype(smollm2_folder: Path) -> None:
    home = smollm2_folder.parent.parent
    model: Any = load_model("smollm2-135m-base", home=home, dtype="float32")
    assert model.dtype is torch.float32 and next(model.model.parameters()).dtype is torch.float32


@pytest.mark.skipif(not (SHIPPED_ADAPTER / "adapter_config.json").is_file(), reason="no shipped adapter")
def test_an_adapter_is_merged_in_float32_before_the_cast(smollm2_folder: Path) -> None:
    home = smollm2_folder.parent.parent
    full = load_smollm2(home, dtype="float32", adapter=SHIPPED_ADAPTER).model.state_dict()
    half = load_smollm2(home, dtype="bfloat16", adapter=SHIPPED_ADAPTER).model.state_dict()
    assert full.keys() == half.keys()
    for name, weight in half.items():
        assert weight.dtype is torch.bfloat16
        assert torch.equal(weight, full[name].to(torch.bfloat16)), name


def test_a_catalog_entry_sets_the_dtype_and_a_remote_one_may_not(tmp_path: Path, smollm2_folder: Path) -> None:
    config = tmp_path / "reasoner.toml"
    config.write_text('[models.small]\nbuiltin = "smollm2-135m-base"\ndtype = "float32"\n')
    catalog = Catalog.load(config, env={"REASONER_HOME": str(smollm2_folder.parent.parent)})
    model: Any = catalog.model("small")
    assert model.dtype is torch.float32
    config.write_text('[models.far]\nurl = "http://127.0.0.1:9/v1"\nmodel = "m"\ndtype = "bfloat16"\n')
    with pytest.raises(ConfigError, match="dtype applies to local and built-in models"):
        Catalog.load(config, env={})
