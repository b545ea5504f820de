"""The MINER predictor."""

from __future__ import annotations

import pytest
import torch

from lego_core.model.inputs import FieldInputs
from lego_core.testing import check_predictor, make_context
from lego_text.miner import MINERConfig, MINERPredictor


@pytest.mark.parametrize("aggregate", ["attention", "max", "mean"])
def test_text_miner_contract(aggregate):
    check_predictor(MINERPredictor, MINERConfig(aggregate=aggregate))


def test_text_miner_ignores_masked_interests():
    torch.manual_seed(0)
    predictor = MINERPredictor(context=make_context()).eval()
    interests, candidates = torch.randn(2, 3, 16), torch.randn(2, 4, 16)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    noisy = torch.where(mask[..., None], interests, torch.randn_like(interests) * 1e3)
    scores = predictor(interests, candidates, FieldInputs(), mask)
    assert torch.allclose(scores, predictor(noisy, candidates, FieldInputs(), mask), atol=1e-5)
    assert (scores[1] == 0).all()


def test_text_miner_single_interest_is_dot():
    predictor = MINERPredictor(context=make_context())
    user, candidates = torch.randn(2, 1, 16), torch.randn(2, 3, 16)
    expected = (candidates * user).sum(-1)
    assert torch.allclose(predictor(user, candidates, FieldInputs()), expected, atol=1e-5)
