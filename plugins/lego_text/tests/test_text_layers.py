"""The shared layers: masking, additive attention, self-attention, Fastformer."""

from __future__ import annotations

import torch

from lego_text.additive_attention import AdditiveAttention
from lego_text.fastformer_layer import FastformerAttention
from lego_text.masking import masked_max, masked_mean, masked_softmax
from lego_text.multihead_attention import MultiHeadSelfAttention

MASK = torch.tensor([[True, True, False, False], [False, False, False, True], [False] * 4])


def test_text_masked_softmax_zero_weight_on_padding():
    logits = torch.tensor([[1.0, 2.0, 50.0, 80.0], [3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 3.0, 4.0]])
    weights = masked_softmax(logits, MASK)
    assert (weights[~MASK] == 0).all()  # exactly zero, not a tiny weight
    assert torch.allclose(weights[:2].sum(dim=-1), torch.ones(2))
    assert (weights[2] == 0).all()  # an empty row: no weight anywhere, no NaN


def test_text_masked_softmax_gradient_is_finite_for_empty_rows():
    logits = torch.randn(3, 4, requires_grad=True)
    masked_softmax(logits, MASK).pow(2).sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_text_additive_attention_stable_for_huge_inputs():
    torch.manual_seed(0)
    attention = AdditiveAttention(8, 6)
    x = torch.randn(3, 4, 8, requires_grad=True)
    huge = x * 1e4
    out = attention(huge, MASK)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert (attention.weights(huge, MASK)[~MASK] == 0).all()
    assert (out[2] == 0).all()


def test_text_additive_attention_huge_query_logits():
    attention = AdditiveAttention(8, 6)
    with torch.no_grad():
        attention.query.weight.mul_(1e6)  # logits ~1e6: exp would overflow without the max subtraction
    weights = attention.weights(torch.randn(3, 4, 8), MASK)
    assert torch.isfinite(weights).all()
    assert torch.allclose(weights[:2].sum(dim=-1), torch.ones(2))


def test_text_masked_pooling():
    x = torch.arange(24, dtype=torch.float32).view(3, 4, 2)
    assert torch.equal(masked_mean(x, MASK)[2], torch.zeros(2))
    assert torch.equal(masked_max(x, MASK)[0], x[0, 1])
    assert torch.equal(masked_max(x, MASK)[2], torch.zeros(2))


def test_text_self_attention_ignores_padded_keys():
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(8, 8, num_heads=2).eval()
    x = torch.randn(3, 4, 8)
    noisy = torch.where(MASK[..., None], x, torch.randn_like(x) * 1e3)
    out, out_noisy = layer(x, MASK), layer(noisy, MASK)
    assert torch.isfinite(out_noisy).all()
    assert torch.allclose(out[MASK], out_noisy[MASK], atol=1e-5)


def test_text_fastformer_ignores_padding():
    torch.manual_seed(0)
    layer = FastformerAttention(8, num_heads=2)
    x = torch.randn(3, 4, 8)
    noisy = torch.where(MASK[..., None], x, torch.randn_like(x) * 1e3)
    out, out_noisy = layer(x, MASK), layer(noisy, MASK)
    assert torch.isfinite(out_noisy).all()
    assert torch.allclose(out[MASK], out_noisy[MASK], atol=1e-5)
