"""Presets: reading recipe files, and merging them under an experiment's own keys."""

import pytest

from lego_core.config.preset import Preset, merge_under
from lego_core.errors import ConfigError

NRMS = """\
[preset]
name = "nrms"
description = "NRMS: multi-head self-attention news and user encoders"
paper = "Wu et al., EMNLP 2019. https://aclanthology.org/D19-1671/"

[model]
content = "attention"
behavior = "attention"

[model.content_options]
num_heads = 16
"""


def test_from_toml_reads_header_and_tables(tmp_path):
    path = tmp_path / "nrms.toml"
    path.write_text(NRMS)
    preset = Preset.from_toml(path)
    assert preset.name == "nrms" and preset.description.startswith("NRMS:")
    assert preset.paper == "Wu et al., EMNLP 2019. https://aclanthology.org/D19-1671/"
    assert preset.tables == {
        "model": {"content": "attention", "behavior": "attention", "content_options": {"num_heads": 16}}
    }


def test_from_toml_description_and_paper_are_optional(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[preset]\nname = "p"\n[train]\nepochs = 1\n')
    assert Preset.from_toml(path) == Preset(name="p", description="", tables={"train": {"epochs": 1}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\ncontent = 'cnn'\n", "a preset file needs a [preset] table with at least `name`"),
        ("[preset]\ndescription = 'x'\n", "a preset file needs a [preset] table with at least `name`"),
        ("preset = 'x'\n", "a preset file needs a [preset] table with at least `name`"),
        (
            "[preset]\nname = 'x'\n[modle]\ncontent = 'cnn'\n",
            "unknown table(s) ['modle']; a preset may set data, model, train",
        ),
        (
            "[preset]\nname = 'x'\nauthor = 'me'\n",
            "unknown key(s) ['author'] in [preset]; allowed: name, description, paper",
        ),
        ("[preset\nname = 'x'\n", "invalid TOML"),
    ],
    ids=["no-header", "no-name", "header-not-a-table", "unknown-table", "unknown-header-key", "invalid-toml"],
)
def test_from_toml_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        Preset.from_toml(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_from_toml_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        Preset.from_toml(tmp_path / "nope.toml")


def test_merge_under_explicit_wins_and_tables_merge():
    base = {
        "model": {"content": "cnn", "hidden_size": 64, "content_options": {"num_filters": 300, "window_size": 3}},
        "train": {"epochs": 5},
    }
    explicit = {"model": {"hidden_size": 128, "content_options": {"window_size": 5}}, "data": {"path": "d"}}
    merged = merge_under(base, explicit)
    assert merged == {
        "model": {"content": "cnn", "hidden_size": 128, "content_options": {"num_filters": 300, "window_size": 5}},
        "train": {"epochs": 5},
        "data": {"path": "d"},
    }
    merged["model"]["content_options"]["num_filters"] = 1  # a deep copy: the inputs are untouched
    assert base["model"]["content_options"]["num_filters"] == 300


def test_merge_under_a_value_replaces_a_table_and_back():
    assert merge_under({"a": {"x": 1}}, {"a": 2}) == {"a": 2}
    assert merge_under({"a": 2}, {"a": {"x": 1}}) == {"a": {"x": 1}}
    assert merge_under({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}  # arrays replace, never concatenate


# ------------------------------------------------------------------ requirements


def test_a_preset_declares_the_distributions_it_needs(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[preset]\nname = "p"\nrequires = ["lego-core", "lego-not-installed-anywhere"]\n\n[model]\ncontent = "id"\n'
    )
    preset = Preset.from_toml(path)
    assert preset.requires == ("lego-core", "lego-not-installed-anywhere")
    assert preset.missing() == ["lego-not-installed-anywhere"]
    assert preset.install_hint() == "pip install lego-not-installed-anywhere"
    path.write_text('[preset]\nname = "p"\nrequires = "lego-text"\n')
    with pytest.raises(ConfigError, match="requires must be a list of distribution names"):
        Preset.from_toml(path)


def test_an_experiment_naming_a_preset_with_unmet_requirements_gets_the_install_line():
    from lego_core.config.resolve import resolve
    from lego_core.plugin import hookimpl
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    class Plugin:
        @hookimpl
        def lego_register_presets(self):
            return [
                Preset(
                    name="needy",
                    description="",
                    tables={"model": {"content": "id"}},
                    requires=("lego-not-installed-anywhere",),
                )
            ]

    host = PluginHost(modules=[("needy", Plugin())], entry_points=False)
    with pytest.raises(ConfigError) as err:
        resolve({"data": {"path": "/d"}, "model": {"preset": "needy"}}, Registries(host), source="exp.toml")
    assert str(err.value) == (
        "exp.toml [model] preset = 'needy' needs lego-not-installed-anywhere, which is not "
        "installed: pip install lego-not-installed-anywhere"
    )


def test_every_installed_preset_declares_the_plugins_its_bricks_come_from():
    from lego_core.config.preset import PRESET
    from lego_core.kinds import kind_named
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    registries = Registries(PluginHost())
    for entry in registries[PRESET]:
        model = entry.obj.tables.get("model", {})
        for kind in ("content", "behavior", "predictor"):
            if model.get(kind) and model[kind] in registries[kind_named(kind)]:
                source = registries[kind_named(kind)].get(model[kind]).distribution
                assert source in {entry.distribution, "lego-core", *entry.obj.requires}, (
                    f"preset {entry.qualified} names {kind} {model[kind]!r} of {source}: add it to [preset] requires"
                )
