"""Contract checks and specifics of lego-text's behavior operators."""

from __future__ import annotations

import pytest
import torch

from lego_core.testing import check_behavior_operator, make_context, random_users
from lego_text.additive import AdditiveConfig, AdditiveOperator
from lego_text.gru import GRUConfig, GRUOperator
from lego_text.history_attention import HistoryAttentionConfig, HistoryAttentionOperator
from lego_text.history_fastformer import HistoryFastformerConfig, HistoryFastformerOperator
from lego_text.history_transformer import HistoryTransformerConfig, HistoryTransformerOperator
from lego_text.polyattention import PolyAttentionConfig, PolyAttentionOperator
from lego_text.sequence import SequenceConfig, SequenceOperator

CASES = [
    (AdditiveOperator, AdditiveConfig(attention_dim=8)),
    (HistoryAttentionOperator, HistoryAttentionConfig(attention_dim=8)),
    (HistoryAttentionOperator, HistoryAttentionConfig(attention_dim=8, num_heads=2, dropout=0.0)),
    (GRUOperator, GRUConfig(mode="ini")),
    (GRUOperator, GRUConfig(mode="con", user_dropout=0.0)),
    (HistoryTransformerOperator, HistoryTransformerConfig(num_heads=4)),
    (
        HistoryTransformerOperator,
        HistoryTransformerConfig(num_heads=2, num_layers=2, pooling="attention", attention_dim=8),
    ),
    (PolyAttentionOperator, PolyAttentionConfig(num_interests=3, attention_dim=8)),
    (PolyAttentionOperator, PolyAttentionConfig(num_interests=1, attention_dim=4)),
    (HistoryFastformerOperator, HistoryFastformerConfig(num_heads=4, attention_dim=8)),
    (
        HistoryFastformerOperator,
        HistoryFastformerConfig(num_heads=2, num_layers=2, feedforward_size=8, attention_dim=8),
    ),
    (SequenceOperator, SequenceConfig()),
    (SequenceOperator, SequenceConfig(position_embedding=True)),
]
IDS = [f"{cls.name}-{i}" for i, (cls, _) in enumerate(CASES)]


@pytest.mark.parametrize(("cls", "options"), CASES, ids=IDS)
def test_text_behavior_contract(cls, options):
    check_behavior_operator(cls, options)


def _gru(mode: str) -> GRUOperator:
    torch.manual_seed(0)
    return GRUOperator(options=GRUConfig(mode=mode), context=make_context()).eval()


@pytest.mark.parametrize("mode", ["ini", "con"])
def test_text_gru_ignores_padding_on_either_side(mode):
    op = _gru(mode)
    users = random_users(make_context(), 1)
    a, b = torch.randn(2, 16)
    pad = torch.randn(2, 16) * 100
    with torch.no_grad():
        short = op(torch.stack([a, b])[None], torch.tensor([[True, True]]), users)  # [a, b], H = 2
        left = op(torch.stack([pad[0], pad[1], a, b])[None], torch.tensor([[False, False, True, True]]), users)
        right = op(torch.stack([a, b, pad[0], pad[1]])[None], torch.tensor([[True, True, False, False]]), users)
        reversed_out = op(torch.stack([b, a])[None], torch.tensor([[True, True]]), users)
    assert torch.allclose(left, short, atol=1e-6)  # [pad, pad, a, b] == [a, b]
    assert torch.allclose(right, short, atol=1e-6)
    assert not torch.allclose(short, reversed_out, atol=1e-4)  # order matters: a GRU, not a bag


def test_text_gru_ini_and_con_shapes():
    context = make_context()
    history, users = torch.randn(4, 6, 16), random_users(context, 4)
    mask = torch.tensor([[True] * 6, [False] * 3 + [True] * 3, [False] * 5 + [True], [False] * 6])
    ini, con = _gru("ini"), _gru("con")
    assert ini.projection is None and con.projection.in_features == 32
    with torch.no_grad():
        assert ini(history, mask, users).shape == con(history, mask, users).shape == (4, 16)
        # an empty history in "ini" mode gives the long-term embedding itself
        assert torch.allclose(ini(history, mask, users)[3], ini.long_term(users.person)[3])


def test_text_gru_user_dropout_masks_long_term_in_training_only():
    op = GRUOperator(options=GRUConfig(mode="ini", user_dropout=0.9), context=make_context())
    users = random_users(make_context(), 4)
    users = type(users)(index=users.index, person=torch.tensor([1, 2, 3, 4]))
    empty = torch.zeros(4, 6, dtype=torch.bool)
    torch.manual_seed(3)
    with torch.no_grad():
        trained = op.train()(torch.randn(4, 6, 16), empty, users)
        evaluated = op.eval()(torch.randn(4, 6, 16), empty, users)
    assert (trained.abs().sum(dim=1) == 0).any()
    assert (evaluated.abs().sum(dim=1) > 0).all()


def test_text_gru_needs_person():
    op = _gru("ini")
    users = type(random_users(make_context(), 1))(index=torch.tensor([0]))
    with pytest.raises(ValueError, match="user.person"):
        op(torch.randn(1, 2, 16), torch.ones(1, 2, dtype=torch.bool), users)


def test_text_polyattention_masked_positions_get_zero_weight():
    op = PolyAttentionOperator(options=PolyAttentionConfig(num_interests=4), context=make_context())
    history = torch.randn(2, 5, 16) * 1e4
    mask = torch.tensor([[False, False, True, True, True], [False] * 5])
    weights = op.weights(history, mask)  # (B, K, H)
    assert torch.isfinite(weights).all()
    assert (weights[0, :, :2] == 0).all()
    assert torch.allclose(weights[0].sum(dim=-1), torch.ones(4))
    assert (weights[1] == 0).all()
    interests, interest_mask = op(history, mask, None)
    assert interest_mask.all() and (interests[1] == 0).all()


@pytest.mark.parametrize("cls", [HistoryTransformerOperator, HistoryFastformerOperator, SequenceOperator])
def test_text_history_positions_count_from_most_recent(cls):
    torch.manual_seed(0)
    options = {
        HistoryTransformerOperator: HistoryTransformerConfig(num_heads=4, dropout=0.0),
        HistoryFastformerOperator: HistoryFastformerConfig(num_heads=4, dropout=0.0),
        SequenceOperator: SequenceConfig(position_embedding=True),
    }[cls]
    op = cls(options=options, context=make_context()).eval()
    items, pad = torch.randn(1, 3, 16), torch.randn(1, 3, 16)

    def run(history, mask):
        out = op(history, mask, None)
        return out[0][mask].view(1, 3, 16) if cls.output == "sequence" else out

    with torch.no_grad():
        short = run(items, torch.ones(1, 3, dtype=torch.bool))
        left = run(torch.cat([pad, items], dim=1), torch.tensor([[False] * 3 + [True] * 3]))
        right = run(torch.cat([items, pad], dim=1), torch.tensor([[True] * 3 + [False] * 3]))
    assert torch.allclose(short, left, atol=1e-5)
    assert torch.allclose(short, right, atol=1e-5)
