"""Product, attention and gating predictors against their defining formulas on tiny inputs."""

from __future__ import annotations

import itertools

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


def test_fm_pairwise_term_is_the_sum_over_pairs():
    x = torch.randn(5, 4, 3)
    assert torch.allclose(pairwise_interaction(x), explicit_pairs(x), atol=1e-5)


def test_fm_predictor_is_first_order_plus_pairs(context, make_inputs):
    model = FMPredictor(context=context)
    user, candidates, fields = make_inputs(context)
    x = model.embedding(user, candidates, fields).reshape(12, 4, 16)
    expected = model.linear(user, candidates, fields) + explicit_pairs(x).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-5)
    # the user and candidate vectors enter unprojected: <u, c> is one of the pairs
    assert torch.allclose(x[:, 0].view(3, 4, 16)[:, 0], user)


def test_deepfm_is_fm_plus_deep(context, make_inputs):
    model = DeepFMPredictor(options=DeepFMConfig(hidden_units=[8]), context=context)
    user, candidates, fields = make_inputs(context)
    x = model.embedding(user, candidates, fields).reshape(12, 4, 16)
    fm = model.linear(user, candidates, fields) + explicit_pairs(x).view(3, 4)
    deep = model.deep(x.reshape(12, -1)).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), fm + deep, atol=1e-5)


def test_widedeep_is_linear_plus_deep(context, make_inputs):
    model = WideDeepPredictor(options=WideDeepConfig(hidden_units=[8]), context=context)
    user, candidates, fields = make_inputs(context)
    deep = model.deep(model.embedding(user, candidates, fields).reshape(12, -1)).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), model.wide(user, candidates, fields) + deep, atol=1e-6)


def test_pnn_inner_and_outer_products():
    x = torch.randn(2, 4, 3)
    inner = torch.stack([torch.stack([torch.dot(r[i], r[j]) for i, j in itertools.combinations(range(4), 2)]) for r in x])
    assert torch.allclose(inner_products(x), inner, atol=1e-6)
    outer = torch.stack([sum(torch.outer(r[i], r[j]) for i in range(4) for j in range(4)).flatten() for r in x])
    assert torch.allclose(outer_product(x), outer, atol=1e-5)


def test_pnn_feeds_linear_and_product_signals_to_the_mlp(context, make_inputs):
    user, candidates, fields = make_inputs(context)
    for product, count in (("inner", 6), ("outer", 256)):
        model = PNNPredictor(options=PNNConfig(product=product, hidden_units=[8]), context=context)
        x = model.embedding(user, candidates, fields).reshape(12, 4, 16)
        signals = torch.cat([x.reshape(12, -1), inner_products(x) if product == "inner" else outer_product(x)], dim=-1)
        assert signals.shape == (12, 64 + count)
        assert torch.allclose(model(user, candidates, fields), model.deep(signals).view(3, 4), atol=1e-6)


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


def test_autoint_output_is_linear_on_the_last_layer(context, make_inputs):
    model = AutoIntPredictor(options=AutoIntConfig(num_attention_layers=2, head_dim=4), context=context)
    user, candidates, fields = make_inputs(context)
    h = model.embedding(user, candidates, fields).reshape(12, 4, 16)
    for layer in model.layers:
        h = layer(h)
    assert torch.allclose(model(user, candidates, fields), model.output(h.reshape(12, -1)).view(3, 4), atol=1e-6)


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


def test_fibinet_combines_both_bilinear_outputs(context, make_inputs):
    model = FiBiNETPredictor(options=FiBiNETConfig(hidden_units=[8]), context=context)
    user, candidates, fields = make_inputs(context)
    x = model.embedding(user, candidates, fields).reshape(12, 4, 16)
    pq = torch.cat([model.bilinear(x), model.senet_bilinear(model.senet(x))], dim=1).reshape(12, -1)
    expected = model.linear(user, candidates, fields) + model.deep(pq).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-6)


def test_finalmlp_multi_head_bilinear_fusion():
    fusion = BilinearFusion(4, 6, num_heads=2)
    o1, o2 = torch.randn(3, 4), torch.randn(3, 6)
    for n in range(3):
        expected = fusion.w1.bias[0] + fusion.w1.weight[0] @ o1[n] + fusion.w2.weight[0] @ o2[n]
        for h in range(2):
            expected = expected + o1[n, 2 * h: 2 * h + 2] @ fusion.w3[h] @ o2[n, 3 * h: 3 * h + 3]
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


def test_finalmlp_streams(context, make_inputs):
    options = FinalMLPConfig(mlp1_hidden_units=[6], mlp2_hidden_units=[4], fs1_context=["user"],
                             fs2_context=["item", "item.category"], num_heads=2)
    model = FinalMLPPredictor(options=options, context=context)
    assert model.selection1.context_fields == [0] and model.selection2.context_fields == [1, 2]
    user, candidates, fields = make_inputs(context)
    x = model.embedding(user, candidates, fields).reshape(12, 4, 16)
    expected = model.fusion(model.mlp1(model.selection1(x)), model.mlp2(model.selection2(x))).view(3, 4)
    assert torch.allclose(model(user, candidates, fields), expected, atol=1e-6)


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
        assert torch.allclose(block(v_emb, v_hid)[n], torch.relu(normed * block.norm.weight + block.norm.bias), atol=1e-5)


def test_masknet_modes(context, make_inputs):
    user, candidates, fields = make_inputs(context)
    serial = MaskNetPredictor(options=MaskNetConfig(mode="serial", num_blocks=2, block_dim=5), context=context)
    x = serial.embedding(user, candidates, fields)
    v_emb, v_hid = x.reshape(12, -1), serial.embedding_norm(x).reshape(12, -1)
    out = serial.blocks[1](v_emb, serial.blocks[0](v_emb, v_hid))  # each mask from V_emb, input chained
    assert torch.allclose(serial(user, candidates, fields), serial.output(out).view(3, 4), atol=1e-6)
    parallel = MaskNetPredictor(options=MaskNetConfig(mode="parallel", num_blocks=2, block_dim=5, hidden_units=[4]),
                                context=context)
    x = parallel.embedding(user, candidates, fields)
    v_emb, v_hid = x.reshape(12, -1), parallel.embedding_norm(x).reshape(12, -1)
    out = torch.cat([block(v_emb, v_hid) for block in parallel.blocks], dim=-1)
    assert torch.allclose(parallel(user, candidates, fields), parallel.output(out).view(3, 4), atol=1e-6)


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
