"""MINER's disagreement regulariser against the paper's formula, and its way into the training loss."""

from __future__ import annotations

import math

import pytest
import torch

from lego_core.experiment import Experiment
from lego_core.testing import make_context, tiny_depot
from lego_text.polyattention import PolyAttentionConfig, PolyAttentionOperator, disagreement


def _by_hand(interests: list[list[list[float]]]) -> float:
    """L_D = 1/K^2 sum_i sum_j cos(u_i, u_j) per user, averaged over users (Li et al., ACL 2022)."""
    total = 0.0
    for user in interests:
        k = len(user)
        cosines = 0.0
        for ui in user:
            for uj in user:
                dot = sum(a * b for a, b in zip(ui, uj))
                norm = math.sqrt(sum(a * a for a in ui)) * math.sqrt(sum(b * b for b in uj))
                cosines += dot / norm
        total += cosines / k**2
    return total / len(interests)


def test_disagreement_is_the_mean_pairwise_cosine_of_the_interests():
    interests = [[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], [[3.0, 4.0], [-3.0, -4.0], [4.0, -3.0]]]
    got = disagreement(torch.tensor(interests), torch.tensor([True, True]))
    assert got.item() == pytest.approx(_by_hand(interests), abs=1e-6)
    # identical interests are as similar as can be (1); opposite pairs cancel
    assert disagreement(torch.ones(1, 4, 3), torch.tensor([True])).item() == pytest.approx(1.0)


def test_users_without_history_do_not_count():
    interests = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    assert disagreement(interests, torch.tensor([True, False])).item() == pytest.approx(1.0)
    assert disagreement(interests, torch.tensor([False, False])).item() == 0.0


def test_the_operator_hands_beta_times_the_term_to_the_trainer_once_and_only_in_training():
    op = PolyAttentionOperator(
        options=PolyAttentionConfig(num_interests=3, attention_dim=8, disagreement_weight=0.5), context=make_context()
    )
    history, mask = torch.randn(2, 6, 16), torch.ones(2, 6, dtype=torch.bool)
    op.train()
    interests, _ = op(history, mask, None)
    term = op.auxiliary_loss()
    assert term is not None and term.item() == pytest.approx(0.5 * disagreement(interests, mask.any(1)).item())
    assert op.auxiliary_loss() is None  # consumed
    op.eval()
    op(history, mask, None)
    assert op.auxiliary_loss() is None  # never during evaluation
    off = PolyAttentionOperator(options=PolyAttentionConfig(num_interests=3, attention_dim=8), context=make_context())
    off.train()
    off(history, mask, None)
    assert off.auxiliary_loss() is None


def test_the_miner_preset_trains_with_the_regulariser_in_its_loss(tmp_path):
    tiny_depot(tmp_path / "depot")
    data = {
        "data": {"path": str(tmp_path / "depot"), "item_attributes": ["title"], "max_history": 8},
        "model": {
            "preset": "miner",
            "hidden_size": 16,
            "neg_count": 2,
            "content_options": {"embedding_dim": 16, "num_heads": 2, "attention_dim": 8},
            "behavior_options": {"num_interests": 4, "attention_dim": 8},
        },
        "train": {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 2, "metrics": ["auc"], "monitor": "auc"},
    }
    exp = Experiment.from_dict(data)
    assert exp.resolved.bricks["behavior"].options.disagreement_weight == 0.8
    model = exp.build()
    model.train()
    rows, candidates = torch.arange(4), torch.randint(0, model.items.num_items, (4, 3))
    model(rows, candidates)
    extra = model.auxiliary_loss()
    assert extra is not None and 0.0 < extra.item() <= 0.8
    results = exp.run(output=tmp_path / "runs")
    assert 0.0 <= results["test"]["auc"] <= 1.0
