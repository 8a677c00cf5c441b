"""The Model protocol and the records it streams.

A model is anything with a ``name`` and one method, :meth:`Model.stream`: an async
iterator of :class:`Delta` for a list of chat messages, optionally constrained by a JSON
Schema. :func:`complete` collects a stream into a :class:`Completion` and validates
constrained output with jsonschema, whatever the backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from reasoner.errors import ModelError, UsageError
from reasoner.grammars import validate_instance

__all__ = [
    "Completion",
    "Delta",
    "FinishReason",
    "GenerateOptions",
    "Message",
    "Model",
    "Usage",
    "as_messages",
    "complete",
    "validate_output",
]

FinishReason = Literal["stop", "length", "grammar"]
_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``role`` is ``system``, ``user``, ``assistant`` or ``tool``."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise UsageError(f"Message role {self.role!r} is not one of {', '.join(_ROLES)}")
        if not isinstance(self.content, str):
            raise UsageError(f"Message content must be a str, got {type(self.content).__name__}")


def as_messages(messages: Sequence[Message | Mapping[str, Any]] | str) -> tuple[Message, ...]:
    """Normalize a prompt: a str (one user message), Messages, or ``{"role", "content"}`` dicts."""
    if isinstance(messages, str):
        return (Message("user", messages),)
    out: list[Message] = []
    for i, m in enumerate(messages):
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, Mapping) and set(m) >= {"role", "content"}:
            out.append(Message(str(m["role"]), m["content"]))
        else:
            raise UsageError(f"message {i} must be a Message or a mapping with 'role' and 'content', got {m!r:.80}")
    if not out:
        raise UsageError("a model call needs at least one message")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """How to decode.

    Attributes:
        max_tokens: completion tokens at most (forced tokens count); then finish ``"length"``.
        stop: strings that end generation; the stop string itself is not emitted.
        temperature: 0 is greedy (deterministic); > 0 samples.
        top_p: nucleus mass kept when sampling (1.0 keeps everything).
        seed: seeds the sampler so a sampled generation is reproducible.
        grammar_backend: the ``reasoner.grammars`` backend used for a schema.
        close_within: with a schema, once at most this many completion tokens are left,
            the local decoder takes only tokens that close what is open (``"``, ``]``,
            ``}``, EOS) wherever the grammar allows one, so the instance can end within
            ``max_tokens``; 0 (the default) never steers. Remote backends ignore it.
        close_on_repeat: with a schema, once the last tokens loop (a run of up to 16
            tokens repeated over at least 16 tokens, e.g. ``1.1.1.1...`` inside a string),
            the local decoder steers to close for the rest of the generation, as above.
    """

    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    grammar_backend: str = "llguidance"
    close_within: int = 0
    close_on_repeat: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_tokens < 1:
            raise UsageError(f"GenerateOptions.max_tokens must be >= 1, got {self.max_tokens}")
        if self.close_within < 0:
            raise UsageError(f"GenerateOptions.close_within must be >= 0, got {self.close_within}")
        if self.temperature < 0:
            raise UsageError(f"GenerateOptions.temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise UsageError(f"GenerateOptions.top_p must be in (0, 1], got {self.top_p}")
        if any(not s for s in self.stop):
            raise UsageError("GenerateOptions.stop must not contain an empty string")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and wall time of one generation. ``forced_tokens`` (appended by the
    grammar without a sampling step) are included in ``completion_tokens``;
    ``cached_tokens`` (prompt tokens whose KV a local model reused from its prefix cache
    instead of computing it) are included in ``prompt_tokens``."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    forced_tokens: int = 0
    seconds: float = 0.0
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a streamed completion. The last delta of a stream has ``finish_reason``
    and ``usage`` set (its text may be empty)."""

    text: str
    token_ids: tuple[int, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A collected stream: the full text, why it ended, and its usage."""

    text: str
    usage: Usage
    finish_reason: FinishReason

    def json(self) -> Any:
        """The text parsed as JSON (raises ModelError when it is not JSON)."""
        return _parse_json(self.text, self.usage.model)


@runtime_checkable
class Model(Protocol):
    """A chat model. Implementations: ``TransformersModel`` (local), ``ScriptedModel`` (tests)."""

    name: str

    def stream(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        options: GenerateOptions | None = None,
    ) -> AsyncIterator[Delta]:
        """Stream the reply to ``messages``. With ``schema``, the text is one JSON value that
        the backend constrains to the schema. The last delta carries ``finish_reason`` and
        ``usage``. Raises ModelError (or a subclass) when the model fails.

        A model whose ``refines_schema`` attribute is true also takes ``refine=``: a
        function called before each decoding step that returns the schema to constrain the
        rest of the text with (the same object while nothing changes). The new schema must
        accept the text so far; the model replays it into the new grammar. The planner
        narrows its grammar this way as each node closes.

        A model may also tell its limits: ``context_length`` (prompt plus reply tokens),
        ``count_tokens(messages)`` and ``count_text(text)`` in its own tokenizer. The loop
        then fits observations to a token cap and checks every prompt against the context
        before the call."""
        ...


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[Delta]) -> AsyncIterator[None]:
    # an abandoned async generator must be closed here, not whenever it is collected
    try:
        yield
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _parse_json(text: str, model: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"model {model!r} returned text that is not JSON ({exc.msg} at char {exc.pos}): {text[:200]!r}") from exc


def validate_output(text: str, schema: dict[str, Any], *, model: str) -> Any:
    """Parse ``text`` as JSON and validate it against ``schema``; return the value
    (:func:`reasoner.grammars.validate_instance`, the one validator, under this model's name).

    Raises:
        ModelError: not JSON, or the first validation error, naming its JSON path.
        GrammarError: ``schema`` is not a valid JSON Schema.
    """
    return validate_instance(text, schema, source=f"model {model!r} output")


async def complete(
    model: Model,
    messages: Sequence[Message | Mapping[str, Any]] | str,
    *,
    schema: dict[str, Any] | None = None,
    options: GenerateOptions | None = None,
    **option_fields: Any,
) -> Completion:
    """Run ``model`` to the end and collect its reply.

    ``option_fields`` (``max_tokens=``, ``temperature=``, ...) override ``options``. With a
    schema the text is validated with jsonschema before this returns.

    Raises:
        ModelError: the model failed, or a schema was given and the text does not match it
            (or was cut off by ``max_tokens``).
        UsageError: an unknown option field.
    """
    unknown = set(option_fields) - {f.name for f in dataclasses.fields(GenerateOptions)}
    if unknown:
        raise UsageError(f"complete() got unknown option(s) {sorted(unknown)}; see GenerateOptions")
    opts = dataclasses.replace(options or GenerateOptions(), **option_fields)
    parts: list[str] = []
    last: Delta | None = None
    stream = model.stream(as_messages(messages), schema=schema, options=opts)
    async with _closing(stream):
        async for delta in stream:
            parts.append(delta.text)
            last = delta
    if last is None or last.finish_reason is None or last.usage is None:
        raise ModelError(f"model {model.name!r} ended its stream without a finish reason and usage")
    text = "".join(parts)
    if schema is not None:
        if last.finish_reason == "length":
            raise ModelError(
                f"model {model.name!r} reached max_tokens={opts.max_tokens} before its JSON output was complete: "
                f"{text[-80:]!r}; raise max_tokens or bound the schema's strings and arrays"
            )
        validate_output(text, schema, model=model.name)
    return Completion(text=text, usage=last.usage, finish_reason=last.finish_reason)
