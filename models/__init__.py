"""reasoner.models: the Model protocol and its backends.

- :class:`Model` (one method, ``stream``), :func:`complete`, and the records
  :class:`Message`, :class:`GenerateOptions`, :class:`Delta`, :class:`Usage`,
  :class:`Completion`.
- :class:`TransformersModel`: a local transformers model driven by our decode loop
  (grammar mask, forced tokens, KV cache, a prefix KV cache shared by its calls; bf16
  where the hardware has it, ``dtype=`` or ``$REASONER_DTYPE`` to choose);
  :func:`random_llama` builds a tiny one.
- :func:`load_model`: a built-in name (``"smollm2-135m"``, the embedded default) or a
  local folder, resolved as a :class:`Catalog` without a file resolves it. The embedded model's cache lives under :func:`reasoner_home`
  (``$REASONER_HOME``, default ``~/.cache/reasoner``); :func:`ensure_smollm2` builds it.
- :class:`ScriptedModel`: a public test double replaying scripted replies.
- :class:`OpenAIModel`: any OpenAI-compatible server over httpx (streaming, json_schema
  or prompted output with validation and repair, retries, timeouts).
- :class:`Catalog`: the one model-name resolution (its entries, then the built-ins, then
  local folders) and each role's ordered models; entries (:class:`ModelEntry`) come from
  code or a TOML file (``Catalog.load``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reasoner.models._backoff import Backoff as Backoff
from reasoner.models._catalog import Catalog as Catalog
from reasoner.models._catalog import catalog_names as catalog_names
from reasoner.models._catalog import load_model as load_model
from reasoner.models._config import ModelEntry as ModelEntry
from reasoner.models._embedded import SMOLLM2_NAME as SMOLLM2_NAME
from reasoner.models._embedded import ensure_smollm2 as ensure_smollm2
from reasoner.models._embedded import load_smollm2 as load_smollm2
from reasoner.models._embedded import reasoner_home as reasoner_home
from reasoner.models._protocol import Completion as Completion
from reasoner.models._protocol import Delta as Delta
from reasoner.models._protocol import FinishReason as FinishReason
from reasoner.models._protocol import GenerateOptions as GenerateOptions
from reasoner.models._protocol import Message as Message
from reasoner.models._protocol import Model as Model
from reasoner.models._protocol import Usage as Usage
from reasoner.models._protocol import as_messages as as_messages
from reasoner.models._protocol import complete as complete
from reasoner.models._protocol import validate_output as validate_output
from reasoner.models._remote import OpenAIModel as OpenAIModel
from reasoner.models._scripted import ScriptedCall as ScriptedCall
from reasoner.models._scripted import ScriptedModel as ScriptedModel

__all__ = [
    "Backoff",
    "Catalog",
    "Completion",
    "Delta",
    "FinishReason",
    "GenerateOptions",
    "Message",
    "Model",
    "ModelEntry",
    "OpenAIModel",
    "SMOLLM2_NAME",
    "ScriptedCall",
    "ScriptedModel",
    "TransformersModel",
    "Usage",
    "as_messages",
    "catalog_names",
    "complete",
    "ensure_smollm2",
    "load_model",
    "load_smollm2",
    "random_llama",
    "reasoner_home",
    "validate_output",
]

# torch and transformers load on first use of a local model, not on ``import reasoner.models``
_LAZY = {"TransformersModel": "reasoner.models._local", "random_llama": "reasoner.models._local"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reasoner.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from reasoner.models._local import TransformersModel as TransformersModel
    from reasoner.models._local import random_llama as random_llama
