"""The shared layers: field embedding, first-order term, MLP, Dice."""

from __future__ import annotations

import pytest
import torch

from lego_core.model.context import Attribute
from lego_core.model.inputs import FieldInputs
from lego_core.testing import make_context
from lego_ctr.dice import Dice
from lego_ctr.fields import FieldEmbedding, pair_indices
from lego_ctr.linear import FieldLinear
from lego_ctr.mlp import MLP


def test_fields_stack_vectors_and_categories(context, make_inputs):
    user, candidates, fields = make_inputs(context, b=2, k=3)
    embed = FieldEmbedding(context)
    x = embed(user, candidates, fields)
    assert x.shape == (2, 3, 4, 16)
    assert embed.names == ["user", "item", "item.category", "user.age"]
    assert torch.equal(x[:, :, 0], user.unsqueeze(1).expand(2, 3, 16))  # unprojected, broadcast over K
    assert torch.equal(x[:, :, 1], candidates)
    assert torch.equal(x[:, :, 2], embed.item_tables["category"].weight[fields.item["category"]])
    age = embed.user_tables["age"].weight[fields.user["age"]]  # (B, E)
    assert torch.equal(x[:, :, 3], age.unsqueeze(1).expand(2, 3, 16))


def test_fields_project_vectors_to_field_dim(context, make_inputs):
    user, candidates, fields = make_inputs(context, b=2, k=3)
    embed = FieldEmbedding(context, field_dim=5)
    x = embed(user, candidates, fields)
    assert x.shape == (2, 3, 4, 5)
    assert torch.allclose(x[:, :, 1], embed.item_projection(candidates))
    # a per-candidate user vector (DIN's interest) is projected, not broadcast
    per_candidate = torch.randn(2, 3, 16)
    assert torch.allclose(embed(per_candidate, candidates, fields)[:, :, 0], embed.user_projection(per_candidate))


def test_fields_without_attributes_are_two():
    context = make_context(item_fields={}, user_fields={})
    x = FieldEmbedding(context)(torch.randn(2, 16), torch.randn(2, 3, 16), FieldInputs())
    assert x.shape == (2, 3, 2, 16)


def test_missing_field_is_a_clear_error(context):
    embed = FieldEmbedding(context)
    with pytest.raises(ValueError, match=r"item field 'category' \(model.item_fields\).*holds \[\]"):
        embed(torch.randn(2, 16), torch.randn(2, 3, 16), FieldInputs(user={"age": torch.zeros(2, dtype=torch.long)}))


def test_pair_indices_cover_each_pair_once():
    rows, cols = pair_indices(4)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_first_order_term(context, make_inputs):
    user, candidates, fields = make_inputs(context, b=2, k=3)
    linear = FieldLinear(context)
    with torch.no_grad():
        for table in [*linear.item_weights.values(), *linear.user_weights.values()]:
            table.weight.normal_()
        linear.bias.fill_(0.5)
    expected = torch.empty(2, 3)
    for b in range(2):
        for k in range(3):
            expected[b, k] = (
                0.5
                + user[b] @ linear.user.weight[0]
                + candidates[b, k] @ linear.item.weight[0]
                + linear.item_weights["category"].weight[fields.item["category"][b, k], 0]
                + linear.user_weights["age"].weight[fields.user["age"][b], 0]
            )
    assert torch.allclose(linear(user, candidates, fields), expected, atol=1e-6)


def test_mlp_layers():
    mlp = MLP(6, [5, 4], activation="tanh", output_dim=1)
    x = torch.randn(3, 6)
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    expected = linears[2](torch.tanh(linears[1](torch.tanh(linears[0](x)))))
    assert torch.allclose(mlp(x), expected)
    assert MLP(6, []).output_dim == 6 and torch.equal(MLP(6, [])(x), x)


def test_dice_uses_batch_statistics_in_training_and_running_ones_in_eval():
    dice = Dice(2)
    with torch.no_grad():
        dice.alpha.fill_(0.25)
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0], [-1.0, 4.0]])
    p = torch.sigmoid((x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-8))
    assert torch.allclose(dice(x), p * x + (1 - p) * 0.25 * x)
    assert torch.allclose(dice.running_mean, 0.1 * x.mean(0))
    dice.eval()
    p = torch.sigmoid((x - dice.running_mean) / torch.sqrt(dice.running_var + 1e-8))
    assert torch.allclose(dice(x), p * x + (1 - p) * 0.25 * x)
    dice.train()
    assert dice(torch.ones(1, 2)).isfinite().all()  # one row: zero variance, no NaN
    assert dice(torch.empty(0, 2)).shape == (0, 2)


