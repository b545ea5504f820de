"""DIN: masked target attention over the history."""

from __future__ import annotations

import pytest
import torch

from lego_core.testing import make_context, random_fields
from lego_ctr.din import DINConfig, DINPredictor

torch.manual_seed(0)
B, S, K, D = 3, 5, 2, 16
MASK = torch.tensor([[True] * 5, [False, False, True, True, True], [False] * 5])  # full, 3 items, empty


@pytest.fixture
def model():
    context = make_context()
    return DINPredictor(options=DINConfig(attention_units=[8], hidden_units=[8]), context=context), context


def test_padding_gets_exactly_zero_weight_and_the_pooling_is_the_weighted_sum(model, by_hand):
    din, _ = model
    din.eval()
    with torch.no_grad():  # Dice's running statistics and alpha off their initial values
        for module in din.activation_unit.modules():
            if hasattr(module, "running_mean"):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.alpha.normal_()
    history, candidates = torch.randn(B, S, D), torch.randn(B, K, D)
    with torch.no_grad():
        pooled, weights = din.attend(history, MASK, candidates)
    assert torch.equal(weights[~MASK.unsqueeze(1).expand(B, K, S)], torch.zeros(int((~MASK).sum()) * K))
    assert torch.equal(pooled[2], torch.zeros(K, D))  # empty history: zero interest
    for b in range(B):
        for k in range(K):
            expected = torch.zeros(D)
            for j in range(S):
                if MASK[b, j]:
                    h, c = history[b, j], candidates[b, k]
                    with torch.no_grad():  # a(h_j, c) = MLP([h; c; h - c; h * c]) with Dice, unnormalised
                        a = by_hand.mlp(din.activation_unit, torch.cat([h, c, h - c, h * c]).unsqueeze(0))[0, 0]
                    assert torch.allclose(weights[b, k, j], a, atol=1e-6)
                    expected += a * h
            assert torch.allclose(pooled[b, k], expected, atol=1e-5)


@pytest.mark.parametrize("train", [True, False])
def test_padded_history_never_changes_the_scores(model, train):
    din, context = model
    din.train(train)
    history, candidates = torch.randn(B, S, D), torch.randn(B, K, D)
    fields = random_fields(context, B, K)
    noisy = torch.where(MASK.unsqueeze(-1), history, torch.full_like(history, float("nan")))
    with torch.no_grad():
        clean_scores = din(history, candidates, fields, MASK)
        noisy_scores = din(noisy, candidates, fields, MASK)
    assert torch.isfinite(noisy_scores).all()
    assert torch.allclose(clean_scores, noisy_scores, atol=1e-6)


def test_attention_output_variants(model):
    _, context = model
    history, candidates = torch.randn(B, S, D), torch.randn(B, K, D)
    for output in ("sigmoid", "softmax"):
        din = DINPredictor(options=DINConfig(attention_units=[8], attention_output=output), context=context).eval()
        with torch.no_grad():
            _, weights = din.attend(history, MASK, candidates)
        assert (weights[~MASK.unsqueeze(1).expand(B, K, S)] == 0).all()
        if output == "sigmoid":
            assert ((weights[0] > 0) & (weights[0] < 1)).all()
        else:
            assert torch.allclose(weights[:2].sum(-1), torch.ones(2, K))
            assert torch.equal(weights[2], torch.zeros(K, S))


def test_scores_use_the_interest_as_the_user_field(model, by_hand):
    din, context = model
    din.eval()
    history, candidates = torch.randn(B, S, D), torch.randn(B, K, D)
    fields = random_fields(context, B, K)
    with torch.no_grad():
        pooled = torch.zeros(B, K, D)  # v_U(c) = sum_j a(h_j, c) h_j over the real items
        for b in range(B):
            for k in range(K):
                for j in range(S):
                    if MASK[b, j]:
                        h, c = history[b, j], candidates[b, k]
                        a = by_hand.mlp(din.activation_unit, torch.cat([h, c, h - c, h * c]).unsqueeze(0))[0, 0]
                        pooled[b, k] += a * h
        x = by_hand.embed(din.embedding, pooled, candidates, fields)  # the interest is the user field
        expected = by_hand.mlp(din.deep, x.reshape(B * K, -1)).view(B, K)
        assert torch.allclose(din(history, candidates, fields, MASK), expected, atol=1e-5)
        assert torch.allclose(
            din(history, candidates, fields), din(history, candidates, fields, torch.ones(B, S, dtype=torch.bool))
        )


def test_a_user_vector_is_refused(model):
    din, context = model
    with pytest.raises(ValueError, match="sequence"):
        din(torch.randn(B, D), torch.randn(B, K, D), random_fields(context, B, K))
