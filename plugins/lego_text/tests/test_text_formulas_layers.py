"""lego-text's layers against their papers' equations, computed one example at a time (tests/conftest.py).

Inputs are small and padded; each layer's output on the real positions must equal the equation
evaluated with the layer's own parameters, and padded positions must get exactly zero weight.
"""

from __future__ import annotations

import pytest
import torch

from lego_text.additive_attention import AdditiveAttention
from lego_text.embeddings import EmbeddingConfig, ItemEmbeddings
from lego_text.fastformer_layer import FastformerAttention, FastformerEncoder, FastformerLayer
from lego_text.masking import masked_max, masked_mean, masked_softmax, positions_from_end, real_items_first
from lego_text.multihead_attention import MultiHeadSelfAttention
from lego_text.text_cnn import TextCNN
from lego_text.transformer_stack import TransformerStack

torch.manual_seed(0)
MASK = torch.tensor(
    [[True, True, True, False, False], [False, True, True, True, True], [True] * 5, [False] * 5]
)  # right padding, left padding, full, empty
B, L = MASK.shape
ATOL = 1e-5


def real_rows(mask_row: torch.Tensor) -> list[int]:
    return [i for i in range(len(mask_row)) if mask_row[i]]


def test_masked_reductions_by_definition():
    x = torch.randn(B, L, 3)
    logits = torch.randn(B, L)
    weights, mean, top = masked_softmax(logits, MASK), masked_mean(x, MASK), masked_max(x, MASK)
    for b in range(B):
        real = real_rows(MASK[b])
        if not real:
            assert torch.equal(weights[b], torch.zeros(L)) and torch.equal(mean[b], torch.zeros(3))
            assert torch.equal(top[b], torch.zeros(3))
            continue
        exps = {i: torch.exp(logits[b, i]) for i in real}
        for i in range(L):
            assert float(weights[b, i]) == pytest.approx(float(exps[i] / sum(exps.values())) if i in real else 0.0)
        assert torch.allclose(mean[b], sum(x[b, i] for i in real) / len(real), atol=ATOL)
        assert torch.equal(top[b], torch.stack([x[b, i] for i in real]).max(dim=0).values)


def test_positions_count_back_from_the_most_recent_item(by_hand):
    assert positions_from_end(MASK).tolist() == [by_hand.positions_from_end(m) for m in MASK]
    history = torch.arange(B * L, dtype=torch.float32).view(B, L, 1)
    moved, lengths = real_items_first(history, MASK)
    for b in range(B):
        real = [float(history[b, i, 0]) for i in real_rows(MASK[b])]
        assert moved[b, :, 0].tolist() == real + [0.0] * (L - len(real)) and int(lengths[b]) == len(real)


def test_additive_attention_query_and_weights(by_hand):
    layer = AdditiveAttention(4, 3)
    x = torch.randn(B, L, 4)
    out, weights = layer(x, MASK), layer.weights(x, MASK)
    for b in range(B):
        want, want_weights = by_hand.additive_module(x[b], MASK[b], layer)
        assert torch.allclose(weights[b], want_weights, atol=ATOL)
        assert torch.allclose(out[b], want, atol=ATOL)
    assert (weights[~MASK] == 0).all()


@pytest.mark.parametrize("heads", [1, 2])
def test_multi_head_self_attention(by_hand, heads):
    layer = MultiHeadSelfAttention(6, 4, num_heads=heads).eval()
    x = torch.randn(B, L, 6)
    out = layer(x, MASK)
    for b in range(B):
        want = by_hand.self_attention(x[b], MASK[b], layer.qkv.weight, layer.qkv.bias, heads)
        rows = real_rows(MASK[b]) or list(range(L))  # an empty row attends over its padding (finite)
        assert torch.allclose(out[b, rows], want[rows], atol=ATOL)


