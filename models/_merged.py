"""The embedded model with a LoRA adapter merged, cached next to the embedded model's cache.

``smollm2-135m`` is the base weights with the shipped adapter merged into them. Merging at
every load costs the merge itself (a plain LoRA in place, or peft for the other kinds)
plus a float32 load to merge into; the merged weights are therefore saved once, in the
dtype they run in, and later loads read them like any model folder::

    <home>/models/smollm2-135m+<adapter folder name>-<key>-<dtype>/
        config.json  generation_config.json  model.safetensors  tokenizer files
        manifest.json   (the sha256 of every file, checked on every load)

``key`` hashes the base cache's manifest (which holds the sha256 of the base weights) and
the adapter's ``adapter_config.json`` and ``adapter_model.safetensors``: replacing the
adapter files (a retrained adapter) or the base gives a new key, so a stale merge is never
loaded. At most ``KEEP`` merged caches are kept (the least recently used go first).
Like the base cache, a merged cache is written to a temporary folder and renamed into
place, and a damaged one is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.errors import ModelUnavailable
from reasoner.models._embedded import SMOLLM2_NAME, ensure_smollm2, reasoner_home, verify_cache

if TYPE_CHECKING:
    import torch

__all__ = ["KEEP", "load_merged", "merged_folder"]

log = logging.getLogger("reasoner.models")

KEEP = 3
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
_FORMAT = 1


def _key(base_manifest: Path, adapter: Path) -> str:
    digest = hashlib.sha256()
    for path in (base_manifest, *(adapter / name for name in _ADAPTER_FILES)):
        try:
            with path.open("rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
        except OSError as exc:
            raise ModelUnavailable(f"cannot read {path} to key the merged-weights cache: {exc}") from exc
    return digest.hexdigest()[:16]


def merged_folder(home: str | Path | None, adapter: str | Path, dtype: torch.dtype) -> Path:
    """Where the embedded model merged with ``adapter`` and cast to ``dtype`` is cached (it
    may not exist yet). Reads the base manifest and the adapter files; builds nothing.

    Raises:
        ModelUnavailable: the base manifest or an adapter file cannot be read.
    """
    folder = Path(adapter).expanduser()
    models = reasoner_home(home) / "models"
    name = str(dtype).removeprefix("torch.")
    return models / f"{SMOLLM2_NAME}+{folder.name}-{_key(models / SMOLLM2_NAME / 'manifest.json', folder)}-{name}"


def _write(model: Any, dest: Path, adapter: Path) -> None:
    from reasoner.models._local import quiet_progress

    with quiet_progress():
        model.model.save_pretrained(dest)
        model.tokenizer.save_pretrained(dest)
    files = {}
    for path in sorted(dest.iterdir()):
        with path.open("rb") as f:
            files[path.name] = {"size": path.stat().st_size, "sha256": hashlib.file_digest(f, "sha256").hexdigest()}
    manifest = {"format": _FORMAT, "model": SMOLLM2_NAME, "adapter": str(adapter), "dtype": str(model.dtype), "files": files}
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def _prune(models: Path, keep: Path) -> None:
    # the least recently used merged caches beyond KEEP go (a load touches its manifest)
    merged = [p for p in models.glob(f"{SMOLLM2_NAME}+*") if p.is_dir() and p != keep]
    merged.sort(key=lambda p: (p / "manifest.json").stat().st_mtime if (p / "manifest.json").exists() else 0.0)
    for old in merged[: max(0, len(merged) - (KEEP - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def load_merged(home: str | Path | None, adapter: str | Path, *, device: str | torch.device, dtype: torch.dtype, name: str) -> Any:
    """The embedded model with ``adapter`` merged, as a ``TransformersModel`` named ``name``:
    from the merged-weights cache when it is there and intact, else merged now (in float32,
    then cast) and saved for the next load. Blocking.

    Raises:
        ModelUnavailable: the base cache cannot be built or the adapter cannot be merged. A
            merged cache that cannot be written (a read-only home) is only logged.
    """
    from reasoner.models._local import TransformersModel

    adapter = Path(adapter).expanduser()
    if not (reasoner_home(home) / "models" / SMOLLM2_NAME / "manifest.json").is_file():
        ensure_smollm2(home)  # the key needs the base's manifest
    folder = merged_folder(home, adapter, dtype)
    if verify_cache(folder) is None:
        with contextlib.suppress(OSError):
            os.utime(folder / "manifest.json")
        return TransformersModel.from_folder(folder, name=name, device=device, dtype=dtype)
    model = TransformersModel.from_folder(ensure_smollm2(home), name=name, device=device, dtype=dtype, adapter=adapter)
    tmp = folder.parent / f".{folder.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        _write(model, tmp, adapter)
        if folder.exists():  # damaged: replace it
            shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
        _prune(folder.parent, folder)
    except OSError as exc:
        log.warning("could not cache the merged weights at %s (%s); the next load merges again", folder, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model
