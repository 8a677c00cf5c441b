from __future__ import annotations

import pytest
import torch

from reasoner.errors import UsageError
from reasoner.kernels import HostStager


def test_host_buffers_alternate_and_the_device_buffer_stays_put() -> None:
    stager = HostStager((4,), torch.int32, "cpu")
    first = stager.host()
    first.copy_(torch.tensor([1, 2, 3, 4], dtype=torch.int32))
    out = stager.upload()
    second = stager.host()
    assert second.data_ptr() != first.data_ptr()  # the CPU writes the other buffer while the first copies
    second.fill_(7)
    assert out.tolist() == [1, 2, 3, 4]  # an upload reads only the buffer it was given
    again = stager.upload()
    assert again.data_ptr() == out.data_ptr() and again.tolist() == [7, 7, 7, 7]
    assert stager.host().data_ptr() == first.data_ptr()
    assert not stager.pinned and stager.waits == 0


def test_calling_host_twice_gives_the_same_buffer() -> None:
    stager = HostStager((2, 3), torch.long, "cpu")
    assert stager.host().data_ptr() == stager.host().data_ptr()
    assert stager.device_buffer.shape == (2, 3) and stager.device_buffer.dtype == torch.long


@pytest.mark.parametrize("shape", [(), (0,), (3, -1)])
def test_bad_shapes_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(UsageError, match="shape"):
        HostStager(shape, torch.int32, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pinned_uploads_arrive_in_stream_order() -> None:
    stager = HostStager((1024,), torch.int32, "cuda")
    assert stager.pinned and stager.host().is_pinned()
    total = torch.zeros(1024, dtype=torch.int64, device="cuda")
    for i in range(50):
        stager.host().fill_(i)
        total += stager.upload()
    torch.cuda.synchronize()
    assert int(total[0]) == sum(range(50)) and int(total[-1]) == sum(range(50))
