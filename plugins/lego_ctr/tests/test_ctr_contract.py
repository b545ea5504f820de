"""Every predictor through the core's contract check, over its option variants, with and without fields."""

from __future__ import annotations

import pytest
import torch

from lego_core.config.converter import CONVERTER, structure
from lego_core.errors import ConfigError
from lego_core.model.context import Attribute
from lego_core.model.inputs import FieldInputs
from lego_core.testing import check_predictor, make_context, random_fields
from lego_ctr.autoint import AutoIntConfig, AutoIntPredictor
from lego_ctr.dcn import DCNConfig, DCNPredictor
from lego_ctr.dcnv2 import DCNv2Config, DCNv2Predictor
from lego_ctr.deepfm import DeepFMConfig, DeepFMPredictor
from lego_ctr.din import DINConfig, DINPredictor
from lego_ctr.dnn import DNNConfig, DNNPredictor
from lego_ctr.fibinet import FiBiNETConfig, FiBiNETPredictor
from lego_ctr.finalmlp import FinalMLPConfig, FinalMLPPredictor
from lego_ctr.fm import FMConfig, FMPredictor
from lego_ctr.gdcn import GDCNConfig, GDCNPredictor
from lego_ctr.masknet import MaskNetConfig, MaskNetPredictor
from lego_ctr.plugin import lego_register_predictors
from lego_ctr.pnn import PNNConfig, PNNPredictor
from lego_ctr.widedeep import WideDeepConfig, WideDeepPredictor
from lego_ctr.xdeepfm import XDeepFMConfig, XDeepFMPredictor

SMALL = [16, 8]
CASES = {
    "dnn": (DNNPredictor, DNNConfig(hidden_units=SMALL)),
    "dnn-projected-bn-prelu": (
        DNNPredictor,
        DNNConfig(field_dim=8, hidden_units=SMALL, batch_norm=True, activation="prelu", dropout=0.1),
    ),
    "widedeep": (WideDeepPredictor, WideDeepConfig(hidden_units=SMALL)),
    "fm": (FMPredictor, FMConfig()),
    "fm-projected": (FMPredictor, FMConfig(field_dim=8)),
    "deepfm": (DeepFMPredictor, DeepFMConfig(hidden_units=SMALL)),
    "pnn-inner": (PNNPredictor, PNNConfig(product="inner", hidden_units=SMALL)),
    "pnn-outer": (PNNPredictor, PNNConfig(product="outer", hidden_units=SMALL)),
    "dcn": (DCNPredictor, DCNConfig(hidden_units=SMALL)),
    "dcn-cross-only": (DCNPredictor, DCNConfig(hidden_units=[])),
    "dcnv2-stacked": (DCNv2Predictor, DCNv2Config(structure="stacked", hidden_units=SMALL)),
    "dcnv2-parallel": (DCNv2Predictor, DCNv2Config(structure="parallel", hidden_units=SMALL)),
    "dcnv2-low-rank": (DCNv2Predictor, DCNv2Config(low_rank=4, hidden_units=SMALL)),
    "dcnv2-mixture": (DCNv2Predictor, DCNv2Config(structure="stacked", low_rank=4, num_experts=3, hidden_units=SMALL)),
    "gdcn-stacked": (GDCNPredictor, GDCNConfig(structure="stacked", hidden_units=SMALL)),
    "gdcn-parallel": (GDCNPredictor, GDCNConfig(structure="parallel", hidden_units=SMALL)),
    "xdeepfm": (XDeepFMPredictor, XDeepFMConfig(cin_units=[4, 3], hidden_units=SMALL)),
    "xdeepfm-no-dnn": (XDeepFMPredictor, XDeepFMConfig(cin_units=[4], hidden_units=[])),
    "autoint": (AutoIntPredictor, AutoIntConfig(num_attention_layers=2, head_dim=4)),
    "autoint-plus": (AutoIntPredictor, AutoIntConfig(head_dim=4, scale=True, hidden_units=SMALL)),
    "fibinet-all": (FiBiNETPredictor, FiBiNETConfig(bilinear_type="field_all", hidden_units=SMALL)),
    "fibinet-each": (FiBiNETPredictor, FiBiNETConfig(bilinear_type="field_each", hidden_units=SMALL)),
    "fibinet-interaction": (FiBiNETPredictor, FiBiNETConfig(bilinear_type="field_interaction", hidden_units=SMALL)),
    "finalmlp": (
        FinalMLPPredictor,
        FinalMLPConfig(
            mlp1_hidden_units=[8, 8],
            mlp2_hidden_units=[4],
            fs_hidden_units=[8],
            fs1_context=["user"],
            fs2_context=["item"],
            num_heads=2,
        ),
    ),
    "finalmlp-no-selection": (
        FinalMLPPredictor,
        FinalMLPConfig(mlp1_hidden_units=[8], mlp2_hidden_units=[8], use_feature_selection=False),
    ),
    "masknet-serial": (MaskNetPredictor, MaskNetConfig(mode="serial", num_blocks=2, block_dim=8)),
    "masknet-parallel": (
        MaskNetPredictor,
        MaskNetConfig(mode="parallel", num_blocks=2, block_dim=8, hidden_units=SMALL),
    ),
    "din": (DINPredictor, DINConfig(attention_units=[8], hidden_units=SMALL)),
    "din-sigmoid-projected": (
        DINPredictor,
        DINConfig(field_dim=8, attention_units=[8], attention_output="sigmoid", hidden_units=SMALL, activation="relu"),
    ),
    "din-softmax": (DINPredictor, DINConfig(attention_units=[8], attention_output="softmax", hidden_units=SMALL)),
}
CONTEXTS = {
    "fields": {},
    "no-fields": {"item_fields": {}, "user_fields": {}},
    "two-item-fields": {"item_fields": {n: make_context().item_attributes[n] for n in ("category", "subcategory")}},
}


