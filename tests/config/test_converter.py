"""The strict converter: wrong types, unknown keys and validator errors, each with its key path, all at once."""

import attrs
import pytest
from attrs import validators as v

from lego_core.config.converter import format_problems, structure, structure_or_raise, unstructure
from lego_core.config.schema import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from lego_core.errors import ConfigError
from lego_core.model.bricks import NoOptions


def odd(instance, attribute, value):
    if value % 2 == 0:
        raise ValueError(f"{attribute.name} must be odd (got {value}); try 3")


@attrs.define(kw_only=True, frozen=True)
class KnobConfig:
    window_size: int = attrs.field(default=3, validator=[v.gt(0), odd])
    dropout: float = 0.1
    mode: str = attrs.field(default="mean", validator=v.in_(["mean", "max"]))
    names: list[str] = attrs.field(factory=list)
    pretrained: str | None = None


def problems_of(data, cls=KnobConfig, path="$.model.content_options"):
    obj, problems = structure(data, cls, path)
    assert obj is None
    return problems


def test_valid_table_structures_with_int_widened_to_float():
    obj, problems = structure({"window_size": 5, "dropout": 0, "names": ["a"]}, KnobConfig, "$")
    assert problems == [] and obj == KnobConfig(window_size=5, dropout=0.0, names=["a"])
    assert isinstance(obj.dropout, float)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"window_size": "3"}, "wrong type: got str '3', expected int @ $.model.content_options.window_size"),
        ({"window_size": 2.5}, "wrong type: got float 2.5, expected int @ $.model.content_options.window_size"),
        ({"window_size": True}, "wrong type: got a boolean (True), expected int @ $.model.content_options.window_size"),
        ({"dropout": "0.1"}, "wrong type: got str '0.1', expected float @ $.model.content_options.dropout"),
        ({"names": "title"}, "wrong type: got str 'title', expected list[str] @ $.model.content_options.names"),
        ({"names": ["a", 1]}, "wrong type: got int 1, expected str @ $.model.content_options.names[1]"),
        ({"pretrained": 3}, "wrong type: got int 3, expected str | None @ $.model.content_options.pretrained"),
    ],
    ids=["str-for-int", "float-for-int", "bool-for-int", "str-for-float", "str-for-list", "list-item", "optional"],
)
def test_wrong_types_are_errors_not_coercions(data, problem):
    assert problems_of(data) == [problem]


def test_unknown_key_suggests_the_closest_and_lists_the_known_ones():
    assert problems_of({"windw_size": 3}) == [
        "unknown key 'windw_size' (did you mean 'window_size'?); known keys: window_size, dropout, mode, names, "
        "pretrained @ $.model.content_options"
    ]


def test_unknown_key_of_a_brick_without_options():
    assert problems_of({"heads": 2}, NoOptions, "$.model.behavior_options") == [
        "unknown key 'heads'; known keys: (none: it takes no options) @ $.model.behavior_options"
    ]


def test_validator_message_names_the_choices_and_the_field():
    assert problems_of({"mode": "sum"}) == [
        "'mode' must be in ['mean', 'max'] (got 'sum') @ $.model.content_options.mode"
    ]
    assert problems_of({"window_size": 0}) == ["'window_size' must be > 0: 0 @ $.model.content_options.window_size"]
    assert problems_of({"window_size": 4}) == [
        "window_size must be odd (got 4); try 3 @ $.model.content_options.window_size"
    ]


def test_every_problem_of_a_whole_experiment_at_once():
    data = {
        "data": {"path": "d", "group_by": "session"},
        "model": {"hidden_size": "big", "neg_cont": 4},
        "train": {"metrics": ["auc", 5], "lr": "fast"},
    }
    assert problems_of(data, ExperimentConfig, "$") == [
        "'group_by' must be in ['impression', 'user'] (got 'session') @ $.data.group_by",
        "wrong type: got str 'big', expected int @ $.model.hidden_size",
        "unknown key 'neg_cont' (did you mean 'neg_count'?); known keys: preset, content, behavior, predictor, "
        "use_item_content, hidden_size, neg_count, task, task_options, item_page_size, item_fields, user_fields, "
        "content_options, "
        "behavior_options, predictor_options @ $.model",
        "wrong type: got str 'fast', expected float @ $.train.lr",
        "wrong type: got int 5, expected str @ $.train.metrics[1]",
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "required key missing @ $.data"),
        ({"data": "d"}, "wrong type: got str 'd', expected a table @ $.data"),
        ({"data": {"path": "d"}, "model": ["id"]}, "wrong type: got list ['id'], expected a table @ $.model"),
        (
            {"data": {"path": "d", "max_lengths": "64"}},
            "wrong type: got str '64', expected a table @ $.data.max_lengths",
        ),
        (
            {"data": {"path": "d", "max_lengths": {"abstract": 6.5}}},
            "wrong type: got float 6.5, expected int @ $.data.max_lengths['abstract']",
        ),
        (
            {"data": {"path": "d"}, "modle": {}},
            "unknown key 'modle' (did you mean 'model'?); known keys: data, model, train @ $",
        ),
    ],
    ids=["no-data", "data-not-a-table", "model-not-a-table", "options-not-a-table", "dict-value", "unknown-table"],
)
def test_table_shapes(data, problem):
    assert problems_of(data, ExperimentConfig, "$") == [problem]


def test_not_a_table_at_the_top():
    assert problems_of(["x"], ExperimentConfig, "$") == ["expected a table, got list ['x'] @ $"]


def test_structure_or_raise_formats_one_or_many_problems():
    with pytest.raises(ConfigError) as err:
        structure_or_raise({"window_size": "x"}, KnobConfig, "$", source="exp.toml")
    assert str(err.value) == "exp.toml: wrong type: got str 'x', expected int @ $.window_size"
    with pytest.raises(ConfigError) as err:
        structure_or_raise({"window_size": "x", "mode": 1}, KnobConfig, "$", source="exp.toml")
    assert str(err.value) == (
        "exp.toml: 2 problems:\n"
        "  - wrong type: got str 'x', expected int @ $.window_size\n"
        "  - wrong type: got int 1, expected str @ $.mode"
    )
    assert structure_or_raise({"mode": "max"}, KnobConfig, "$") == KnobConfig(mode="max")


def test_format_problems_without_source():
    assert format_problems(["a @ $"]) == "a @ $"


def test_defaults_and_unstructure_round_trip():
    config = structure_or_raise({"data": {"path": "d"}}, ExperimentConfig, "$")
    assert config.model == ModelConfig() and config.train == TrainConfig()
    assert config.data == DataConfig(path="d")
    assert structure_or_raise(unstructure(config), ExperimentConfig, "$") == config


@attrs.define(kw_only=True, frozen=True)
class FieldsConfig:
    fields: tuple[str, ...] = ()


def test_homogeneous_tuples_take_arrays_but_not_strings():
    assert structure({"fields": ["title", "abstract"]}, FieldsConfig, "$") == (
        FieldsConfig(fields=("title", "abstract")),
        [],
    )
    assert problems_of({"fields": "title"}, FieldsConfig, "$.p") == [
        "wrong type: got str 'title', expected tuple[str, ...] @ $.p.fields"
    ]
