"""The model catalog: names that resolve to models (a small registry for now)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reasoner.errors import ConfigError
from reasoner.models._protocol import Model

if TYPE_CHECKING:
    import torch

__all__ = ["catalog_names", "load_model"]


def _smollm2(home: str | Path | None, device: str | torch.device, dtype: torch.dtype | str | None) -> Model:
    # the embedded model as shipped: base weights with the tuned adapter merged
    from reasoner.models._embedded import SHIPPED_ADAPTER, load_smollm2

    adapter = SHIPPED_ADAPTER if (SHIPPED_ADAPTER / "adapter_config.json").is_file() else None
    model: Model = load_smollm2(home, device=device, dtype=dtype, adapter=adapter)
    return model


def _smollm2_base(home: str | Path | None, device: str | torch.device, dtype: torch.dtype | str | None) -> Model:
    from reasoner.models._embedded import SMOLLM2_BASE_NAME, load_smollm2

    model: Model = load_smollm2(home, device=device, dtype=dtype, name=SMOLLM2_BASE_NAME, adapter=None)
    return model


# name -> loader(home, device, dtype). A later catalog adds TOML entries and remote models here.
_REGISTRY: dict[str, Callable[[str | Path | None, str | torch.device, torch.dtype | str | None], Model]] = {
    "smollm2-135m": _smollm2,
    "smollm2-135m-base": _smollm2_base,
}


def catalog_names() -> list[str]:
    """The names :func:`load_model` knows, sorted."""
    return sorted(_REGISTRY)


def load_model(
    name_or_path: str | Path,
    *,
    home: str | Path | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
) -> Model:
    """Resolve a catalog name (``"smollm2-135m"``) or a local model folder to a loaded model.

    Blocking (about a second for the embedded model once its cache exists); from async
    code call it through ``anyio.to_thread.run_sync``. ``home`` is the reasoner home folder
    for the embedded model's cache (default: ``$REASONER_HOME`` or ``~/.cache/reasoner``).
    ``dtype`` (a torch dtype, or ``"auto"``, ``"float32"``, ``"bfloat16"``, ``"float16"``)
    defaults to ``$REASONER_DTYPE``, else auto: bfloat16 on CUDA and on CPUs with
    AMX/AVX512-BF16, float32 elsewhere.

    Raises:
        ConfigError: neither a known name nor an existing folder; the message lists the names.
        ModelUnavailable: the model exists but cannot be loaded; the message gives the fix.
    """
    key = str(name_or_path)
    loader = _REGISTRY.get(key)
    if loader is not None:
        return loader(home, device, dtype)
    path = Path(key).expanduser()
    if path.is_dir():
        from reasoner.models._local import TransformersModel

        return TransformersModel.from_folder(path, device=device, dtype=dtype)
    known = ", ".join(repr(n) for n in catalog_names())
    raise ConfigError(f"unknown model {key!r}: use one of {known}, or the path of a local folder holding a transformers model")
