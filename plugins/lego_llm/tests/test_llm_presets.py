"""The presets: they parse, their brick options fit the bricks, and they resolve with the other plugins."""

from __future__ import annotations

from typing import Any

import pytest

from lego_core.config.converter import structure
from lego_core.config.preset import PRESET, Preset
from lego_core.registry import Registries
from lego_llm.flatten import FlattenConfig
from lego_llm.iisan import IISANConfig
from lego_llm.llmrec import LLMRecConfig
from lego_llm.lm_operator import LMConfig
from lego_llm.plugin import PRESETS
from lego_llm.vision import VisionConfig

EXPECTED = {
    "plm-nr",
    "once",
    "dire",
    "iisan",
    "iisan-llama",
    "bert-dcn",
    "flatten",
    "llmrec-zeroshot",
    "llmrec-lora",
    "vit-nrms",
    "clip-fusion",
} | {f"{lm}-{m}" for lm in ("bert", "llama") for m in ("naml", "nrms", "lstur", "miner")}
OPTIONS = {
    ("content", "lm"): LMConfig,
    ("content", "iisan"): IISANConfig,
    ("content", "vision"): VisionConfig,
    ("behavior", "flatten"): FlattenConfig,
    ("predictor", "llmrec"): LLMRecConfig,
}


def _presets() -> dict[str, Preset]:
    return {p.name: p for p in (Preset.from_toml(f) for f in sorted(PRESETS.glob("*.toml")))}


def _llm_tables(preset: Preset) -> list[tuple[str, type, dict[str, Any]]]:
    """(kind, options class, options table) of the preset's lego-llm bricks."""
    model = preset.tables["model"]
    return [
        (kind, OPTIONS[kind, model[kind]], model.get(f"{kind}_options", {}))
        for kind in ("content", "behavior", "predictor")
        if (kind, model.get(kind)) in OPTIONS
    ]


def test_presets_parse_and_are_complete() -> None:
    presets = _presets()
    assert set(presets) == EXPECTED
    for name, preset in presets.items():
        assert preset.description and preset.paper, name
        assert _llm_tables(preset), name


def test_brick_options_fit_the_bricks() -> None:
    for name, preset in _presets().items():
        for kind, options_cls, table in _llm_tables(preset):
            where = f"$.model.{kind}_options"
            options, problems = structure(table, options_cls, where)
            if table.get("model") == "":  # the user must name a checkpoint
                assert problems and "model is empty" in problems[0], name
                options, problems = structure({**table, "model": "/models/some"}, options_cls, where)
            assert not problems and options is not None, (name, problems)
            if options_cls in (LMConfig, IISANConfig):
                assert options.family in ("bert", "llama"), name


def test_presets_resolve_with_the_other_plugins(tmp_path) -> None:
    pytest.importorskip("lego_text")
    pytest.importorskip("lego_ctr")
    from lego_core.config.resolve import resolve
    from lego_core.plugin.host import PluginHost

    registries = Registries(PluginHost())
    for name, preset in _presets().items():
        assert name in registries[PRESET]
        experiment: dict[str, Any] = {
            "data": {"path": str(tmp_path), "item_attributes": ["title"]},
            "model": {"preset": name},
        }
        for kind, _, table in _llm_tables(preset):
            if table.get("model") == "":
                experiment["model"][f"{kind}_options"] = {"model": "/models/some"}
        resolved = resolve(experiment, registries, source=f"preset {name}")
        for kind in ("content", "behavior", "predictor"):
            assert resolved.bricks[kind].cls.name == preset.tables["model"][kind], (name, kind)