# ------------------------------------------------------------------ multi-valued fields (genres, tags)
TAGS = Attribute(name="tags", kind="tokens", vocab_size=7, max_length=3, vocabulary="tags")
LANGS = Attribute(name="langs", kind="tokens", vocab_size=5, max_length=2, vocabulary="langs")
MULTI = make_context(
    item_fields={"category": make_context().item_attributes["category"], "tags": TAGS}, user_fields={"langs": LANGS}
)
TAG_IDS = torch.tensor([[[2, 5, 0], [0, 0, 0], [6, 1, 1]], [[3, 0, 0], [4, 2, 6], [5, 0, 0]]])  # (B, K, L), 0 pads
LANG_IDS = torch.tensor([[1, 4], [0, 0]])  # (B, L): the second user has none


def multi_fields() -> FieldInputs:
    return FieldInputs(
        item={"category": torch.tensor([[1, 2, 3], [0, 4, 5]]), "tags": TAG_IDS}, user={"langs": LANG_IDS}
    )


def test_a_multi_valued_field_is_the_mean_of_its_values_embeddings():
    embed = FieldEmbedding(MULTI)
    user, candidates = torch.randn(2, 16), torch.randn(2, 3, 16)
    x = embed(user, candidates, multi_fields())
    assert embed.names == ["user", "item", "item.category", "item.tags", "user.langs"] and x.shape == (2, 3, 5, 16)
    tags, langs = embed.item_tables["tags"].weight, embed.user_tables["langs"].weight
    for b in range(2):
        ids = [i for i in LANG_IDS[b].tolist() if i]
        want_lang = sum(langs[i] for i in ids) / len(ids) if ids else torch.zeros(16)
        for k in range(3):
            ids = [i for i in TAG_IDS[b, k].tolist() if i]  # repeated values count as often as they appear
            want = sum(tags[i] for i in ids) / len(ids) if ids else torch.zeros(16)
            assert torch.allclose(x[b, k, 3], want, atol=1e-6)
            assert torch.allclose(x[b, k, 4], want_lang, atol=1e-6)  # a user field: the same for every candidate
    assert torch.equal(x[0, 1, 3], torch.zeros(16))  # no value at all: a zero vector


def test_padding_width_does_not_change_a_multi_valued_field():
    embed = FieldEmbedding(MULTI)
    user, candidates = torch.randn(2, 16), torch.randn(2, 3, 16)
    wider = FieldInputs(
        item={
            "category": multi_fields().item["category"],
            "tags": torch.cat([TAG_IDS, torch.zeros(2, 3, 4, dtype=torch.long)], dim=-1),
        },
        user={"langs": torch.cat([LANG_IDS, torch.zeros(2, 1, dtype=torch.long)], dim=-1)},
    )
    assert torch.allclose(embed(user, candidates, multi_fields()), embed(user, candidates, wider), atol=1e-6)


def test_first_order_term_adds_every_value_weight():
    linear = FieldLinear(MULTI)
    with torch.no_grad():
        for table in [*linear.item_weights.values(), *linear.user_weights.values()]:
            table.weight.normal_()
    user, candidates, fields = torch.randn(2, 16), torch.randn(2, 3, 16), multi_fields()
    w_tags, w_langs = linear.item_weights["tags"].weight[:, 0], linear.user_weights["langs"].weight[:, 0]
    w_cat = linear.item_weights["category"].weight[:, 0]
    expected = torch.empty(2, 3)
    for b in range(2):
        for k in range(3):  # a logistic regression over the multi-hot values: their weights add up
            expected[b, k] = (
                user[b] @ linear.user.weight[0]
                + candidates[b, k] @ linear.item.weight[0]
                + w_cat[fields.item["category"][b, k]]
                + sum(w_tags[i] for i in TAG_IDS[b, k].tolist() if i)
                + sum(w_langs[i] for i in LANG_IDS[b].tolist() if i)
            )
    assert torch.allclose(linear(user, candidates, fields), expected, atol=1e-6)


def test_field_ids_of_the_wrong_rank_are_a_clear_error():
    embed = FieldEmbedding(MULTI)
    flat = FieldInputs(
        item={"category": torch.zeros(2, 3, dtype=torch.long), "tags": torch.zeros(2, 3, dtype=torch.long)},
        user={"langs": LANG_IDS},
    )
    with pytest.raises(ValueError, match=r"item field 'tags' is multi-valued.*need 3 dimensions, but they have 2"):
        embed(torch.randn(2, 16), torch.randn(2, 3, 16), flat)
