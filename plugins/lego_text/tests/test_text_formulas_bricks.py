"""Every lego-text brick against its paper's equations, computed one item or user at a time.

Each test builds a brick on the core's tiny context (two text attributes sharing the "words"
vocabulary, two categorical ones), runs it in eval mode on a small padded batch, and recomputes
the output from the brick's parameters with the references in tests/conftest.py: NAML's views
and view attention, NRMS's self-attention and additive attention, LSTUR's CNN and ini/con GRU,
Fastformer's global query and key, BST's Transformer, MINER's K interest vectors and its
target-aware predictor, DIN's unchanged sequence.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lego_core.model.inputs import FieldInputs
from lego_core.testing import make_context, random_items, random_users
from lego_text.additive import AdditiveOperator
from lego_text.attention import AttentionConfig, AttentionOperator
from lego_text.cnn import CNNConfig, CNNOperator
from lego_text.cnn_concat import CNNConcatConfig, CNNConcatOperator
from lego_text.embeddings import module_key
from lego_text.fastformer import FastformerConfig, FastformerOperator
from lego_text.gru import GRUConfig, GRUOperator
from lego_text.history_attention import HistoryAttentionConfig, HistoryAttentionOperator
from lego_text.history_fastformer import HistoryFastformerConfig, HistoryFastformerOperator
from lego_text.history_transformer import HistoryTransformerConfig, HistoryTransformerOperator
from lego_text.miner import MINERConfig, MINERPredictor
from lego_text.polyattention import PolyAttentionConfig, PolyAttentionOperator
from lego_text.pooling import PoolingConfig, PoolingOperator
from lego_text.sequence import SequenceConfig, SequenceOperator
from lego_text.transformer import TransformerConfig, TransformerOperator

torch.manual_seed(0)
ATOL = 1e-5
D = 8
CONTEXT = make_context(hidden_size=D, max_history=5)
ITEMS = random_items(CONTEXT, n=4)
SMALL = dict(embedding_dim=6, category_dim=4, attention_dim=5, dropout=0.0)
HISTORY = torch.randn(4, 5, D)
HISTORY_MASK = torch.tensor(
    [[True, True, True, False, False], [False, True, True, True, True], [True] * 5, [False] * 5]
)  # right padding, left padding, full, empty


def words(op, name: str, n: int) -> torch.Tensor:
    """Item ``n``'s word vectors of attribute ``name`` (zero at padding), read from the word table."""
    table = op.embeddings.word_tables[module_key(op.embeddings.vocabulary_of[name])].weight
    mask = ITEMS.masks[name][n]
    return torch.stack(
        [table[t] if m else torch.zeros(table.shape[1]) for t, m in zip(ITEMS.tokens[name][n], mask, strict=True)]
    )


def category(op, name: str, n: int) -> torch.Tensor:
    return op.embeddings.category_tables[module_key(name)].weight[ITEMS.categories[name][n]]


def views_fused(op, text_views: list[torch.Tensor], n: int, by_hand) -> torch.Tensor:
    """NAML: a category view is ReLU(W e + b); additive attention fuses the views (text first)."""
    views = list(text_views)
    for name in op.category_names:
        dense = op.category_dense[module_key(name)]
        views.append(torch.relu(dense.weight @ category(op, name, n) + dense.bias))
    stacked = torch.stack(views)
    return by_hand.additive_module(stacked, torch.ones(len(views), dtype=torch.bool), op.view_attention)[0]


def real(mask_row: torch.Tensor) -> list[int]:
    return [i for i in range(len(mask_row)) if mask_row[i]]


# ------------------------------------------------------------------ content operators
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_is_pooled_words_and_categories_projected(pooling):
    op = PoolingOperator(
        options=PoolingConfig(pooling=pooling, embedding_dim=6, category_dim=4, dropout=0.0), context=CONTEXT
    ).eval()
    out = op(ITEMS)
    for n in range(len(ITEMS)):
        parts = []
        for name in op.text_names:
            rows = words(op, name, n)[real(ITEMS.masks[name][n])]
            parts.append(rows.mean(dim=0) if pooling == "mean" else rows.max(dim=0).values)
        parts += [category(op, name, n) for name in op.category_names]
        x = torch.cat(parts)
        assert torch.allclose(out[n], op.projection.weight @ x + op.projection.bias, atol=ATOL)


