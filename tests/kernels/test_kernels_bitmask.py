from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from reasoner.errors import UsageError
from reasoner.kernels import (
    allocate_token_bitmask,
    apply_token_bitmask,
    apply_token_bitmask_reference,
    sample,
    select_attention,
)


def _random_mask(allowed: torch.Tensor) -> torch.Tensor:
    """Pack a bool [..., N] (N a multiple of 32) the naive way, one bit at a time."""
    words = allowed.shape[-1] // 32
    packed = torch.zeros((*allowed.shape[:-1], words), dtype=torch.int64)
    for bit in range(32):
        packed |= allowed[..., bit::32].long() << bit
    # reinterpret as int32 two's complement, as the grammar backends store it
    packed = torch.where(packed >= 2**31, packed - 2**32, packed)
    return packed.to(torch.int32)


def _naive_apply(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    out = logits.clone()
    for idx in range(out.shape[-1]):
        ok = allowed[..., idx] if idx < allowed.shape[-1] else torch.zeros_like(allowed[..., 0])
        out[..., idx] = torch.where(ok, out[..., idx], torch.tensor(float("-inf")))
    return out


@pytest.mark.parametrize(("vocab", "covered"), [(64, 64), (100, 128), (160, 128), (37, 64)])
@pytest.mark.parametrize("batch", [None, 3])
def test_bitmask_matches_naive_reference_incl_vocab_padding(vocab: int, covered: int, batch: int | None) -> None:
    gen = torch.Generator().manual_seed(vocab * 7 + covered)
    shape = (covered,) if batch is None else (batch, covered)
    allowed = torch.rand(shape, generator=gen) < 0.3
    allowed[..., 31] = True  # exercise the sign bit of each word
    logits = torch.randn((vocab,) if batch is None else (batch, vocab), generator=gen)
    expected = _naive_apply(logits, allowed)
    got = apply_token_bitmask(logits.clone(), _random_mask(allowed))
    assert torch.equal(got, expected)
    # tokens past the mask's coverage are always disallowed
    if vocab > covered:
        assert torch.isinf(got[..., covered:]).all()


def test_bitmask_is_in_place_and_checks_dtype() -> None:
    logits = torch.zeros(64)
    mask = allocate_token_bitmask(64)
    mask[0] = 0b101
    out = apply_token_bitmask(logits, mask)
    assert out is logits
    assert torch.isfinite(logits).nonzero().flatten().tolist() == [0, 2]
    with pytest.raises(UsageError, match="int32"):
        apply_token_bitmask(torch.zeros(64), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(UsageError, match="batch sizes differ"):
        apply_token_bitmask(torch.zeros(2, 64), torch.zeros(3, 2, dtype=torch.int32))
    # a [W] mask is shared by every row
    rows = apply_token_bitmask(torch.zeros(3, 64), mask)
    assert [torch.isfinite(r).nonzero().flatten().tolist() for r in rows] == [[0, 2]] * 3


@pytest.mark.parametrize(("temperature", "top_p"), [(0.0, 1.0), (1.0, 1.0), (5.0, 0.9), (0.7, 0.5)])
def test_sampling_respects_the_mask(temperature: float, top_p: float) -> None:
    gen = torch.Generator().manual_seed(0)
    allowed = torch.zeros(4, 256, dtype=torch.bool)
    allowed[:, [3, 77, 200]] = True
    logits = torch.randn(4, 256, generator=gen)
    logits[:, 5] = 50.0  # the unconstrained favourite is disallowed
    apply_token_bitmask(logits, _random_mask(allowed))
    seen = set()
    for _ in range(50):
        seen.update(sample(logits, temperature, top_p, gen).tolist())
    assert seen <= {3, 77, 200}


def test_sampling_greedy_seeded_and_top_p() -> None:
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0]])
    assert sample(logits).tolist() == [1]
    draws = [sample(logits, 1.0, 1.0, torch.Generator().manual_seed(s)).item() for s in range(40)]
    again = [sample(logits, 1.0, 1.0, torch.Generator().manual_seed(s)).item() for s in range(40)]
    assert draws == again
    assert {1, 2} <= set(draws)  # two near-equal favourites both get drawn
    # top_p small enough keeps only the top token
    assert {sample(logits, 1.0, 0.3, torch.Generator().manual_seed(s)).item() for s in range(40)} == {1}
    with pytest.raises(UsageError, match="top_p"):
        sample(logits, 1.0, 0.0)
    with pytest.raises(UsageError, match="temperature"):
        sample(logits, -1.0)


