"""The TOML writer, and the resolved config's round trip through it."""

import math

import attrs
import pytest

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core.config.resolve import resolve
from lego_core.config.toml_writer import dumps
from lego_core.config.tomlio import loads_toml
from lego_core.model.bricks import ContentOperator
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries


def test_scalars_first_then_one_table_per_mapping():
    text = dumps({"top": 1, "model": {"hidden_size": 64, "content_options": {"num_heads": 8}}, "train": {"lr": 0.001}})
    assert text == (
        "top = 1\n\n[model]\nhidden_size = 64\n\n[model.content_options]\nnum_heads = 8\n\n[train]\nlr = 0.001\n"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-7, "-7"),
        (1e-3, "0.001"),
        (3e-05, "3e-05"),
        (1.0, "1.0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e300, "1e+300"),
        (-0.0, "-0.0"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
        ('a"b\\c\nd\te', '"a\\"b\\\\c\\nd\\te"'),
        ("é😀", '"é😀"'),
        ("\x7f", '"\\u007f"'),
        ([], "[]"),
        ([1, [2, "x"]], '[1, [2, "x"]]'),
        ((1, 2), "[1, 2]"),
        ([{"a": 1, "b": None}], "[{a = 1}]"),
    ],
)
def test_values(value, written):
    text = dumps({"v": value})
    assert text == f"v = {written}\n"
    back = loads_toml(text)["v"]
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(back)
    elif isinstance(value, tuple):
        assert back == list(value)
    elif value == [{"a": 1, "b": None}]:
        assert back == [{"a": 1}]
    else:
        assert back == value and type(back) is type(value)
        if isinstance(value, float):
            assert math.copysign(1.0, back) == math.copysign(1.0, value)


def test_keys_that_are_not_bare_are_quoted():
    data = {"t": {"a.b": 1, "sp ace": {"x": 2}, "": 3, "ok-key_1": 4}}
    assert loads_toml(dumps(data)) == data
    assert '"a.b" = 1' in dumps(data) and '[t."sp ace"]' in dumps(data)


def test_none_is_left_out_and_empty_tables_are_kept():
    data = {"model": {"preset": None, "content_options": {}, "x": 1}, "empty": {}, "deep": {"inner": {}}}
    text = dumps(data)
    assert "preset" not in text
    assert loads_toml(text) == {"model": {"content_options": {}, "x": 1}, "empty": {}, "deep": {"inner": {}}}


def test_unwritable_values_are_refused():
    with pytest.raises(TypeError, match="cannot write object"):
        dumps({"v": object()})


# ------------------------------------------------------------------ resolved config round trip


@attrs.define(kw_only=True, frozen=True)
class NestedConfig:
    layers: list[int] = attrs.field(factory=lambda: [64, 32])
    weights: dict[str, float] = attrs.field(factory=dict)
    name: str | None = None


class NestedOperator(ContentOperator):
    name = "nested"
    Options = NestedConfig


class NestedPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [NestedOperator]


@pytest.fixture(scope="module")
def registries():
    host = PluginHost(entry_points=False)
    host.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
    host.add("nested", NestedPlugin())
    return Registries(host)


EXPERIMENTS = {
    "defaults": {"data": {"path": "/d"}},
    "everything": {
        "data": {
            "path": "/data/mind small",
            "item_attributes": ["title", "abstract"],
            "group_by": "user",
            "max_lengths": {"abstract": 64},
            "user_attributes": ["age"],
        },
        "model": {
            "content": "nested",
            "hidden_size": 128,
            "neg_count": 0,
            "item_fields": ["category"],
            "content_options": {"layers": [8, 4, 2], "weights": {"title": 0.25, "abstract": 1e-07}},
        },
        "train": {
            "lr": 3e-05,
            "content_lr": 1e-06,
            "weight_decay": 0.01,
            "grad_clip": 1.0,
            "epochs": 0,
            "metrics": ["core:auc", "ndcg@10", "hit@5"],
            "monitor": "core:auc",
            "eval_splits": ["test"],
            "device": "cpu",
            "amp": False,
            "seed": 0,
        },
    },
}


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_resolved_config_round_trips_through_toml(registries, name):
    resolved = resolve(EXPERIMENTS[name], registries)
    text = resolved.to_toml()
    again = resolve(loads_toml(text), registries)
    assert again.config == resolved.config
    assert again.bricks == resolved.bricks
    assert again.to_toml() == text
    assert "None" not in text and "null" not in text


def test_round_trip_text_of_a_full_config(registries):
    text = resolve(EXPERIMENTS["everything"], registries).to_toml()
    assert "content_lr = 1e-06" in text and "lr = 3e-05" in text
    assert 'metrics = ["core:auc", "ndcg@10", "hit@5"]' in text and 'monitor = "auc"' in text
    assert "[model.content_options]\nlayers = [8, 4, 2]\n" in text
    assert "[model.content_options.weights]\ntitle = 0.25\nabstract = 1e-07\n" in text
    assert "preset" not in text  # None fields are omitted