def test_naml_cnn_views_and_view_attention(by_hand):
    op = CNNOperator(options=CNNConfig(**SMALL), context=CONTEXT).eval()
    out = op(ITEMS)
    for n in range(len(ITEMS)):
        text = [
            by_hand.text_cnn(words(op, name, n), ITEMS.masks[name][n], op.text_encoders[module_key(name)])
            for name in op.text_names
        ]
        assert torch.allclose(out[n], views_fused(op, text, n, by_hand), atol=ATOL)


@pytest.mark.parametrize("filters", [None, 7])
def test_lstur_news_encoder_concatenates_cnn_and_categories(by_hand, filters):
    op = CNNConcatOperator(options=CNNConcatConfig(num_filters=filters, **SMALL), context=CONTEXT).eval()
    out = op(ITEMS)
    for n in range(len(ITEMS)):
        parts = [
            by_hand.text_cnn(words(op, name, n), ITEMS.masks[name][n], op.text_encoders[module_key(name)])
            for name in op.text_names
        ]
        parts += [category(op, name, n) for name in op.category_names]
        assert torch.allclose(out[n], op.projection.weight @ torch.cat(parts) + op.projection.bias, atol=ATOL)


def test_nrms_news_encoder_self_attention_then_additive(by_hand):
    op = AttentionOperator(options=AttentionConfig(num_heads=2, **SMALL), context=CONTEXT).eval()
    out = op(ITEMS)
    for n in range(len(ITEMS)):
        text = []
        for name in op.text_names:
            encoder, mask = op.text_encoders[module_key(name)], ITEMS.masks[name][n]
            h = by_hand.self_attention(
                words(op, name, n), mask, encoder.self_attention.qkv.weight, encoder.self_attention.qkv.bias, 2
            )
            text.append(by_hand.additive_module(h, mask, encoder.pooling)[0])
        assert torch.allclose(out[n], views_fused(op, text, n, by_hand), atol=ATOL)


def test_transformer_news_encoder(by_hand):
    op = TransformerOperator(
        options=TransformerConfig(num_heads=2, num_layers=1, feedforward_size=6, **SMALL), context=CONTEXT
    ).eval()
    out = op(ITEMS)
    for n in range(len(ITEMS)):
        text = []
        for name in op.text_names:
            encoder, mask = op.text_encoders[module_key(name)], ITEMS.masks[name][n]
            stack = encoder.stack
            h = by_hand.embed_positions(
                words(op, name, n), torch.arange(len(mask)), stack.projection, stack.positions, stack.norm
            )
            for layer in stack.encoder.layers:
                h = by_hand.transformer_layer(h, mask, layer)
            text.append(by_hand.additive_module(h, mask, encoder.pooling)[0])
        assert torch.allclose(out[n], views_fused(op, text, n, by_hand), atol=ATOL)


def test_fastformer_news_encoder(by_hand):
    op = FastformerOperator(options=FastformerConfig(num_heads=2, feedforward_size=6, **SMALL), context=CONTEXT).eval()
    out = op(ITEMS)
    for n in range(len(ITEMS)):
        text = []
        for name in op.text_names:
            encoder, mask = op.text_encoders[module_key(name)], ITEMS.masks[name][n]
            fast = encoder.encoder
            h = by_hand.embed_positions(
                words(op, name, n), torch.arange(len(mask)), fast.projection, fast.positions, fast.norm
            )
            for layer in fast.layers:
                h = by_hand.fastformer_layer(h, mask, layer, 2)
            text.append(by_hand.additive_module(h, mask, encoder.pooling)[0])
        assert torch.allclose(out[n], views_fused(op, text, n, by_hand), atol=ATOL)