@pytest.mark.parametrize("context_name", ["fields", "no-fields"])
@pytest.mark.parametrize("case", list(CASES))
def test_contract(case, context_name):
    cls, options = CASES[case]
    check_predictor(cls, options, make_context(**CONTEXTS[context_name]))


@pytest.mark.parametrize("cls", lego_register_predictors(), ids=lambda c: c.name)
def test_contract_defaults_with_two_item_fields(cls):
    check_predictor(cls, None, make_context(**CONTEXTS["two-item-fields"]), b=3, k=2)


def test_every_predictor_is_covered_and_declares_itself():
    registered = lego_register_predictors()
    assert {c.name for c, _ in CASES.values()} == {c.name for c in registered}
    for cls in registered:
        assert cls.paper and "http" in cls.paper, cls.name
        assert cls.__doc__ and "Example:" in cls.__doc__, cls.name
        expected = {"ranking"} if cls.name == "din" else {"matching", "ranking"}
        assert cls.tasks == expected, cls.name
        assert cls.input == ("sequence" if cls.name == "din" else "vector"), cls.name


@pytest.mark.parametrize("case", ["deepfm", "dcnv2-mixture", "masknet-parallel", "din", "finalmlp"])
def test_same_seed_same_scores(case, make_inputs):
    cls, options = CASES[case]
    context = make_context()
    user, candidates, fields = make_inputs(context)
    mask = None
    if cls.input == "sequence":
        user = torch.randn(3, context.max_history, context.hidden_size, generator=torch.Generator().manual_seed(5))
        mask = torch.ones(3, context.max_history, dtype=torch.bool)

    def scores(seed):
        torch.manual_seed(seed)
        model = cls(options=options, context=context).eval()
        with torch.no_grad():
            return model(user, candidates, fields, mask)

    assert torch.equal(scores(7), scores(7))
    assert not torch.allclose(scores(7), scores(8))


def test_options_from_toml_tables():
    options, problems = structure(
        {"structure": "stacked", "low_rank": 8, "num_experts": 4, "hidden_units": [64, 32]},
        DCNv2Config,
        "$.model.predictor_options",
    )
    assert not problems and options == DCNv2Config(
        structure="stacked", low_rank=8, num_experts=4, hidden_units=[64, 32]
    )
    assert CONVERTER.structure(CONVERTER.unstructure(options), DCNv2Config) == options


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        (DCNv2Config, {"num_experts": 4}, "needs low_rank"),
        (PNNConfig, {"product": "kernel"}, "product"),
        (MaskNetConfig, {"mode": "both"}, "mode"),
        (DNNConfig, {"hidden_units": [64, 0]}, "hidden_units"),
        (DNNConfig, {"hidden_unit": [64]}, "did you mean 'hidden_units'"),
        (FiBiNETConfig, {"bilinear_type": "all"}, "bilinear_type"),
        (DINConfig, {"attention_output": "tanh"}, "attention_output"),
    ],
)
def test_bad_options_are_refused_with_the_key(cls, data, message):
    options, problems = structure(data, cls, "$.model.predictor_options")
    assert options is None and problems
    assert message in " ".join(problems)


