from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reasoner.errors import ConfigError, ModelUnavailable
from reasoner.models import TransformersModel, catalog_names, complete, load_model, random_llama


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


def test_a_folder_without_a_model_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"config\.json"):
        TransformersModel.from_folder(tmp_path)
