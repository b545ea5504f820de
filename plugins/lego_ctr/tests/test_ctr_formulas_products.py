"""Product, attention and gating predictors against their defining formulas on tiny inputs."""

from __future__ import annotations

import itertools

import pytest
import torch

from lego_ctr.autoint import AutoIntConfig, AutoIntPredictor, InteractingLayer
from lego_ctr.deepfm import DeepFMConfig, DeepFMPredictor
from lego_ctr.fibinet import Bilinear, FiBiNETConfig, FiBiNETPredictor, SENet
from lego_ctr.finalmlp import BilinearFusion, FeatureSelection, FinalMLPConfig, FinalMLPPredictor
from lego_ctr.fm import FMPredictor, pairwise_interaction
from lego_ctr.masknet import FieldLayerNorm, MaskBlock, MaskNetConfig, MaskNetPredictor
from lego_ctr.pnn import PNNConfig, PNNPredictor, inner_products, outer_product
from lego_ctr.widedeep import WideDeepConfig, WideDeepPredictor

torch.manual_seed(0)


def explicit_pairs(x):
    """sum_{i<j} <x_i, x_j> per row of (N, F, E), by the definition."""
    f = x.shape[1]
    return torch.stack([sum(torch.dot(row[i], row[j]) for i, j in itertools.combinations(range(f), 2)) for row in x])


def interacting_by_hand(layer, x):
    """AutoInt's Eq. 5-8 per head with the layer's W_Q, W_K, W_V, W_Res: ``(N, F, E)`` -> ``(N, F, H d')``."""
    Q, K, V, R = (lin.weight for lin in (layer.query, layer.key, layer.value, layer.residual))
    d = layer.head_dim
    out = torch.empty(x.shape[0], x.shape[1], layer.num_heads * d)
    for n, h in itertools.product(range(x.shape[0]), range(layer.num_heads)):
        heads = slice(d * h, d * h + d)
        q, k, v = x[n] @ Q[heads].T, x[n] @ K[heads].T, x[n] @ V[heads].T
        scores = q @ k.T / (d**0.5 if layer.scale else 1.0)
        out[n, :, heads] = torch.softmax(scores, dim=-1) @ v
    return torch.relu(out + x @ R.T)


def senet_by_hand(se, x):
    """FiBiNET's SENET: ``a = ReLU(W_2 ReLU(W_1 z))`` with ``z_i`` the mean of field i; ``V = a * E``."""
    out = torch.empty_like(x)
    for n in range(x.shape[0]):
        z = torch.stack([x[n, i].mean() for i in range(x.shape[1])])
        a = torch.relu(se.excite.weight @ torch.relu(se.squeeze_to.weight @ z))
        out[n] = a.unsqueeze(-1) * x[n]
    return out


def bilinear_by_hand(layer, x):
    """``p_ij = (v_i W) * v_j`` for ``i < j``, ``W`` shared, per field or per pair."""
    pairs = list(itertools.combinations(range(x.shape[1]), 2))
    index = {"field_all": lambda p, i: 0, "field_each": lambda p, i: i, "field_interaction": lambda p, i: p}[layer.kind]
    return torch.stack([(x[:, i] @ layer.weight[index(p, i)]) * x[:, j] for p, (i, j) in enumerate(pairs)], dim=1)


def selection_by_hand(selection, x, by_hand):
    """FinalMLP's gate ``2 sigmoid(MLP(c)) * x``, ``c`` the context fields (or the learned vector)."""
    n = x.shape[0]
    context = (
        selection.bias.expand(n, -1) if selection.bias is not None else x[:, selection.context_fields].reshape(n, -1)
    )
    return 2 * torch.sigmoid(by_hand.mlp(selection.gate, context)) * x.reshape(n, -1)


def fusion_by_hand(fusion, o1, o2):
    """``b + w_1 . o_1 + w_2 . o_2 + sum_h o_1h^T W_3h o_2h``."""
    h, n = fusion.num_heads, o1.shape[0]
    d1, d2 = o1.shape[1] // h, o2.shape[1] // h
    out = o1 @ fusion.w1.weight[0] + fusion.w1.bias + o2 @ fusion.w2.weight[0]
    for head in range(h):
        out = out + torch.stack(
            [
                o1[r, head * d1 : (head + 1) * d1] @ fusion.w3[head] @ o2[r, head * d2 : (head + 1) * d2]
                for r in range(n)
            ]
        )
    return out


def layer_norm_by_hand(v, gain, bias, eps):
    mean = v.mean(dim=-1, keepdim=True)
    return (v - mean) / torch.sqrt(((v - mean) ** 2).mean(dim=-1, keepdim=True) + eps) * gain + bias


