"""The merged-weights cache of the embedded model with an adapter: built once, keyed by the
adapter's content, rebuilt when damaged."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

import reasoner.models._tune as tune
from reasoner.models import SMOLLM2_NAME, load_smollm2
from reasoner.models._embedded import SHIPPED_ADAPTER, verify_cache
from reasoner.models._merged import KEEP, merged_folder

pytestmark = pytest.mark.skipif(not (SHIPPED_ADAPTER / "adapter_config.json").is_file(), reason="no shipped adapter")


@pytest.fixture
def home(smollm2_folder: Path, tmp_path: Path) -> Path:
    # the (read-only) base cache linked into a fresh home: merged caches are written beside it
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / SMOLLM2_NAME).symlink_to(smollm2_folder, target_is_directory=True)
    return tmp_path


def _adapter(tmp_path: Path, name: str, bump: float = 0.0) -> Path:
    folder = tmp_path / name
    shutil.copytree(SHIPPED_ADAPTER, folder)
    if bump:
        weights = load_file(folder / "adapter_model.safetensors")
        key = next(k for k in sorted(weights) if k.endswith("lora_B.weight"))
        weights[key] = weights[key] + bump
        save_file(weights, folder / "adapter_model.safetensors")
    return folder


def _weights(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.model.state_dict().items()}


def _no_merging(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("merged again instead of loading the merged-weights cache")

    monkeypatch.setattr(tune, "merge_adapter", refuse)


def test_merged_weights_are_cached_and_a_damaged_cache_is_rebuilt(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = _adapter(tmp_path, "mine")
    folder = merged_folder(home, adapter, torch.bfloat16)
    first = _weights(load_smollm2(home, dtype="bfloat16", adapter=adapter))
    assert verify_cache(folder) is None and folder.name.startswith(f"{SMOLLM2_NAME}+mine-")
    with monkeypatch.context() as patch:
        _no_merging(patch)
        again = load_smollm2(home, dtype="bfloat16", adapter=adapter)
        assert again.dtype is torch.bfloat16
        second = _weights(again)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    (folder / "config.json").write_text("{}")  # damaged: merged again and replaced
    load_smollm2(home, dtype="bfloat16", adapter=adapter)
    assert verify_cache(folder) is None


def test_new_adapter_content_gets_a_new_merge_and_old_caches_are_pruned(home: Path, tmp_path: Path) -> None:
    adapter = _adapter(tmp_path, "mine")
    before = merged_folder(home, adapter, torch.bfloat16)
    old = _weights(load_smollm2(home, dtype="bfloat16", adapter=adapter))
    shutil.rmtree(adapter)
    shutil.copytree(_adapter(tmp_path, "retrained", bump=0.05), adapter)  # same folder, new files
    after = merged_folder(home, adapter, torch.bfloat16)
    assert after != before
    new = _weights(load_smollm2(home, dtype="bfloat16", adapter=adapter))
    assert verify_cache(after) is None
    assert any(not torch.equal(old[k], new[k]) for k in old)
    for i in range(KEEP):
        load_smollm2(home, dtype="bfloat16", adapter=_adapter(tmp_path, f"other{i}", bump=0.01 * (i + 1)))
    merged = sorted(p.name for p in (home / "models").glob(f"{SMOLLM2_NAME}+*"))
    assert len(merged) == KEEP and before.name not in merged and after.name not in merged
