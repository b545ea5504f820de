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
    assert preset.tables == {"model": {"content": "attention", "behavior": "attention",
                                       "content_options": {"num_heads": 16}}}


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
        ("[preset]\nname = 'x'\n[modle]\ncontent = 'cnn'\n",
         "unknown table(s) ['modle']; a preset may set data, model, train"),
        ("[preset]\nname = 'x'\nauthor = 'me'\n", "unknown key(s) ['author'] in [preset]; allowed: name, description, paper"),
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
    base = {"model": {"content": "cnn", "hidden_size": 64, "content_options": {"num_filters": 300, "window_size": 3}},
            "train": {"epochs": 5}}
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