def mask_block_by_hand(block, v_emb, v_hid):
    """MaskNet: ``ReLU(LN(W_i ((W_d2 ReLU(W_d1 V_emb + b_d1) + b_d2) * V_hid)))``."""
    agg, proj = block.mask[0], block.mask[2]
    mask = torch.relu(v_emb @ agg.weight.T + agg.bias) @ proj.weight.T + proj.bias
    hidden = (mask * v_hid) @ block.hidden.weight.T
    return torch.relu(layer_norm_by_hand(hidden, block.norm.weight, block.norm.bias, block.norm.eps))


def test_fm_pairwise_term_is_the_sum_over_pairs():
    x = torch.randn(5, 4, 3)
    assert torch.allclose(pairwise_interaction(x), explicit_pairs(x), atol=1e-5)


def test_fm_pairwise_gradient_is_that_of_the_sum_over_pairs():
    x = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pairwise_interaction, (x,))
    weights = torch.randn(5, dtype=torch.float64)
    (mine,) = torch.autograd.grad((pairwise_interaction(x) * weights).sum(), x)
    (explicit,) = torch.autograd.grad((explicit_pairs(x) * weights).sum(), x)
    assert torch.allclose(mine, explicit)


def test_fm_predictor_is_first_order_plus_pairs(context, make_inputs, by_hand):
    model = FMPredictor(context=context)
    with torch.no_grad():
        for table in [*model.linear.item_weights.values(), *model.linear.user_weights.values()]:
            table.weight.normal_()
    user, candidates, fields = make_inputs(context)
    x = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)
    expected = by_hand.linear(model.linear, user, candidates, fields) + explicit_pairs(x).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-5)
    # the user and candidate vectors enter unprojected: <u, c> is one of the pairs
    assert torch.allclose(x[:, 0].view(3, 4, 16)[:, 0], user)


def test_deepfm_is_fm_plus_deep(context, make_inputs, by_hand):
    model = DeepFMPredictor(options=DeepFMConfig(hidden_units=[8]), context=context)
    user, candidates, fields = make_inputs(context)
    x = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)  # shared by both parts
    fm = by_hand.linear(model.linear, user, candidates, fields) + explicit_pairs(x).view(3, 4)
    deep = by_hand.mlp(model.deep, x.reshape(12, -1)).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), fm + deep, atol=1e-5)


def test_widedeep_is_linear_plus_deep(context, make_inputs, by_hand):
    model = WideDeepPredictor(options=WideDeepConfig(hidden_units=[8]), context=context)
    with torch.no_grad():
        for table in [*model.wide.item_weights.values(), *model.wide.user_weights.values()]:
            table.weight.normal_()
    user, candidates, fields = make_inputs(context)
    deep = by_hand.mlp(model.deep, by_hand.embed(model.embedding, user, candidates, fields).reshape(12, -1)).view(3, 4)
    wide = by_hand.linear(model.wide, user, candidates, fields)
    assert torch.allclose(model(user, candidates, fields), wide + deep, atol=1e-5)


def test_pnn_inner_and_outer_products():
    x = torch.randn(2, 4, 3)
    inner = torch.stack(
        [torch.stack([torch.dot(r[i], r[j]) for i, j in itertools.combinations(range(4), 2)]) for r in x]
    )
    assert torch.allclose(inner_products(x), inner, atol=1e-6)
    outer = torch.stack([sum(torch.outer(r[i], r[j]) for i in range(4) for j in range(4)).flatten() for r in x])
    assert torch.allclose(outer_product(x), outer, atol=1e-5)


def test_pnn_feeds_linear_and_product_signals_to_the_mlp(context, make_inputs, by_hand):
    user, candidates, fields = make_inputs(context)
    for product, count in (("inner", 6), ("outer", 256)):
        model = PNNPredictor(options=PNNConfig(product=product, hidden_units=[8]), context=context)
        x = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)
        if product == "inner":  # p_ij = <f_i, f_j>, i < j
            p = torch.stack([torch.stack([r[i] @ r[j] for i, j in itertools.combinations(range(4), 2)]) for r in x])
        else:  # p = f_sum f_sum^T
            p = torch.stack([torch.outer(r.sum(0), r.sum(0)).flatten() for r in x])
        signals = torch.cat([x.reshape(12, -1), p], dim=-1)  # [z; p]
        assert signals.shape == (12, 64 + count)
        assert torch.allclose(model(user, candidates, fields), by_hand.mlp(model.deep, signals).view(3, 4), atol=1e-4)


