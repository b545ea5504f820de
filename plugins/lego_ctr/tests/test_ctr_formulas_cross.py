"""Cross networks against their defining formulas on tiny inputs: DCN, DCNv2, GDCN, xDeepFM's CIN."""

from __future__ import annotations

import itertools

import pytest
import torch

from lego_ctr.dcn import CrossNet, DCNConfig, DCNPredictor
from lego_ctr.dcnv2 import CrossNetMix, CrossNetV2, DCNv2Config, DCNv2Predictor
from lego_ctr.gdcn import GatedCrossNet, GDCNConfig, GDCNPredictor
from lego_ctr.xdeepfm import CIN, XDeepFMConfig, XDeepFMPredictor

torch.manual_seed(0)


def test_dcn_cross_layer():
    net = CrossNet(5, num_layers=1)
    with torch.no_grad():
        net.biases[0].normal_()
    x0 = torch.randn(3, 5)
    w, b = net.weights[0].weight[0], net.biases[0]
    expected = torch.stack([x0[n] * torch.dot(x0[n], w) + b + x0[n] for n in range(3)])
    assert torch.allclose(net(x0), expected, atol=1e-6)


def test_dcn_two_layers_keep_multiplying_x0():
    net = CrossNet(4, num_layers=2)
    x0 = torch.randn(2, 4)
    w1, w2 = (lin.weight[0] for lin in net.weights)
    x1 = x0 * (x0 @ w1).unsqueeze(-1) + net.biases[0] + x0
    x2 = x0 * (x1 @ w2).unsqueeze(-1) + net.biases[1] + x1
    assert torch.allclose(net(x0), x2, atol=1e-6)


def test_dcn_combines_cross_and_deep(context, make_inputs, by_hand):
    model = DCNPredictor(options=DCNConfig(num_cross_layers=2, hidden_units=[8]), context=context).eval()
    with torch.no_grad():
        for bias in model.cross.biases:
            bias.normal_()
    user, candidates, fields = make_inputs(context)
    x0 = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, -1)  # [e_1; ...; e_F]
    stacked = torch.cat([by_hand.cross_v1(model.cross, x0), by_hand.mlp(model.deep, x0)], dim=-1)  # [x_L; h]
    expected = (stacked @ model.output.weight[0] + model.output.bias).view(3, 4)  # the paper's Eq. 5
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-5)


def test_dcnv2_cross_layer_full_rank():
    net = CrossNetV2(5, num_layers=1)
    x0 = torch.randn(3, 5)
    W, b = net.layers[0].weight, net.layers[0].bias
    expected = torch.stack([x0[n] * (W @ x0[n] + b) + x0[n] for n in range(3)])
    assert torch.allclose(net(x0), expected, atol=1e-6)


def test_dcnv2_low_rank_is_w_equal_u_v_transposed():
    net = CrossNetV2(6, num_layers=1, low_rank=2)
    x0 = torch.randn(3, 6)
    v_t, u = net.layers[0][0].weight, net.layers[0][1].weight  # V^T (2, 6), U (6, 2)
    W, b = u @ v_t, net.layers[0][1].bias
    assert torch.linalg.matrix_rank(W) == 2
    expected = torch.stack([x0[n] * (W @ x0[n] + b) + x0[n] for n in range(3)])
    assert torch.allclose(net(x0), expected, atol=1e-5)


def test_dcnv2_mixture_of_low_rank_experts():
    net = CrossNetMix(4, num_layers=1, low_rank=2, num_experts=3)
    with torch.no_grad():
        net.bias.normal_()
    x0 = torch.randn(2, 4)
    out = torch.empty(2, 4)
    for n in range(2):
        x = x0[n]
        gates = torch.softmax(torch.stack([x @ net.gates[0][:, i] for i in range(3)]), dim=0)
        experts = [
            x0[n] * (net.u[0, i].T @ torch.tanh(net.c[0, i].T @ torch.tanh(net.v[0, i].T @ x)) + net.bias[0])
            for i in range(3)
        ]
        out[n] = sum(g * e for g, e in zip(gates, experts, strict=True)) + x
    assert torch.allclose(net(x0), out, atol=1e-5)


