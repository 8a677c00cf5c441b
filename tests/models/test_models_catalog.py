from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reasoner.errors import ConfigError, ModelUnavailable
from reasoner.models import Catalog, ModelEntry, TransformersModel, catalog_names, complete, load_model, random_llama


def test_unknown_name_lists_the_known_ones() -> None:
    assert "smollm2-135m" in catalog_names()
    with pytest.raises(ConfigError, match=r"unknown model 'gpt-17'.*'smollm2-135m'.*local folder"):
        load_model("gpt-17")


async def test_a_local_folder_loads_as_a_transformers_model(tmp_path: Path, smol_tokenizer: Any) -> None:
    saved = random_llama(smol_tokenizer, seed=5)
    saved.model.save_pretrained(tmp_path)
    smol_tokenizer.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    assert isinstance(loaded, TransformersModel) and loaded.name == tmp_path.name
    # same weights, same greedy output
    assert (await complete(loaded, "hi", max_tokens=8)).text == (await complete(saved, "hi", max_tokens=8)).text
    # a catalog resolves the folder the same way (load_model is a catalog without a file), roles included
    catalog = Catalog(roles={"planner": str(tmp_path)}, env={})
    assert catalog.entry(str(tmp_path)) == ModelEntry(path=tmp_path) and catalog.role("answerer") == [str(tmp_path)]
    from_catalog = catalog.model(str(tmp_path))
    assert from_catalog.name == tmp_path.name
    assert (await complete(from_catalog, "hi", max_tokens=8)).text == (await complete(saved, "hi", max_tokens=8)).text


def test_a_name_is_resolved_once_the_same_way_by_a_catalog_and_by_load_model(tmp_path: Path) -> None:
    catalog = Catalog(env={})
    assert catalog.entry("smollm2-135m") == ModelEntry(builtin="smollm2-135m")
    for resolve in (catalog.entry, load_model, lambda name: Catalog(roles={"planner": name}, env={})):
        with pytest.raises(ConfigError, match=r"unknown model 'gpt-17'.*'smollm2-135m-base'.*local folder"):
            resolve("gpt-17")


def test_a_folder_without_a_model_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"config\.json"):
        TransformersModel.from_folder(tmp_path)


def test_the_embedded_model_ships_its_tuned_adapter_and_card() -> None:
    import json

    from reasoner.models._embedded import SHIPPED_ADAPTER

    files = {p.name: p.stat().st_size for p in SHIPPED_ADAPTER.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "card.json", "README.md"} <= set(files)
    assert sum(size for name, size in files.items() if name != "training-data.jsonl") <= 25 * 2**20
    card = json.loads((SHIPPED_ADAPTER / "card.json").read_text())
    assert card["base"] == "smollm2-135m-base" and card["recipe"]["tools"] == "demo"
    import hashlib

    data = (SHIPPED_ADAPTER / "training-data.jsonl").read_bytes()
    assert hashlib.sha256(data).hexdigest() == card["data"]["sha256"]  # the committed data is what it was trained on
    assert {"smollm2-135m", "smollm2-135m-base"} <= set(catalog_names())


@pytest.mark.slow
def test_smollm2_135m_is_the_base_with_the_shipped_adapter_merged() -> None:
    import torch

    tuned, base = load_model("smollm2-135m"), load_model("smollm2-135m-base")
    assert isinstance(tuned, TransformersModel) and isinstance(base, TransformersModel)
    assert (tuned.name, base.name) == ("smollm2-135m", "smollm2-135m-base")
    q_tuned = tuned.model.model.layers[0].self_attn.q_proj.weight
    q_base = base.model.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(q_tuned, q_base)
    torch.testing.assert_close(tuned.model.model.embed_tokens.weight, base.model.model.embed_tokens.weight)  # LoRA leaves these alone