def test_autoint_attention_and_residual():
    layer = InteractingLayer(4, num_heads=2, head_dim=3)
    x = torch.randn(2, 5, 4)
    Q, K, V, R = (lin.weight for lin in (layer.query, layer.key, layer.value, layer.residual))
    out = torch.empty(2, 5, 6)
    for n, h in itertools.product(range(2), range(2)):
        heads = slice(3 * h, 3 * h + 3)
        q, k, v = x[n] @ Q[heads].T, x[n] @ K[heads].T, x[n] @ V[heads].T  # (F, d')
        alpha = torch.softmax(q @ k.T, dim=-1)  # (F, F): <W_Q e_m, W_K e_k>, no scaling
        assert torch.allclose(layer.attention(x)[n, h], alpha, atol=1e-6)
        out[n, :, heads] = alpha @ v
    expected = torch.relu(out + x @ R.T)
    assert torch.allclose(layer(x), expected, atol=1e-5)


@pytest.mark.parametrize("plus", [False, True])
def test_autoint_output_is_linear_on_the_last_layer(context, make_inputs, by_hand, plus):
    options = AutoIntConfig(num_attention_layers=2, head_dim=4, hidden_units=[8] if plus else [])
    model = AutoIntPredictor(options=options, context=context)
    user, candidates, fields = make_inputs(context)
    x = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)
    h = x
    for layer in model.layers:
        h = interacting_by_hand(layer, h)
    expected = h.reshape(12, -1) @ model.output.weight[0] + model.output.bias  # Eq. 9
    if plus:  # AutoInt+: the DNN's logit is added
        expected = expected + by_hand.mlp(model.deep, x.reshape(12, -1))[:, 0]
    assert torch.allclose(model(user, candidates, fields), expected.view(3, 4), atol=1e-5)


def test_fibinet_senet_weights():
    se = SENet(num_fields=4, reduction_ratio=2)
    x = torch.randn(3, 4, 5)
    W1, W2 = se.squeeze_to.weight, se.excite.weight  # (2, 4), (4, 2)
    for n in range(3):
        z = torch.stack([x[n, i].mean() for i in range(4)])
        a = torch.relu(W2 @ torch.relu(W1 @ z))
        assert torch.allclose(se.weights(x)[n], a, atol=1e-6)
        assert torch.allclose(se(x)[n], a.unsqueeze(-1) * x[n], atol=1e-6)


def test_fibinet_bilinear_types():
    x = torch.randn(2, 3, 4)
    pairs = list(itertools.combinations(range(3), 2))
    for kind in ("field_all", "field_each", "field_interaction"):
        layer = Bilinear(3, 4, kind)
        for p, (i, j) in enumerate(pairs):
            W = layer.weight[{"field_all": 0, "field_each": i, "field_interaction": p}[kind]]
            assert torch.allclose(layer(x)[:, p], (x[:, i] @ W) * x[:, j], atol=1e-6), (kind, i, j)


def test_fibinet_combines_both_bilinear_outputs(context, make_inputs, by_hand):
    model = FiBiNETPredictor(options=FiBiNETConfig(hidden_units=[8], reduction_ratio=2), context=context)
    user, candidates, fields = make_inputs(context)
    x = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)
    p = bilinear_by_hand(model.bilinear, x)  # bilinear interactions of E
    q = bilinear_by_hand(model.senet_bilinear, senet_by_hand(model.senet, x))  # ... and of V = SENET(E)
    deep = by_hand.mlp(model.deep, torch.cat([p, q], dim=1).reshape(12, -1)).view(3, 4)
    expected = by_hand.linear(model.linear, user, candidates, fields) + deep  # Eq. 9 with the linear part
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-5)


def test_finalmlp_multi_head_bilinear_fusion():
    fusion = BilinearFusion(4, 6, num_heads=2)
    o1, o2 = torch.randn(3, 4), torch.randn(3, 6)
    for n in range(3):
        expected = fusion.w1.bias[0] + fusion.w1.weight[0] @ o1[n] + fusion.w2.weight[0] @ o2[n]
        for h in range(2):
            expected = expected + o1[n, 2 * h : 2 * h + 2] @ fusion.w3[h] @ o2[n, 3 * h : 3 * h + 3]
        assert torch.allclose(fusion(o1, o2)[n], expected, atol=1e-5)


