"""lego_core.model.dropout: nn.Dropout's behaviour from a cheaper mask on the CPU."""

import doctest
import math

import pytest
import torch

from lego_core.model import dropout as dropout_module
from lego_core.model.dropout import Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_each_element_is_dropped_with_probability_p_and_the_rest_scaled(p):
    torch.manual_seed(0)
    n = 200_000
    y = dropout(torch.ones(n), p)
    dropped = float((y == 0).float().mean())
    assert abs(dropped - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / (1 - p)))


def test_the_gradient_flows_through_the_kept_elements_only_with_the_same_scale():
    torch.manual_seed(1)
    x = torch.randn(64, 33, requires_grad=True)  # an odd size: the mask is cut from whole 64-bit words
    y = dropout(x, 0.3)
    (y * 2).sum().backward()
    kept = y != 0
    assert torch.allclose(x.grad, kept * (2 / 0.7))
    assert torch.allclose(y[kept], x.detach()[kept] / 0.7)


def test_eval_mode_and_p_zero_are_the_identity_and_p_one_drops_everything():
    x = torch.randn(5, 7)
    layer = Dropout(0.4).eval()
    assert layer(x) is x and dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))


def test_a_seeded_mask_repeats_and_bf16_works():
    x = torch.ones(1000)
    torch.manual_seed(7)
    first = dropout(x, 0.5)
    torch.manual_seed(7)
    assert torch.equal(dropout(x, 0.5), first)
    assert dropout(x.bfloat16(), 0.5).dtype == torch.bfloat16


def test_a_probability_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(1.5)
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"


def test_docstring_examples_run():
    result = doctest.testmod(dropout_module)
    assert result.attempted > 0 and result.failed == 0