@pytest.mark.parametrize("heads", [1, 2])
def test_fastformer_global_query_and_key(by_hand, heads):
    layer = FastformerAttention(4, num_heads=heads)
    x = torch.randn(B - 1, L, 4)  # the empty row has no global query (its outputs are pooled away)
    out = layer(x, MASK[:-1])
    for b in range(B - 1):
        rows = real_rows(MASK[b])
        assert torch.allclose(out[b, rows], by_hand.fastformer_attention(x[b], MASK[b], layer, heads)[rows], atol=ATOL)


def test_fastformer_block_and_encoder(by_hand):
    encoder = FastformerEncoder(3, 4, num_heads=2, num_layers=2, feedforward_size=6, max_positions=L).eval()
    x, positions = torch.randn(B - 1, L, 3), torch.tensor([4, 0, 3, 1, 2])
    out = encoder(x, MASK[:-1], positions)
    for b in range(B - 1):
        h = by_hand.embed_positions(x[b], positions, encoder.projection, encoder.positions, encoder.norm)
        for layer in encoder.layers:
            h = by_hand.fastformer_layer(h, MASK[b], layer, 2)
        rows = real_rows(MASK[b])
        assert torch.allclose(out[b, rows], h[rows], atol=ATOL)
    single = FastformerLayer(4, 1, 5).eval()
    y = torch.randn(1, L, 4)
    assert torch.allclose(single(y, MASK[:1])[0, :3], by_hand.fastformer_layer(y[0], MASK[0], single, 1)[:3], atol=ATOL)


def test_transformer_stack(by_hand):
    stack = TransformerStack(3, 4, num_heads=2, num_layers=2, feedforward_size=6, max_positions=L).eval()
    x = torch.randn(B - 1, L, 3)
    positions = torch.stack([torch.tensor(by_hand.positions_from_end(m)) for m in MASK[:-1]])  # (B, L)
    out = stack(x, MASK[:-1], positions)
    for b in range(B - 1):
        h = by_hand.embed_positions(x[b], positions[b], stack.projection, stack.positions, stack.norm)
        for layer in stack.encoder.layers:
            h = by_hand.transformer_layer(h, MASK[b], layer)
        rows = real_rows(MASK[b])
        assert torch.allclose(out[b, rows], h[rows], atol=ATOL)


@pytest.mark.parametrize("window", [1, 3, 5])
def test_cnn_windows_then_word_attention(by_hand, window):
    cnn = TextCNN(3, 4, window_size=window, attention_dim=2).eval()
    x = torch.randn(B, L, 3) * MASK.unsqueeze(-1)  # zero at padding, as the operators hand it over
    out = cnn(x, MASK)
    for b in range(B):
        assert torch.allclose(out[b], by_hand.text_cnn(x[b], MASK[b], cnn), atol=ATOL)
    # one window by hand, written out: positions 0..2 of the first row with a 3-word window
    if window == 3:
        W, bias = cnn.conv.weight, cnn.conv.bias
        h1 = torch.relu(bias + W[:, :, 0] @ x[0, 0] + W[:, :, 1] @ x[0, 1] + W[:, :, 2] @ x[0, 2])
        conv = torch.relu(cnn.conv(x[:1].transpose(1, 2))).transpose(1, 2)
        assert torch.allclose(conv[0, 1], h1, atol=ATOL)


def test_item_embeddings_share_a_vocabulary_and_zero_the_padding():
    from lego_core.testing import make_context, random_items

    context = make_context()
    embeddings = ItemEmbeddings(context, EmbeddingConfig(embedding_dim=3, category_dim=2))
    items = random_items(context, n=4)
    table = embeddings.word_tables["words"].weight
    for name in ("title", "abstract"):  # both read the one "words" table
        words = embeddings.words(items, name)
        for n in range(4):
            for i in range(items.tokens[name].shape[1]):
                want = table[items.tokens[name][n, i]] if items.masks[name][n, i] else torch.zeros(3)
                assert torch.equal(words[n, i], want)
    assert torch.equal(
        embeddings.category(items, "category"),
        embeddings.category_tables["category"].weight[items.categories["category"]],
    )
