"""The presets: every predictor has an ID, a text and a text-plus-ID variant; they resolve into working experiments."""

from __future__ import annotations

import pytest

from lego_core.config.preset import PRESET
from lego_core.config.resolve import resolve
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries
from lego_ctr.plugin import PRESETS, lego_register_predictors

NAMES = [c.name for c in lego_register_predictors()]
VARIANTS = ("id", "text", "text-id")


@pytest.fixture(scope="module")
def registries():
    return Registries(PluginHost())


def test_preset_files_load_through_the_plugin_host(registries):
    entry = registries[PRESET].get("deepfm-id")
    assert entry.plugin == "ctr" and entry.obj.tables["model"]["predictor"] == "deepfm"
    assert sorted(p.stem for p in PRESETS.glob("*.toml")) == sorted(f"{n}-{v}" for n in NAMES for v in VARIANTS)
    for name in NAMES:
        for variant in VARIANTS:
            preset = registries[PRESET].get(f"{name}-{variant}").obj
            assert preset.name == f"{name}-{variant}" and preset.description and "http" in preset.paper
            assert set(preset.tables) == {"model", "train"}, "presets set [model] and [train] only"
            assert preset.tables["train"] == {"keep_freed_memory": True}  # the allocator keeps what a step frees
            model = preset.tables["model"]
            assert model["predictor"] == name and model["neg_count"] == 0
            assert model["behavior"] == ("sequence" if name == "din" else "mean")
            if variant == "id":
                assert model["use_item_content"] is False
            else:
                assert model["content"] == "pooling" and "lego-text" in preset.requires
            ids = variant in ("id", "text-id")  # the user and item ID as fields, as RecBole's models have them
            assert model.get("item_fields", []) == (["item_id"] if ids else [])
            assert model.get("user_fields", []) == (["user_id"] if ids else [])


@pytest.mark.parametrize("name", [n for n in NAMES if n != "din"])
def test_id_presets_resolve_to_ranking(registries, name):
    resolved = resolve({"data": {"path": "unused"}, "model": {"preset": f"{name}-id"}}, registries)
    assert resolved.config.model.task == "ranking"
    assert [resolved.bricks[k].entry.name for k in ("content", "behavior", "predictor")] == ["id", "mean", name]


def test_text_and_din_presets_resolve_with_lego_text(registries):
    pytest.importorskip("lego_text")
    for name in NAMES:
        for variant in ("text", "text-id"):
            resolved = resolve(
                {"data": {"path": "unused", "item_attributes": ["title"]}, "model": {"preset": f"{name}-{variant}"}},
                registries,
            )
            assert resolved.bricks["content"].entry.qualified == "text:pooling"
            assert resolved.config.model.item_fields == (["item_id"] if variant == "text-id" else [])
    resolved = resolve({"data": {"path": "unused"}, "model": {"preset": "din-id"}}, registries)
    assert resolved.bricks["behavior"].entry.obj.output == "sequence"
