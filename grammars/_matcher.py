"""The matcher contract a decode loop drives, the bitmask layout, and tokenizer facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reasoner.errors import GrammarError, UsageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "GrammarMatcher",
    "TokenizerFacts",
    "bitmask_words",
    "checked_bitmask",
    "encode",
    "not_allowed",
    "pack_bits",
    "set_bit",
]


class GrammarMatcher(Protocol):
    """Grammar state for one generation; :meth:`CompiledGrammar.matcher` makes a fresh one.

    Not thread-safe: one matcher belongs to one decode loop.
    """

    def fill_bitmask(self, bitmask: torch.Tensor) -> None:
        """Write the allowed next tokens into ``bitmask`` (int32, CPU, ``[ceil(V/32)]`` or longer).

        Bit ``i % 32`` of word ``i // 32`` is set iff token ``i`` is allowed (the
        llguidance/xgrammar layout). The EOS bit is set iff the text so far is a complete
        instance. Words past ``ceil(vocab_size/32)`` are zeroed, so a caller whose model has
        more logits than the tokenizer has tokens may pass a longer mask.
        """
        ...

    def advance(self, token_id: int) -> None:
        """Consume one token; raises ``GrammarError`` (state unchanged) if it is not allowed."""
        ...

    def forced_tokens(self) -> list[int]:
        """Tokens the grammar forces next (possibly none), without consuming them.

        The caller appends them without sampling and calls :meth:`advance` for each.
        """
        ...

    def is_accepting(self) -> bool:
        """Whether the text so far is a complete instance (EOS is allowed now)."""
        ...

    def is_terminated(self) -> bool:
        """Whether nothing but end-of-sequence can follow."""
        ...


@dataclass(frozen=True, slots=True)
class TokenizerFacts:
    """What every backend needs to know about a Hugging Face fast tokenizer."""

    vocab_size: int
    eos_token_id: int
    special_ids: frozenset[int]

    @classmethod
    def of(cls, tokenizer: Any) -> TokenizerFacts:
        if not getattr(tokenizer, "is_fast", False) or not hasattr(tokenizer, "backend_tokenizer"):
            raise UsageError(
                f"grammar backends need a Hugging Face fast tokenizer (PreTrainedTokenizerFast), "
                f"got {type(tokenizer).__name__}; load it with AutoTokenizer.from_pretrained(..., use_fast=True)"
            )
        eos = tokenizer.eos_token_id
        if isinstance(eos, list):
            eos = eos[0] if eos else None
        if not isinstance(eos, int):
            raise UsageError(
                "the tokenizer has no eos_token, so a grammar cannot say when an instance is complete; "
                "set tokenizer.eos_token (e.g. '<|im_end|>') before compiling"
            )
        special = {int(i) for i in tokenizer.all_special_ids}
        special.update(int(i) for i, tok in tokenizer.added_tokens_decoder.items() if tok.special)
        return cls(vocab_size=len(tokenizer), eos_token_id=eos, special_ids=frozenset(special))


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids for ``text`` with no BOS/EOS added and special-token names kept as text."""
    ids: list[int] = tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)
    return ids


def bitmask_words(vocab_size: int) -> int:
    return (vocab_size + 31) // 32


def checked_bitmask(bitmask: torch.Tensor, words: int) -> torch.Tensor:
    """The first ``words`` words of ``bitmask`` (the rest zeroed), after checking its layout."""
    import torch

    if bitmask.dtype != torch.int32 or bitmask.device.type != "cpu" or bitmask.dim() != 1:
        raise UsageError(
            f"bitmask must be a 1-D int32 CPU tensor, got {bitmask.dim()}-D {bitmask.dtype} on "
            f"{bitmask.device}; use reasoner.kernels.allocate_token_bitmask(vocab_size)"
        )
    if not bitmask.is_contiguous() or bitmask.numel() < words:
        raise UsageError(
            f"bitmask must be contiguous with at least {words} int32 words, got {bitmask.numel()}"
            f" (contiguous={bitmask.is_contiguous()}); use reasoner.kernels.allocate_token_bitmask(vocab_size)"
        )
    if bitmask.numel() > words:
        bitmask[words:].zero_()
    return bitmask[:words]


def not_allowed(token_id: int, backend: str, detail: str = "") -> GrammarError:
    extra = f": {detail}" if detail else ""
    return GrammarError(
        f"token {token_id} is not allowed by the {backend} grammar at this point{extra}; "
        "sample from the masked logits (fill_bitmask) or advance only forced_tokens()"
    )


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """bool ``[32 * W]`` -> int32 ``[W]``: bit ``i`` of word ``w`` is ``bits[32 * w + i]``."""
    import torch

    weights = torch.tensor([1 << i for i in range(32)], dtype=torch.int64)
    words = (bits.view(-1, 32).to(torch.int64) * weights).sum(dim=1)
    return torch.where(words >= 1 << 31, words - (1 << 32), words).to(torch.int32)


def set_bit(bitmask: torch.Tensor, token_id: int) -> None:
    """Set token ``token_id``'s bit in an int32 bitmask."""
    word, bit = divmod(token_id, 32)
    current = int(bitmask[word]) & 0xFFFFFFFF
    value = current | (1 << bit)
    bitmask[word] = value - (1 << 32) if value >= 1 << 31 else value