def test_sampling_distribution_follows_temperature() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).expand(4000, 3).contiguous()
    counts = torch.bincount(sample(logits, 1.0, 1.0, gen), minlength=3).float() / 4000
    assert torch.allclose(counts, torch.tensor([0.7, 0.2, 0.1]), atol=0.03)


def test_select_attention_on_cpu_is_sdpa() -> None:
    choice = select_attention("cpu")
    assert choice.implementation == "sdpa"
    assert "cpu" in choice.reason


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize(
    ("vocab", "covered", "batch"), [(128256, 128256, 1), (151936, 151680, 4), (49152, 49152, 2), (1000, 992, 1)]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_bitmask_matches_reference(vocab: int, covered: int, batch: int, dtype: torch.dtype) -> None:
    from reasoner.kernels._triton_bitmask import apply_token_bitmask_triton, triton_available

    if not triton_available():
        pytest.skip("triton is not installed")
    gen = torch.Generator().manual_seed(vocab)
    words = -(-covered // 32)
    mask = torch.randint(-(2**31), 2**31 - 1, (batch, words), generator=gen, dtype=torch.int64).to(torch.int32)
    logits = torch.randn(batch, vocab, generator=gen).to(dtype)
    expected = apply_token_bitmask_reference(logits.clone().cuda(), mask.cuda())
    got = apply_token_bitmask_triton(logits.clone().cuda(), mask.cuda())
    assert torch.equal(got, expected)
    # the dispatcher takes the CPU mask and uses the kernel
    assert torch.equal(apply_token_bitmask(logits.clone().cuda(), mask), expected)
    # a [W] mask is shared by every row
    shared = apply_token_bitmask_reference(logits.clone().cuda(), mask[0].cuda())
    assert torch.equal(apply_token_bitmask_triton(logits.clone().cuda(), mask[0].cuda()), shared)


@pytest.fixture
def triton_interpreter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the Triton kernel on CPU tensors through Triton's interpreter."""
    pytest.importorskip("triton")
    from reasoner.kernels._triton_bitmask import _kernel

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    _kernel.cache_clear()
    yield
    _kernel.cache_clear()


@pytest.mark.usefixtures("triton_interpreter")
@pytest.mark.parametrize(
    ("vocab", "covered", "batch", "shared"), [(1000, 992, 1, False), (3100, 3072, 3, False), (2000, 2560, 2, True)]
)
def test_triton_kernel_matches_reference_in_the_interpreter(vocab: int, covered: int, batch: int, shared: bool) -> None:
    from reasoner.kernels._triton_bitmask import apply_token_bitmask_triton

    gen = torch.Generator().manual_seed(vocab + batch)
    mask = torch.randint(-(2**31), 2**31 - 1, (batch, covered // 32), generator=gen, dtype=torch.int64).to(torch.int32)
    if shared:
        mask = mask[0]
    logits = torch.randn(batch, vocab, generator=gen)
    expected = apply_token_bitmask_reference(logits.clone(), mask)
    assert torch.equal(apply_token_bitmask_triton(logits.clone(), mask), expected)


@pytest.mark.gpu
@cuda
def test_a_pinned_bitmask_applies_like_a_pageable_one() -> None:
    mask = allocate_token_bitmask(100, pin_memory=True)
    assert mask.is_pinned() and mask.device.type == "cpu" and mask.shape == (4,)
    mask[0] = 0b1011
    logits = torch.randn(1, 128, device="cuda")
    expected = apply_token_bitmask_reference(logits.clone(), mask.clone())
    assert torch.equal(apply_token_bitmask(logits, mask), expected)
