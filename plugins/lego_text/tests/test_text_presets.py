"""lego-text's presets: they load, are registered, and name bricks and options that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

import lego_text
from lego_core.config.converter import structure_or_raise
from lego_core.config.preset import PRESET, Preset
from lego_core.kinds import kind_named
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries
from lego_core.testing import make_context

PRESETS = ["naml", "naml-id", "nrms", "nrms-id", "lstur", "miner", "fastformer", "bst"]
FOLDER = Path(lego_text.__file__).parent / "presets"


@pytest.fixture(scope="module")
def registries():
    return Registries(PluginHost())


def test_text_presets_files_match_names():
    names = {Preset.from_toml(path).name for path in FOLDER.glob("*.toml")}
    assert names == set(PRESETS)
    assert {path.stem for path in FOLDER.glob("*.toml")} == names


@pytest.mark.parametrize("name", PRESETS)
def test_text_preset_resolves(registries, name):
    entry = registries[PRESET].get(name)
    preset = entry.obj
    assert entry.plugin == "text"
    assert preset.description and "http" in preset.paper
    assert set(preset.tables) <= {"model", "train"}  # never [data]: the experiment picks its columns
    model = preset.tables["model"]
    content = "id" if model.get("use_item_content") is False else model["content"]
    context = make_context(hidden_size=model.get("hidden_size", 64))
    bricks = {}
    for kind, brick in (("content", content), ("behavior", model["behavior"]), ("predictor", model["predictor"])):
        cls = registries[kind_named(kind)].get(brick).obj
        options = structure_or_raise(model.get(f"{kind}_options", {}), cls.Options, f"$.model.{kind}_options", name)
        bricks[kind] = cls(options=options, context=context)  # builds: heads divide hidden_size, ...
    assert bricks["behavior"].output == bricks["predictor"].input