def test_build_time_errors_name_the_problem(context):
    with pytest.raises(ConfigError, match=r"fs1_context.*\['item.genre'\].*'item.category'"):
        FinalMLPPredictor(options=FinalMLPConfig(fs1_context=["item.genre"]), context=context)
    with pytest.raises(ConfigError, match=r"num_heads = 3 .*\(400 and 400\)"):
        FinalMLPPredictor(options=FinalMLPConfig(num_heads=3), context=context)


@pytest.mark.parametrize(
    "case",
    ["deepfm", "pnn-outer", "dcnv2-mixture", "xdeepfm", "autoint", "fibinet-each", "finalmlp", "masknet-serial", "din"],
)
def test_bf16_autocast(case):
    """The engine trains under bf16 autocast on CUDA; the same mixed dtypes on CPU must work."""
    cls, options = CASES[case]
    context = make_context()
    model = cls(options=options, context=context)
    g = torch.Generator().manual_seed(0)
    if cls.input == "sequence":
        user = torch.randn(3, 6, 16, generator=g)
        mask = torch.tensor([[True] * 6, [False] * 4 + [True] * 2, [False] * 6])
    else:
        user, mask = torch.randn(3, 16, generator=g), None
    for train in (True, False):
        model.train(train)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scores = model(user, torch.randn(3, 4, 16, generator=g), random_fields(context, 3, 4), mask)
        assert scores.shape == (3, 4) and torch.isfinite(scores.float()).all()
        if train:
            scores.float().sum().backward()


MULTI_CONTEXT = make_context(
    item_fields={
        "category": make_context().item_attributes["category"],
        "tags": Attribute(name="tags", kind="tokens", vocab_size=7, max_length=3, vocabulary="tags"),
    },
    user_fields={
        "age": make_context().user_attributes["age"],
        "langs": Attribute(name="langs", kind="tokens", vocab_size=5, max_length=2, vocabulary="langs"),
    },
)


@pytest.mark.parametrize("case", list(CASES))
def test_every_predictor_pools_multi_valued_fields(case):
    """Shapes, gradients to the tables of multi-valued fields, candidate independence, padding width."""
    cls, options = CASES[case]
    torch.manual_seed(0)
    model = cls(options=options, context=MULTI_CONTEXT)
    b, k = 3, 4
    g = torch.Generator().manual_seed(1)
    tags = torch.randint(0, 7, (b, k, 3), generator=g)
    tags[0, 0] = 0  # an item without tags
    fields = FieldInputs(
        item={"category": torch.randint(0, 6, (b, k), generator=g), "tags": tags},
        user={"age": torch.randint(0, 5, (b,), generator=g), "langs": torch.randint(0, 5, (b, 2), generator=g)},
    )
    if cls.input == "sequence":
        user, mask = torch.randn(b, 5, 16), torch.ones(b, 5, dtype=torch.bool)
    else:
        user, mask = torch.randn(b, 16), None
    candidates = torch.randn(b, k, 16)
    scores = model(user, candidates, fields, mask)
    assert scores.shape == (b, k) and torch.isfinite(scores).all()
    scores.sum().backward()
    embedding = model.get_submodule("embedding")
    assert embedding.item_tables["tags"].weight.grad.abs().sum() > 0
    assert embedding.user_tables["langs"].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        ref = model(user, candidates, fields, mask)
        one_by_one = torch.cat(
            [
                model(
                    user,
                    candidates[:, j : j + 1],
                    FieldInputs(item={n: v[:, j : j + 1] for n, v in fields.item.items()}, user=fields.user),
                    mask,
                )
                for j in range(k)
            ],
            dim=1,
        )
        assert torch.allclose(one_by_one, ref, atol=1e-5)
        wider = FieldInputs(
            item={**fields.item, "tags": torch.cat([tags, torch.zeros(b, k, 2, dtype=torch.long)], -1)},
            user=fields.user,
        )
        assert torch.allclose(model(user, candidates, wider, mask), ref, atol=1e-5)
