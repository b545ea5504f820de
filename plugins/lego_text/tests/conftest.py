"""The papers' equations written out one example at a time, for the formula tests.

Nothing here calls a lego-text module: each function reads the parameters it needs (a weight
matrix, a bias vector) and computes the equation with plain matrix-vector products and Python
loops over positions, heads and views, so the tests compare two independent computations.
The ``by_hand`` fixture hands them to the tests.
"""

from __future__ import annotations

import math
import types

import pytest
import torch
from torch import Tensor


def softmax(scores: list[Tensor]) -> list[Tensor]:
    top = max(float(s.detach()) for s in scores)
    exps = [torch.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def additive(x: Tensor, mask: Tensor, W: Tensor, b: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
    """NAML's additive attention: ``a_i = q^T tanh(W x_i + b)``, softmax over real ``i``, ``sum alpha_i x_i``.

    ``x (L, D)``, ``mask (L,)`` -> the pooled vector ``(D,)`` and the weights ``(L,)`` (0 on padding).
    """
    real = [i for i in range(x.shape[0]) if mask[i]]
    weights = torch.zeros(x.shape[0])
    if not real:
        return torch.zeros(x.shape[1]), weights
    alphas = softmax([q @ torch.tanh(W @ x[i] + b) for i in real])
    for i, a in zip(real, alphas, strict=True):
        weights[i] = a
    return sum(a * x[i] for i, a in zip(real, alphas, strict=True)), weights


def additive_module(x: Tensor, mask: Tensor, module) -> tuple[Tensor, Tensor]:
    """:func:`additive` with the parameters of a lego-text ``AdditiveAttention``."""
    return additive(x, mask, module.projection.weight, module.projection.bias, module.query.weight[0])


def self_attention(x: Tensor, mask: Tensor, W: Tensor, b: Tensor, heads: int) -> Tensor:
    """Scaled dot-product attention per head over the real keys, heads concatenated (NRMS).

    ``W (3 D, E)``, ``b (3 D)`` stack the query, key and value projections; head ``h`` uses rows
    ``h d .. (h + 1) d`` of each. Row ``i``: ``sum_j softmax_j(q_i . k_j / sqrt(d)) v_j``.
    """
    length = x.shape[0]
    hidden = W.shape[0] // 3
    d = hidden // heads
    real = [j for j in range(length) if mask[j]] or list(range(length))  # an empty row attends over all
    out = torch.zeros(length, hidden)
    for h in range(heads):
        rows = slice(h * d, (h + 1) * d)
        Wq, Wk, Wv = W[rows], W[hidden:][rows], W[2 * hidden :][rows]
        bq, bk, bv = b[rows], b[hidden:][rows], b[2 * hidden :][rows]
        for i in range(length):
            q = Wq @ x[i] + bq
            alphas = softmax([q @ (Wk @ x[j] + bk) / math.sqrt(d) for j in real])
            out[i, rows] = sum(a * (Wv @ x[j] + bv) for j, a in zip(real, alphas, strict=True))
    return out


def conv_windows(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``h_i = ReLU(b + sum_t W_t x_{i + t - w // 2})`` over windows of ``w`` words, zeros past the ends.

    ``x (L, E)``, ``weight (F, E, w)`` -> ``(L, F)``.
    """
    length, window = x.shape[0], weight.shape[2]
    out = torch.zeros(length, weight.shape[0])
    for i in range(length):
        total = bias.clone()
        for t in range(window):
            j = i + t - window // 2
            if 0 <= j < length:
                total = total + weight[:, :, t] @ x[j]
        out[i] = torch.relu(total)
    return out


def text_cnn(x: Tensor, mask: Tensor, module) -> Tensor:
    """NAML's / LSTUR's text encoder: CNN windows, then additive attention over the real words."""
    h = conv_windows(x, module.conv.weight, module.conv.bias)
    return additive_module(h, mask, module.attention)[0]


def fastformer_attention(x: Tensor, mask: Tensor, layer, heads: int) -> Tensor:
    """Fastformer (Wu et al. 2021) on ``x (L, D)``, as the official implementation computes it.

    ``q_i = W_q x_i``, ``k_i = W_k x_i``; per head ``h`` (size ``d``): ``alpha_i = softmax_i(w_q^h . q_i
    / sqrt(d))``, the global query ``q^h = sum_i alpha_i q_i^h``; ``p_i = q * k_i``; ``beta_i =
    softmax_i(w_k^h . p_i / sqrt(d))``, the global key ``k^h = sum_i beta_i p_i^h``; ``u_i = k * q_i``
    (values share the query transformation); output ``W_o u_i + q_i``. The scoring vectors ``w^h``
    read the whole ``q_i`` / ``p_i`` (one Linear with a row per head); with one head that is the
    paper's equation.
    """
    length, hidden = x.shape
    d = hidden // heads
    real = [i for i in range(length) if mask[i]]
    q = [layer.query.weight @ x[i] + layer.query.bias for i in range(length)]
    k = [layer.key.weight @ x[i] + layer.key.bias for i in range(length)]
    global_query = torch.zeros(hidden)
    for h in range(heads):
        rows = slice(h * d, (h + 1) * d)
        w, b = layer.query_score.weight[h], layer.query_score.bias[h]
        alphas = softmax([(w @ q[i] + b) / math.sqrt(d) for i in real])
        global_query[rows] = sum(a * q[i][rows] for i, a in zip(real, alphas, strict=True))
    p = [k[i] * global_query for i in range(length)]
    global_key = torch.zeros(hidden)
    for h in range(heads):
        rows = slice(h * d, (h + 1) * d)
        w, b = layer.key_score.weight[h], layer.key_score.bias[h]
        betas = softmax([(w @ p[i] + b) / math.sqrt(d) for i in real])
        global_key[rows] = sum(a * p[i][rows] for i, a in zip(real, betas, strict=True))
    return torch.stack([layer.output.weight @ (global_key * q[i]) + layer.output.bias + q[i] for i in range(length)])


def layer_norm(v: Tensor, gain: Tensor, bias: Tensor, eps: float) -> Tensor:
    mean = sum(v) / len(v)
    var = sum((e - mean) ** 2 for e in v) / len(v)
    return (v - mean) / torch.sqrt(var + eps) * gain + bias


def gelu(v: Tensor) -> Tensor:
    return 0.5 * v * (1 + torch.erf(v / math.sqrt(2.0)))


def fastformer_layer(x: Tensor, mask: Tensor, layer, heads: int) -> Tensor:
    """BERT-style block: ``LN(x + attention(x))``, then ``LN(h + W_2 GELU(W_1 h))``."""
    att = fastformer_attention(x, mask, layer.attention, heads)
    first, second = layer.feedforward[0], layer.feedforward[2]
    out = []
    for i in range(x.shape[0]):
        h = layer_norm(x[i] + att[i], layer.attention_norm.weight, layer.attention_norm.bias, layer.attention_norm.eps)
        f = second.weight @ gelu(first.weight @ h + first.bias) + second.bias
        out.append(layer_norm(h + f, layer.output_norm.weight, layer.output_norm.bias, layer.output_norm.eps))
    return torch.stack(out)


def transformer_layer(x: Tensor, mask: Tensor, layer) -> Tensor:
    """``nn.TransformerEncoderLayer`` (post-norm, GELU): ``LN(x + W_o MHA(x))``, then ``LN(h + FF(h))``."""
    attention = layer.self_attn
    heads = attention.num_heads
    att = self_attention(x, mask, attention.in_proj_weight, attention.in_proj_bias, heads)
    out = []
    for i in range(x.shape[0]):
        h = x[i] + attention.out_proj.weight @ att[i] + attention.out_proj.bias
        h = layer_norm(h, layer.norm1.weight, layer.norm1.bias, layer.norm1.eps)
        f = layer.linear2.weight @ gelu(layer.linear1.weight @ h + layer.linear1.bias) + layer.linear2.bias
        out.append(layer_norm(h + f, layer.norm2.weight, layer.norm2.bias, layer.norm2.eps))
    return torch.stack(out)


def embed_positions(x: Tensor, positions: Tensor, projection, table, norm) -> Tensor:
    """``LN(P x_i + pos[position_i])`` per position (``P`` the identity when sizes match)."""
    out = []
    for i in range(x.shape[0]):
        v = x[i] if not hasattr(projection, "weight") else projection.weight @ x[i] + projection.bias
        out.append(layer_norm(v + table.weight[int(positions[i])], norm.weight, norm.bias, norm.eps))
    return torch.stack(out)


def gru(xs: list[Tensor], h: Tensor, module) -> Tensor:
    """The GRU of Cho et al. (PyTorch's gate order r, z, n), run over ``xs`` from ``h``; the last state."""
    W, U = module.weight_ih_l0, module.weight_hh_l0
    bW, bU = module.bias_ih_l0, module.bias_hh_l0
    n = h.shape[0]
    for x in xs:
        gi, gh = W @ x + bW, U @ h + bU
        r = torch.sigmoid(gi[:n] + gh[:n])
        z = torch.sigmoid(gi[n : 2 * n] + gh[n : 2 * n])
        candidate = torch.tanh(gi[2 * n :] + r * gh[2 * n :])
        h = (1 - z) * candidate + z * h
    return h


def positions_from_end(mask: Tensor) -> list[int]:
    """The most recent real item is 0, the one before 1, ...; padding 0."""
    real = [i for i in range(len(mask)) if mask[i]]
    out = [0] * len(mask)
    for rank, i in enumerate(reversed(real)):
        out[i] = rank
    return out


@pytest.fixture
def by_hand():
    return types.SimpleNamespace(
        **{
            name: fn
            for name, fn in globals().items()
            if callable(fn) and not name.startswith("_") and fn.__module__ == __name__ and name != "by_hand"
        }
    )