# ------------------------------------------------------------------ behavior operators
def test_naml_user_is_additive_attention_over_the_history(by_hand):
    op = AdditiveOperator(options=AdditiveOperator.Options(attention_dim=5), context=CONTEXT).eval()
    out = op(HISTORY, HISTORY_MASK, None)
    for b in range(4):
        assert torch.allclose(out[b], by_hand.additive_module(HISTORY[b], HISTORY_MASK[b], op.attention)[0], atol=ATOL)


def test_nrms_user_encoder(by_hand):
    op = HistoryAttentionOperator(options=HistoryAttentionConfig(num_heads=2, attention_dim=5), context=CONTEXT).eval()
    out = op(HISTORY, HISTORY_MASK, None)
    for b in range(4):
        attention = op.self_attention
        h = by_hand.self_attention(HISTORY[b], HISTORY_MASK[b], attention.qkv.weight, attention.qkv.bias, 2)
        assert torch.allclose(out[b], by_hand.additive_module(h, HISTORY_MASK[b], op.pooling)[0], atol=ATOL)


@pytest.mark.parametrize("mode", ["ini", "con"])
def test_lstur_ini_and_con(by_hand, mode):
    op = GRUOperator(options=GRUConfig(mode=mode), context=CONTEXT).eval()
    users = random_users(CONTEXT, 4)
    out = op(HISTORY, HISTORY_MASK, users)
    for b in range(4):
        long_term = op.long_term.weight[users.person[b]]  # u_l
        clicked = [HISTORY[b, i] for i in real(HISTORY_MASK[b])]  # oldest to newest, padding skipped
        if mode == "ini":  # LSTUR-ini: u_l is the GRU's initial state, the user is its last state
            want = by_hand.gru(clicked, long_term, op.gru)
        else:  # LSTUR-con: u = W [u_l; u_s] + b with u_s the last state from a zero start
            short = by_hand.gru(clicked, torch.zeros(D), op.gru)
            want = op.projection.weight @ torch.cat([long_term, short]) + op.projection.bias
        assert torch.allclose(out[b], want, atol=ATOL)
    assert torch.allclose(out[3], long_term if mode == "ini" else want, atol=ATOL)  # the empty history


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_bst_transformer_over_the_history(by_hand, pooling):
    op = HistoryTransformerOperator(
        options=HistoryTransformerConfig(
            num_heads=2, feedforward_size=6, dropout=0.0, pooling=pooling, attention_dim=5
        ),
        context=CONTEXT,
    ).eval()
    out = op(HISTORY[:3], HISTORY_MASK[:3], None)
    for b in range(3):
        mask = HISTORY_MASK[b]
        stack = op.stack
        h = by_hand.embed_positions(
            HISTORY[b], torch.tensor(by_hand.positions_from_end(mask)), stack.projection, stack.positions, stack.norm
        )
        for layer in stack.encoder.layers:
            h = by_hand.transformer_layer(h, mask, layer)
        rows = real(mask)
        want = h[rows].mean(dim=0) if pooling == "mean" else by_hand.additive_module(h, mask, op.pooling)[0]
        assert torch.allclose(out[b], want, atol=ATOL)
    assert torch.equal(op(HISTORY[3:], HISTORY_MASK[3:], None), torch.zeros(1, D))


def test_fastformer_user_encoder(by_hand):
    op = HistoryFastformerOperator(
        options=HistoryFastformerConfig(num_heads=2, feedforward_size=6, dropout=0.0, attention_dim=5), context=CONTEXT
    ).eval()
    out = op(HISTORY[:3], HISTORY_MASK[:3], None)
    for b in range(3):
        mask = HISTORY_MASK[b]
        fast = op.encoder
        h = by_hand.embed_positions(
            HISTORY[b], torch.tensor(by_hand.positions_from_end(mask)), fast.projection, fast.positions, fast.norm
        )
        for layer in fast.layers:
            h = by_hand.fastformer_layer(h, mask, layer, 2)
        assert torch.allclose(out[b], by_hand.additive_module(h, mask, op.pooling)[0], atol=ATOL)


