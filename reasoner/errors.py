"""The one error tree of reasoner.

Every error the engine raises on purpose derives from :class:`ReasonerError`.
Developer mistakes (a wrong call, an unrepresentable tool) are :class:`UsageError`;
everything that goes wrong while a run is in progress is a :class:`RunError`.
Timeouts of tools and models are ours too, with the built-in :class:`TimeoutError` as a
second base, so ``except TimeoutError`` still catches them.

::

    ReasonerError
    ├── UsageError             the caller did something the API does not allow
    │   ├── ToolDefinitionError  a tool signature/schema that cannot be represented
    │   └── TraceError           a trace file that is not a trace (also a ValueError)
    ├── ConfigError            a config file or catalog entry is invalid or missing
    └── RunError               a failure while reasoning
        ├── PlanError            a plan that is malformed or does not fit the registry
        ├── ToolError            a tool call failed (after its retries)
        │   └── ToolTimeout        it ran past its timeout (also a TimeoutError)
        ├── ModelError           a model failed, timed out or produced unusable output
        │   ├── ModelTimeout       a call gave no next piece in time (also a TimeoutError)
        │   └── ModelUnavailable   a model that cannot be loaded or reached
        ├── GrammarError         a schema the grammar backend cannot compile or enforce
        ├── BudgetExceeded       iterations, tokens or seconds ran out
        └── NodeFailure          why a node of a finished run has no output (RunResult.errors)

:class:`ToolRetry` is not an error: a tool raises it to send a message back to the
planner ("ticker not found, try the exchange symbol").
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "ConfigError",
    "GrammarError",
    "ModelError",
    "ModelTimeout",
    "ModelUnavailable",
    "NodeFailure",
    "PlanError",
    "ReasonerError",
    "RunError",
    "ToolDefinitionError",
    "ToolError",
    "ToolRetry",
    "ToolTimeout",
    "TraceError",
    "UsageError",
]


class ReasonerError(Exception):
    """Root of every error raised by reasoner."""


class UsageError(ReasonerError):
    """The API was used in a way it does not allow; the message says how to fix it."""


class ToolDefinitionError(UsageError):
    """A tool whose signature or schema cannot be represented.

    Attributes:
        tool: the tool's name (or the function's qualified name).
        parameter: the offending parameter, when there is one.
    """

    def __init__(self, message: str, *, tool: str | None = None, parameter: str | None = None) -> None:
        super().__init__(message)
        self.tool = tool
        self.parameter = parameter


class TraceError(UsageError, ValueError):
    """A trace file with a line that is not an event; the message names the file and line."""


class ConfigError(ReasonerError):
    """A configuration file, catalog entry or option is invalid."""


class RunError(ReasonerError):
    """Something went wrong while a run was in progress."""


class PlanError(RunError):
    """A plan that is malformed or does not fit the tool registry.

    Attributes:
        node_id: the node at fault, when the problem belongs to one node.
    """

    def __init__(self, message: str, *, node_id: int | None = None) -> None:
        super().__init__(message if node_id is None else f"node {node_id}: {message}")
        self.node_id = node_id


class ToolError(RunError):
    """A tool call failed after its retries.

    Attributes:
        tool: the tool's name.
        node_id: the plan node that called it, when known.
    """

    def __init__(self, message: str, *, tool: str | None = None, node_id: int | None = None) -> None:
        super().__init__(message)
        self.tool = tool
        self.node_id = node_id


class ToolTimeout(ToolError, TimeoutError):
    """A tool call ran past its timeout."""


class ModelError(RunError):
    """A model failed, timed out or produced output that could not be used."""


class ModelTimeout(ModelError, TimeoutError):
    """A model call that gave no next piece, or did not finish, in time."""


class ModelUnavailable(ModelError):
    """A model that cannot be loaded or reached; the message names the fix."""


class GrammarError(RunError):
    """A schema or grammar the selected backend cannot compile or enforce.

    Attributes:
        keyword: the JSON Schema keyword at fault, when there is one (``"false"`` for a
            ``false`` subschema where a value must exist).
        pointer: the JSON pointer of the subschema holding it (``"#/properties/a"``), when
            known; a refused schema always has both.
    """

    def __init__(self, message: str, *, keyword: str | None = None, pointer: str | None = None) -> None:
        super().__init__(message)
        self.keyword = keyword
        self.pointer = pointer


class BudgetExceeded(RunError):
    """A run used up its budget.

    Attributes:
        kind: which budget ran out: ``"iterations"``, ``"tokens"`` or ``"seconds"``.
        limit: the configured limit.
    """

    def __init__(self, kind: str, limit: float) -> None:
        super().__init__(f"budget exceeded: {kind} limit of {limit:g} reached; raise Budget({kind}=...) to allow more")
        self.kind = kind
        self.limit = limit


class NodeFailure(RunError):
    """Why node ``node_id`` of a run has no output: the values of ``RunResult.errors``.

    A run that answers despite failed calls raises nothing; each failed or skipped node is
    described here instead. ``str()`` is ``"ErrorType: message"`` for a failed call (as the
    strings these values replaced), ``"skipped: why"`` for a node not run.

    Attributes:
        node_id: the plan node.
        error: the exception the call failed with (a :class:`ToolError`,
            :class:`ToolTimeout`, :class:`PlanError`, ...); ``None`` for a skipped node or
            one read back from a trace.
        skipped: the node did not run because a node it needs failed.
    """

    def __init__(self, message: str, *, node_id: int, error: BaseException | None = None, skipped: bool = False) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.error = error
        self.skipped = skipped
        self.__cause__ = error


class ToolRetry(Exception):
    """Raised by a tool to ask the planner to try again; the message is shown to the model."""