def test_finalmlp_feature_selection_gate():
    x = torch.randn(3, 4, 2)
    conditioned = FeatureSelection(4, 2, context_fields=[0, 2], hidden_units=[5])
    gate = 2 * torch.sigmoid(conditioned.gate(torch.cat([x[:, 0], x[:, 2]], dim=-1)))  # (N, F*E) in (0, 2)
    assert ((gate > 0) & (gate < 2)).all()
    assert torch.allclose(conditioned(x), gate * x.reshape(3, -1), atol=1e-6)
    unconditioned = FeatureSelection(4, 2, context_fields=[], hidden_units=[5])
    gate = 2 * torch.sigmoid(unconditioned.gate(unconditioned.bias.unsqueeze(0)))  # a learned vector: one gate for all
    assert torch.allclose(unconditioned(x), gate * x.reshape(3, -1), atol=1e-6)


def test_finalmlp_streams(context, make_inputs, by_hand):
    options = FinalMLPConfig(
        mlp1_hidden_units=[6],
        mlp2_hidden_units=[4],
        fs1_context=["user"],
        fs2_context=["item", "item.category"],
        num_heads=2,
    )
    model = FinalMLPPredictor(options=options, context=context)
    assert model.selection1.context_fields == [0] and model.selection2.context_fields == [1, 2]
    user, candidates, fields = make_inputs(context)
    x = by_hand.embed(model.embedding, user, candidates, fields).reshape(12, 4, 16)
    o1 = by_hand.mlp(model.mlp1, selection_by_hand(model.selection1, x, by_hand))  # stream 1: gated by the user
    o2 = by_hand.mlp(model.mlp2, selection_by_hand(model.selection2, x, by_hand))  # stream 2: by item and category
    expected = fusion_by_hand(model.fusion, o1, o2).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-5)


def test_masknet_instance_guided_mask():
    block = MaskBlock(6, 4, 3, reduction_ratio=2.0)
    v_emb, v_hid = torch.randn(2, 6), torch.randn(2, 4)
    agg, proj = block.mask[0], block.mask[2]
    assert agg.out_features == 8
    for n in range(2):
        mask = proj.weight @ torch.relu(agg.weight @ v_emb[n] + agg.bias) + proj.bias  # (hidden,)
        assert torch.allclose(block.mask(v_emb)[n], mask, atol=1e-6)
        hidden = block.hidden.weight @ (mask * v_hid[n])
        normed = (hidden - hidden.mean()) / torch.sqrt(hidden.var(unbiased=False) + block.norm.eps)
        assert torch.allclose(
            block(v_emb, v_hid)[n], torch.relu(normed * block.norm.weight + block.norm.bias), atol=1e-5
        )


def test_masknet_modes(context, make_inputs, by_hand):
    user, candidates, fields = make_inputs(context)
    serial = MaskNetPredictor(options=MaskNetConfig(mode="serial", num_blocks=2, block_dim=5), context=context)
    with torch.no_grad():
        serial.embedding_norm.weight.normal_()
        serial.embedding_norm.bias.normal_()
    x = by_hand.embed(serial.embedding, user, candidates, fields)  # (3, 4, F, E)
    norm = serial.embedding_norm
    v_emb = x.reshape(12, -1)
    v_hid = layer_norm_by_hand(x, norm.weight, norm.bias, norm.eps).reshape(12, -1)  # LN-EMB, per field
    out = mask_block_by_hand(serial.blocks[1], v_emb, mask_block_by_hand(serial.blocks[0], v_emb, v_hid))
    expected = (out @ serial.output.weight[0] + serial.output.bias).view(3, 4)  # each mask from V_emb, input chained
    assert torch.allclose(serial(user, candidates, fields), expected, atol=1e-5)
    parallel = MaskNetPredictor(
        options=MaskNetConfig(mode="parallel", num_blocks=2, block_dim=5, hidden_units=[4]), context=context
    )
    x = by_hand.embed(parallel.embedding, user, candidates, fields)
    norm = parallel.embedding_norm
    v_emb, v_hid = x.reshape(12, -1), layer_norm_by_hand(x, norm.weight, norm.bias, norm.eps).reshape(12, -1)
    out = torch.cat([mask_block_by_hand(block, v_emb, v_hid) for block in parallel.blocks], dim=-1)
    assert torch.allclose(parallel(user, candidates, fields), by_hand.mlp(parallel.output, out).view(3, 4), atol=1e-5)


def test_masknet_layer_norm_per_field():
    norm = FieldLayerNorm(3, 4)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 3, 4)
    for n, f in itertools.product(range(2), range(3)):
        e = x[n, f]
        expected = (e - e.mean()) / torch.sqrt(e.var(unbiased=False) + 1e-5) * norm.weight[f] + norm.bias[f]
        assert torch.allclose(norm(x)[n, f], expected, atol=1e-5)
