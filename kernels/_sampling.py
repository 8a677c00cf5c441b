"""Token sampling: greedy, or temperature + top-p with a seeded generator.

Pure functions over logits ``[B, V]`` (or ``[V]``) that never sync with the host, so the
same code serves the CPU loop and a captured GPU step.
"""

from __future__ import annotations

import torch

from reasoner.errors import UsageError

__all__ = ["sample"]


def _top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    # probs: [B, V] -> [B, V], zero outside the smallest set whose mass reaches top_p
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)  # the top token always stays
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs)


def sample(
    logits: torch.Tensor,
    temperature: float = 0.0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick one token per row of ``logits``.

    ``logits``: [B, V] or [V] float (``-inf`` marks disallowed tokens). Returns int64 [B]
    (or a 0-d tensor for 1-D input) on the logits' device. ``temperature == 0`` is greedy
    argmax; otherwise tokens are drawn from ``softmax(logits / temperature)`` restricted to
    the top-p nucleus, using ``generator`` (which must live on the logits' device) so a
    seeded generator reproduces the same draw. Disallowed tokens are never drawn.

    Raises:
        UsageError: temperature < 0 or top_p outside (0, 1].
    """
    if temperature < 0:
        raise UsageError(f"sample: temperature must be >= 0, got {temperature}; use 0 for greedy decoding")
    if not 0.0 < top_p <= 1.0:
        raise UsageError(f"sample: top_p must be in (0, 1], got {top_p}")
    if temperature == 0.0:
        return torch.argmax(logits, dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        probs = _top_p_filter(probs, top_p)
    # Exponential race (Gumbel-max in disguise): argmax(p / E), E ~ Exp(1), draws from p
    # without torch.multinomial's host sync; zero-probability tokens can never win.
    noise = torch.empty_like(probs).exponential_(1.0, generator=generator)
    noise.clamp_min_(torch.finfo(noise.dtype).tiny)  # a zero draw would make 0/0 = nan win
    return torch.argmax(probs / noise, dim=-1)