@pytest.mark.parametrize("low_rank", [None, 3])
def test_dcnv2_structures(context, make_inputs, by_hand, low_rank):
    user, candidates, fields = make_inputs(context)
    stacked = DCNv2Predictor(
        options=DCNv2Config(structure="stacked", low_rank=low_rank, hidden_units=[8]), context=context
    )
    x0 = by_hand.embed(stacked.embedding, user, candidates, fields).reshape(12, -1)
    top = by_hand.mlp(stacked.deep, by_hand.cross_v2(stacked.cross, x0))  # the MLP on the cross output
    assert torch.allclose(
        stacked(user, candidates, fields), (top @ stacked.output.weight[0] + stacked.output.bias).view(3, 4), atol=1e-5
    )
    parallel = DCNv2Predictor(
        options=DCNv2Config(structure="parallel", low_rank=low_rank, hidden_units=[8]), context=context
    )
    x0 = by_hand.embed(parallel.embedding, user, candidates, fields).reshape(12, -1)
    side_by_side = torch.cat([by_hand.cross_v2(parallel.cross, x0), by_hand.mlp(parallel.deep, x0)], dim=-1)
    expected = (side_by_side @ parallel.output.weight[0] + parallel.output.bias).view(3, 4)
    assert torch.allclose(parallel(user, candidates, fields), expected, atol=1e-5)


def test_gdcn_gated_cross_layer():
    net = GatedCrossNet(5, num_layers=1)
    c0 = torch.randn(3, 5)
    Wc, bc, Wg = net.crosses[0].weight, net.crosses[0].bias, net.gates[0].weight
    gate = torch.stack([torch.sigmoid(Wg @ c0[n]) for n in range(3)])
    assert torch.allclose(net.gate(0, c0), gate, atol=1e-6)
    assert ((gate > 0) & (gate < 1)).all()
    expected = torch.stack([c0[n] * (Wc @ c0[n] + bc) * gate[n] + c0[n] for n in range(3)])
    assert torch.allclose(net(c0), expected, atol=1e-6)


def test_gdcn_structures(context, make_inputs, by_hand):
    user, candidates, fields = make_inputs(context)
    model = GDCNPredictor(options=GDCNConfig(structure="stacked", hidden_units=[8]), context=context)
    c0 = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, -1)
    top = by_hand.mlp(model.deep, by_hand.gated_cross(model.cross, c0))  # GDCN-S
    assert torch.allclose(
        model(user, candidates, fields), (top @ model.output.weight[0] + model.output.bias).view(3, 4), atol=1e-5
    )
    model = GDCNPredictor(options=GDCNConfig(structure="parallel", hidden_units=[8]), context=context)
    c0 = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, -1)
    both = torch.cat([by_hand.gated_cross(model.cross, c0), by_hand.mlp(model.deep, c0)], dim=-1)  # GDCN-P
    assert torch.allclose(
        model(user, candidates, fields), (both @ model.output.weight[0] + model.output.bias).view(3, 4), atol=1e-5
    )


def test_cin_first_layer():
    cin = CIN(num_fields=3, layer_units=[2])
    x0 = torch.randn(2, 3, 4)
    W = cin.weights[0]  # (H_1, H_0, m)
    expected = torch.zeros(2, 2, 4)
    for n, h, i, j in itertools.product(range(2), range(2), range(3), range(3)):
        expected[n, h] += W[h, i, j] * x0[n, i] * x0[n, j]
    (first,) = cin.layers(x0)
    assert torch.allclose(first, expected, atol=1e-6)
    assert torch.allclose(cin(x0), expected.sum(dim=-1), atol=1e-6)  # sum pooling over the embedding


def test_cin_second_layer_crosses_with_x0():
    cin = CIN(num_fields=2, layer_units=[3, 2])
    x0 = torch.randn(1, 2, 4)
    first, second = cin.layers(x0)
    W = cin.weights[1]  # (2, 3, 2)
    expected = torch.einsum("hij,ie,je->he", W, first[0], x0[0])
    assert torch.allclose(second[0], expected, atol=1e-6)
    assert cin(x0).shape == (1, 5)


def test_xdeepfm_is_linear_plus_cin_plus_dnn(context, make_inputs, by_hand):
    model = XDeepFMPredictor(options=XDeepFMConfig(cin_units=[3, 2], hidden_units=[8]), context=context)
    with torch.no_grad():
        for table in [*model.linear.item_weights.values(), *model.linear.user_weights.values()]:
            table.weight.normal_()
    user, candidates, fields = make_inputs(context)
    flat = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)
    cin = by_hand.cin(model.cin, flat) @ model.cin_output.weight[0] + model.cin_output.bias  # w_cin . p^+ + b
    expected = (
        by_hand.linear(model.linear, user, candidates, fields)
        + cin.view(3, 4)
        + by_hand.mlp(model.deep, flat.reshape(12, -1)).view(3, 4)
    )  # the paper's Eq. 12
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-5)
