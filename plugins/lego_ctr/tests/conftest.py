"""Fixtures of lego-ctr's tests (fixtures only: conftest modules are not imported by name)."""

from __future__ import annotations

import pytest
import torch

from lego_core.testing import make_context, random_fields


@pytest.fixture
def context():
    """The core's tiny context: D = 16, item field "category", user field "age"."""
    return make_context()


@pytest.fixture
def make_inputs():
    """``make_inputs(context, b, k, seed)`` -> random user vectors ``(b, D)``, candidates ``(b, k, D)``, fields."""

    def make(context, b: int = 3, k: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        user = torch.randn(b, context.hidden_size, generator=g)
        candidates = torch.randn(b, k, context.hidden_size, generator=g)
        return user, candidates, random_fields(context, b, k, generator=g)

    return make


# ------------------------------------------------------------------ independent computations for the structure tests
# Each reads a module's parameters and recomputes its output from the paper's equation with explicit
# products and loops, never calling the module, so a structure test compares two computations.


def embed_by_hand(embedding, user, candidates, fields):
    """FieldEmbedding's ``(B, K, F, E)``: [user; item; item attribute rows; user attribute rows] per candidate."""
    b, k, _ = candidates.shape

    def project(module, v):
        return v if isinstance(module, torch.nn.Identity) else module.weight @ v + module.bias

    out = torch.empty(b, k, embedding.num_fields, embedding.field_dim)
    for i in range(b):
        for j in range(k):
            u = user[i] if user.dim() == 2 else user[i, j]
            rows = [project(embedding.user_projection, u), project(embedding.item_projection, candidates[i, j])]
            rows += [table.weight[fields.item[name][i, j]] for name, table in embedding.item_tables.items()]
            rows += [table.weight[fields.user[name][i]] for name, table in embedding.user_tables.items()]
            out[i, j] = torch.stack(rows)
    return out


ACTIVATIONS = {torch.nn.ReLU: torch.relu, torch.nn.Tanh: torch.tanh, torch.nn.Sigmoid: torch.sigmoid}


def dice_by_hand(dice, x):
    """DIN's Dice in eval mode: ``p x + (1 - p) alpha x`` with ``p = sigmoid((x - mean) / sqrt(var + eps))``."""
    p = torch.sigmoid((x - dice.running_mean) / torch.sqrt(dice.running_var + dice.eps))
    return p * x + (1 - p) * dice.alpha * x


def mlp_by_hand(mlp, x):
    """``W_L(... act(W_1 x + b_1) ...) + b_L`` with the MLP's weights (eval mode, no batch norm)."""
    from lego_ctr.dice import Dice

    for layer in mlp.layers:
        if isinstance(layer, torch.nn.Linear):
            x = x @ layer.weight.T + layer.bias
        elif type(layer) in ACTIVATIONS:
            x = ACTIVATIONS[type(layer)](x)
        elif isinstance(layer, Dice):
            x = dice_by_hand(layer, x)
        else:
            raise AssertionError(f"mlp_by_hand does not know {layer}")
    return x


def linear_by_hand(linear, user, candidates, fields):
    """``w0 + <w_u, u> + <w_c, c> + sum_f w_f[id_f]`` per candidate."""
    b, k, _ = candidates.shape
    out = torch.empty(b, k)
    for i in range(b):
        for j in range(k):
            total = linear.bias[0] + user[i] @ linear.user.weight[0] + candidates[i, j] @ linear.item.weight[0]
            total = total + sum(t.weight[fields.item[n][i, j], 0] for n, t in linear.item_weights.items())
            out[i, j] = total + sum(t.weight[fields.user[n][i], 0] for n, t in linear.user_weights.items())
    return out


def pairs_by_hand(x):
    """``sum_{i<j} <x_i, x_j>`` per row of ``(N, F, E)``."""
    f = x.shape[1]
    return torch.stack([sum(row[i] @ row[j] for i in range(f) for j in range(i + 1, f)) for row in x])


def cross_v1_by_hand(net, x0):
    """DCN: ``x_{l+1} = x_0 (x_l . w_l) + b_l + x_l``."""
    x = x0
    for weight, bias in zip(net.weights, net.biases, strict=True):
        x = x0 * (x @ weight.weight[0]).unsqueeze(-1) + bias + x
    return x


def cross_v2_by_hand(net, x0):
    """DCNv2: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``, ``W_l = U_l V_l^T`` when low-rank."""
    x = x0
    for layer in net.layers:
        if isinstance(layer, torch.nn.Linear):
            W, b = layer.weight, layer.bias
        else:
            W, b = layer[1].weight @ layer[0].weight, layer[1].bias
        x = x0 * (x @ W.T + b) + x
    return x


def gated_cross_by_hand(net, c0):
    """GDCN: ``c_{l+1} = c_0 * (W_c c_l + b_c) * sigmoid(W_g c_l) + c_l``."""
    c = c0
    for cross, gate in zip(net.crosses, net.gates, strict=True):
        c = c0 * (c @ cross.weight.T + cross.bias) * torch.sigmoid(c @ gate.weight.T) + c
    return c


def cin_by_hand(cin, x0):
    """xDeepFM's CIN: ``X^k_h = sum_ij W^k_hij X^{k-1}_i * X^0_j``, each map sum-pooled, layers concatenated."""
    n, m, _ = x0.shape
    pooled = []
    for r in range(n):
        x, maps = x0[r], []
        for weight in cin.weights:
            x = torch.stack(
                [
                    sum(weight[h, i, j] * x[i] * x0[r, j] for i in range(x.shape[0]) for j in range(m))
                    for h in range(weight.shape[0])
                ]
            )
            maps.append(x.sum(dim=-1))
        pooled.append(torch.cat(maps))
    return torch.stack(pooled)


@pytest.fixture
def by_hand():
    import types

    return types.SimpleNamespace(
        embed=embed_by_hand,
        mlp=mlp_by_hand,
        linear=linear_by_hand,
        pairs=pairs_by_hand,
        cross_v1=cross_v1_by_hand,
        cross_v2=cross_v2_by_hand,
        gated_cross=gated_cross_by_hand,
        cin=cin_by_hand,
    )