def test_miner_poly_attention_gives_k_interest_vectors():
    op = PolyAttentionOperator(options=PolyAttentionConfig(num_interests=3, attention_dim=5), context=CONTEXT).eval()
    interests, interest_mask = op(HISTORY, HISTORY_MASK, None)
    W, codes = op.projection.weight, op.codes
    for b in range(4):
        rows = real(HISTORY_MASK[b])
        for k in range(3):  # alpha[k, i] = softmax_i(c_k^T tanh(W h_i)); u_k = sum_i alpha[k, i] h_i
            if not rows:
                assert torch.equal(interests[b, k], torch.zeros(D))
                continue
            logits = torch.stack([codes[k] @ torch.tanh(W @ HISTORY[b, i]) for i in rows])
            alpha = torch.exp(logits - logits.max()) / torch.exp(logits - logits.max()).sum()
            want = sum(a * HISTORY[b, i] for a, i in zip(alpha, rows, strict=True))
            assert torch.allclose(interests[b, k], want, atol=ATOL)
    assert interest_mask.all()


def test_miner_disagreement_term_of_the_interest_vectors():
    """beta * L_D with L_D = 1/K^2 sum_ij cos(u_i, u_j), over users with a history (the paper's Eq. 5)."""
    op = PolyAttentionOperator(
        options=PolyAttentionConfig(num_interests=3, attention_dim=5, disagreement_weight=0.8), context=CONTEXT
    ).train()
    with torch.no_grad():
        interests, _ = op(HISTORY, HISTORY_MASK, None)
    per_user = []
    for b in range(3):  # the fourth user has no history
        u = interests[b]
        per_user.append(sum(F.cosine_similarity(u[i], u[j], dim=0) for i in range(3) for j in range(3)) / 9)
    assert op.auxiliary_loss().item() == pytest.approx(0.8 * float(sum(per_user) / 3), abs=1e-6)


@pytest.mark.parametrize("positions", [False, True])
def test_din_sequence_is_the_history(by_hand, positions):
    op = SequenceOperator(options=SequenceConfig(position_embedding=positions), context=CONTEXT).eval()
    out, mask = op(HISTORY, HISTORY_MASK, None)
    assert torch.equal(mask, HISTORY_MASK)
    for b in range(4):
        for i in real(HISTORY_MASK[b]):
            extra = op.positions.weight[by_hand.positions_from_end(HISTORY_MASK[b])[i]] if positions else 0.0
            assert torch.allclose(out[b, i], HISTORY[b, i] + extra, atol=ATOL)


# ------------------------------------------------------------------ the MINER predictor
@pytest.mark.parametrize("aggregate", ["attention", "max", "mean"])
def test_miner_target_aware_scores(aggregate):
    op = MINERPredictor(options=MINERConfig(aggregate=aggregate), context=CONTEXT).eval()
    interests, candidates = torch.randn(2, 3, D), torch.randn(2, 4, D)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    with torch.no_grad():
        scores = op(interests, candidates, FieldInputs(), mask)
    for b in range(2):
        rows = real(mask[b])
        for c in range(4):
            s = torch.stack([interests[b, k] @ candidates[b, c] for k in rows])  # s_k = u_k . c
            if aggregate == "attention":  # w_k = softmax_k(gelu(W u_k + b) . c)
                logits = torch.stack(
                    [
                        F.gelu(op.projection.weight @ interests[b, k] + op.projection.bias) @ candidates[b, c]
                        for k in rows
                    ]
                )
                w = torch.exp(logits - logits.max()) / torch.exp(logits - logits.max()).sum()
                want = (w * s).sum()
            else:
                want = s.max() if aggregate == "max" else s.mean()
            assert float(scores[b, c]) == pytest.approx(float(want), abs=ATOL)
