"""lego_core.model.table_ops and unique_ids: torch's values and gradients from cheaper CPU kernels."""

import doctest

import pytest
import torch
import torch.nn.functional as F

from lego_core.model import table_ops, unique_ids
from lego_core.model.table_ops import bag_reduce, lookup, padded_bag
from lego_core.model.unique_ids import unique_ids as distinct_ids


def _grads(fn, weight, grad):
    weight = weight.detach().clone().requires_grad_(True)
    out = fn(weight)
    out.backward(grad)
    return out.detach(), weight.grad


@pytest.mark.parametrize("num_rows", [3, 40_000])  # 16-bit and 32-bit sort keys
@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_bag_reduce_equals_embedding_bag_with_empty_bags_and_repeats(mode, num_rows):
    torch.manual_seed(0)
    counts = torch.tensor([3, 0, 1, 5, 0, 2])  # empty bags give zeros and no gradient
    index = torch.randint(0, min(num_rows, 3), (int(counts.sum()),))  # rows read several times
    index[-1] = num_rows - 1
    offsets = counts.cumsum(0) - counts
    weight, grad = torch.randn(num_rows, 4), torch.randn(6, 4)
    want = _grads(lambda w: F.embedding_bag(index, w, offsets, mode=mode), weight, grad)
    got = _grads(lambda w: bag_reduce(w, index, offsets, mode), weight, grad)
    assert torch.equal(got[0], want[0])
    assert torch.allclose(got[1], want[1], atol=1e-6)
    assert torch.equal(got[0][1], torch.zeros(4)) and torch.equal(got[0][4], torch.zeros(4))


@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_padded_bag_equals_embedding_bag_with_padding_idx_and_never_touches_row_0(mode):
    torch.manual_seed(1)
    ids = torch.randint(0, 7, (5, 3, 4))  # (B, K, L), zeros anywhere in a row, some rows all zeros
    ids[0, 0] = 0
    weight, grad = torch.randn(7, 2), torch.randn(5, 3, 2)

    def reference(w):
        return F.embedding_bag(ids.reshape(-1, 4), w, mode=mode, padding_idx=0).view(5, 3, 2)

    want = _grads(reference, weight, grad)
    got = _grads(lambda w: padded_bag(w, ids, mode), weight, grad)
    assert torch.allclose(got[0], want[0]) and torch.allclose(got[1], want[1], atol=1e-6)
    assert torch.equal(got[1][0], torch.zeros(2))


def test_lookup_equals_embedding_also_for_a_strided_gradient():
    torch.manual_seed(2)
    ids = torch.randint(0, 9, (6, 2))
    weight = torch.randn(9, 3)
    stacked_grad = torch.randn(6, 2, 5, 3)[:, :, 1]  # a slice of a stacked output's gradient: strided rows
    want = _grads(lambda w: F.embedding(ids, w), weight, stacked_grad)
    got = _grads(lambda w: lookup(w, ids), weight, stacked_grad)
    assert torch.equal(got[0], want[0]) and torch.allclose(got[1], want[1], atol=1e-6)


def test_without_a_gradient_the_plain_torch_calls_run():
    weight = torch.randn(4, 2, requires_grad=True)
    with torch.no_grad():
        out = bag_reduce(weight, torch.tensor([1, 2]), torch.tensor([0]))
    assert out.grad_fn is None and torch.allclose(out, weight[1:3].mean(0, keepdim=True))
    assert lookup(weight.detach(), torch.tensor([3])).grad_fn is None


def test_a_wrong_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="mode must be 'mean' or 'sum', not 'max'"):
        bag_reduce(torch.randn(3, 2), torch.tensor([0]), torch.tensor([0]), "max")
    with pytest.raises(ValueError, match="mode must be 'mean' or 'sum'"):
        padded_bag(torch.randn(3, 2), torch.tensor([[1, 0]]), "max")


@pytest.mark.parametrize("domain", [10, 10_000])  # the flag table, then the sort
def test_unique_ids_equal_torch_unique(domain):
    torch.manual_seed(3)
    ids = torch.randint(0, domain, (500,))
    got, want = distinct_ids(ids, domain), torch.unique(ids, return_inverse=True)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert distinct_ids(torch.zeros(0, dtype=torch.long), 5)[0].numel() == 0


def test_docstring_examples():
    for module in (table_ops, unique_ids):
        assert doctest.testmod(module).failed == 0
