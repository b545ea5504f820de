"""The presets: they parse, their content options fit the operators, and they resolve with the other plugins."""

from __future__ import annotations

import pytest

from lego_core.config.converter import structure
from lego_core.config.preset import PRESET, Preset
from lego_core.registry import Registries
from lego_llm.iisan import IISANConfig
from lego_llm.lm_operator import LMConfig
from lego_llm.plugin import PRESETS

EXPECTED = {"plm-nr", "once", "dire", "iisan", "iisan-llama", "bert-dcn"} | {
    f"{lm}-{m}" for lm in ("bert", "llama") for m in ("naml", "nrms", "lstur", "miner")}


def _presets() -> dict[str, Preset]:
    return {p.name: p for p in (Preset.from_toml(f) for f in sorted(PRESETS.glob("*.toml")))}


def _needs_model(preset: Preset) -> bool:
    return preset.tables["model"].get("content_options", {}).get("model") == ""


def test_presets_parse_and_are_complete() -> None:
    presets = _presets()
    assert set(presets) == EXPECTED
    for name, preset in presets.items():
        assert preset.description and preset.paper, name
        assert preset.tables["model"]["content"] in ("lm", "iisan"), name


def test_content_options_fit_the_operator() -> None:
    for name, preset in _presets().items():
        model = preset.tables["model"]
        options_cls = LMConfig if model["content"] == "lm" else IISANConfig
        options, problems = structure(model["content_options"], options_cls, "$.model.content_options")
        if _needs_model(preset):  # LLaMA presets: the user must name a checkpoint
            assert problems and "set model.content_options.model" in problems[0], name
            options, problems = structure({**model["content_options"], "model": "/models/llama"}, options_cls, "$")
        assert not problems and options is not None, (name, problems)
        assert options.family in ("bert", "llama"), name


def test_presets_resolve_with_the_other_plugins(tmp_path) -> None:
    pytest.importorskip("lego_text")
    pytest.importorskip("lego_ctr")
    from lego_core.config.resolve import resolve
    from lego_core.plugin.host import PluginHost

    registries = Registries(PluginHost())
    for name, preset in _presets().items():
        assert name in registries[PRESET]
        experiment = {"data": {"path": str(tmp_path), "item_attributes": ["title"]}, "model": {"preset": name}}
        if _needs_model(preset):
            experiment["model"]["content_options"] = {"model": "/models/llama"}
        resolved = resolve(experiment, registries, source=f"preset {name}")
        assert resolved.bricks["content"].cls.name == preset.tables["model"]["content"]
