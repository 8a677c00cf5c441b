"""reasoner.evals: how well a model plans and answers, measured on a dataset.

::

    python -m reasoner.evals                  # the bundled demo dataset, the embedded model
    reasoner eval --limit 5 --json            # the same command

    from reasoner import Engine
    from reasoner.evals import load_dataset, run_eval
    report = await run_eval(Engine(tools=..., planner=...), load_dataset("demo"))
    print(report)                             # plan validity, tool selection F1, argument and
                                              # answer accuracy, median/p90 latency, tokens

BFCL (the Berkeley Function Calling Leaderboard, read offline from the ``bfcl-eval``
package): :func:`load_bfcl` a category, :func:`run_bfcl` plans its questions with an
engine's planner and scores the calls with BFCL's AST semantics (:func:`check_calls`).
:func:`compare_reports` / :func:`load_reports` put saved reports side by side and
:func:`write_plots` draws them (PNG).

Metrics are pure functions (:func:`score_item` and the four below it); the runner feeds
them each run's plan and answer (see ``reasoner.evals._runner`` for what is collected).
"""

from reasoner.evals._bfcl import BFCL_CATEGORIES as BFCL_CATEGORIES
from reasoner.evals._bfcl import BfclItem as BfclItem
from reasoner.evals._bfcl import BfclSet as BfclSet
from reasoner.evals._bfcl import load_bfcl as load_bfcl
from reasoner.evals._bfcl import score_bfcl as score_bfcl
from reasoner.evals._bfcl_check import CheckResult as CheckResult
from reasoner.evals._bfcl_check import check_calls as check_calls
from reasoner.evals._bfcl_run import BfclReport as BfclReport
from reasoner.evals._bfcl_run import BfclRow as BfclRow
from reasoner.evals._bfcl_run import run_bfcl as run_bfcl
from reasoner.evals._compare import compare_reports as compare_reports
from reasoner.evals._compare import load_reports as load_reports
from reasoner.evals._dataset import Dataset as Dataset
from reasoner.evals._dataset import DatasetError as DatasetError
from reasoner.evals._dataset import EvalItem as EvalItem
from reasoner.evals._dataset import ExpectedCall as ExpectedCall
from reasoner.evals._dataset import bundled_datasets as bundled_datasets
from reasoner.evals._dataset import load_dataset as load_dataset
from reasoner.evals._metrics import ItemScore as ItemScore
from reasoner.evals._metrics import answer_accuracy as answer_accuracy
from reasoner.evals._metrics import argument_accuracy as argument_accuracy
from reasoner.evals._metrics import plan_valid as plan_valid
from reasoner.evals._metrics import score_item as score_item
from reasoner.evals._metrics import tool_selection as tool_selection
from reasoner.evals._plots import write_plots as write_plots
from reasoner.evals._report import EvalReport as EvalReport
from reasoner.evals._report import Machine as Machine
from reasoner.evals._runner import ItemResult as ItemResult
from reasoner.evals._runner import run_eval as run_eval

__all__ = [
    "BFCL_CATEGORIES",
    "BfclItem",
    "BfclReport",
    "BfclRow",
    "BfclSet",
    "CheckResult",
    "Dataset",
    "DatasetError",
    "EvalItem",
    "EvalReport",
    "ExpectedCall",
    "ItemResult",
    "ItemScore",
    "Machine",
    "answer_accuracy",
    "argument_accuracy",
    "bundled_datasets",
    "check_calls",
    "compare_reports",
    "load_bfcl",
    "load_dataset",
    "load_reports",
    "plan_valid",
    "run_bfcl",
    "run_eval",
    "score_bfcl",
    "score_item",
    "tool_selection",
    "write_plots",
]
