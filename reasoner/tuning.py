"""The Python API of ``reasoner tune``: fine-tune a local model for its roles with LoRA.

::

    from reasoner.tuning import LoraConfig, load_examples, tune

    examples = load_examples("examples.jsonl")          # or examples_from_trace, expand_seeds + complete, teach
    result = tune(examples, "adapters/mine", base="smollm2-135m-base", config=LoraConfig(epochs=2))
    result.after                                         # held-out scores through the real loop

The adapter folder then goes in the catalog as ``base`` + ``adapter``. Importing this
module is cheap: torch and peft load when training starts.
"""

from __future__ import annotations

from reasoner._tune import TuneResult as TuneResult
from reasoner._tune import evaluate_examples as evaluate_examples
from reasoner._tune import training_samples as training_samples
from reasoner._tune import tune as tune
from reasoner._tune_data import complete as complete
from reasoner._tune_data import contamination as contamination
from reasoner._tune_data import examples_from_trace as examples_from_trace
from reasoner._tune_data import expand_seeds as expand_seeds
from reasoner._tune_data import load_seeds as load_seeds
from reasoner._tune_teacher import teach as teach
from reasoner.models._tune import LoraConfig as LoraConfig
from reasoner.models._tune import merge_adapter as merge_adapter
from reasoner.planner._examples import ExampleError as ExampleError
from reasoner.planner._examples import TuneExample as TuneExample
from reasoner.planner._examples import load_examples as load_examples
from reasoner.planner._examples import parse_examples as parse_examples
from reasoner.planner._examples import role_samples as role_samples

__all__ = [
    "ExampleError",
    "LoraConfig",
    "TuneExample",
    "TuneResult",
    "complete",
    "contamination",
    "evaluate_examples",
    "examples_from_trace",
    "expand_seeds",
    "load_examples",
    "load_seeds",
    "merge_adapter",
    "parse_examples",
    "role_samples",
    "teach",
    "training_samples",
    "tune",
]
