"""The search space: grid product, seeds, random search, cell names, [sweep] tables and options."""

import math

import pytest

from lego_core.errors import ConfigError
from lego_core.study.space import Range, SearchSpace, cell_name, parse_grid_option, search_space


def test_grid_is_the_product_in_the_order_written_times_the_seeds():
    space = search_space(
        {"grid": {"model": {"hidden_size": [32, 64]}}}, base_seed=7, grid=["train.lr=0.001,0.003"], seeds="2"
    )
    cells = space.cells()
    assert [dict(c.values) for c in cells] == [
        {"model.hidden_size": h, "train.lr": lr, "train.seed": s}
        for h in (32, 64)
        for lr in (0.001, 0.003)
        for s in (7, 8)
    ]
    assert cells[0].name == "hidden_size=32,lr=0.001,seed=7"
    assert len({c.name for c in cells}) == len(cells)


def test_command_line_wins_over_the_table_key_by_key():
    table = {"grid": {"model.hidden_size": [8], "train.lr": [0.1]}, "seeds": [1, 2, 3], "samples": 0}
    space = search_space(table, base_seed=0, grid=["model.hidden_size=16,32"], seeds="5")
    assert dict(space.grid) == {"model.hidden_size": [16, 32], "train.lr": [0.1]}
    assert space.seeds == (0, 1, 2, 3, 4)
    assert search_space(table, base_seed=0).seeds == (1, 2, 3)
    assert search_space(table, base_seed=0, seeds="4,9").seeds == (4, 9)


def test_grid_values_are_toml_and_bare_words_are_strings():
    assert parse_grid_option("model.content=id,pooling") == ("model.content", ["id", "pooling"])
    assert parse_grid_option("train.cache=true,false") == ("train.cache", [True, False])
    assert parse_grid_option('train.metrics=[["auc"], ["auc", "gauc"]]') == (
        "train.metrics",
        [["auc"], ["auc", "gauc"]],
    )


def test_random_search_draws_the_same_points_from_the_same_seed_within_the_ranges():
    table = {
        "range": {"train.lr": {"low": 1e-4, "high": 1e-2, "log": True}, "model.hidden_size": {"low": 8, "high": 64}},
        "grid": {"model.content": ["id", "pooling"]},
        "samples": 40,
    }
    first, again = search_space(table, base_seed=1).cells(), search_space(table, base_seed=1).cells()
    assert [c.name for c in first] == [c.name for c in again]
    other = search_space({**table, "search_seed": 5}, base_seed=1).cells()
    assert [c.name for c in first] != [c.name for c in other]
    lrs = [c.values["train.lr"] for c in first]
    sizes = [c.values["model.hidden_size"] for c in first]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs) and all(isinstance(h, int) and 8 <= h <= 64 for h in sizes)
    # log-uniform: about half the draws below the geometric middle 1e-3, not the ~10% a uniform draw gives
    assert 0.25 < sum(lr < 1e-3 for lr in lrs) / len(lrs) < 0.75
    assert {c.values["model.content"] for c in first} == {"id", "pooling"}


def test_points_drawn_twice_are_kept_once():
    space = SearchSpace(grid={"model.content": ["id", "pooling"]}, samples=30)
    assert sorted(p["model.content"] for p in space.points()) == ["id", "pooling"]


def test_range_draws_keep_four_significant_digits():
    import numpy as np

    value = Range(low=1e-4, high=1e-2, log=True).draw(np.random.default_rng(0))
    assert value == float(f"{value:.4g}") and not math.isnan(value)


def test_long_names_get_a_hash_and_unsafe_characters_are_replaced():
    assert cell_name({"path": "a b/c", "seed": 1}) == "path=a_b_c,seed=1"
    long = cell_name({f"key{i}": "v" * 10 for i in range(20)})
    assert len(long) == 100 and long[-9] == "-"


def test_keys_ending_alike_keep_their_full_names():
    space = SearchSpace(grid={"model.content_options.dropout": [0.1], "model.behavior_options.dropout": [0.2]})
    assert space.cells()[0].name == ("model.content_options.dropout=0.1,model.behavior_options.dropout=0.2,seed=0")


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        ({"grid": {"model.hidden_size": 32}}, {}, r"model.hidden_size: expected a non-empty list of values"),
        ({"range": {"train.lr": {"low": 1, "high": 0.1}}, "samples": 2}, {}, r"train.lr: needs low < high"),
        ({"range": {"train.lr": {"low": 0.1, "high": 1}}}, {}, r"a range is drawn by random search; add --samples K"),
        ({"grid": {"train.seed": [1, 2]}}, {}, r"train.seed is not swept .* use --seeds N"),
        ({"seeds": 0}, {}, r"seeds must be at least 1"),
        ({"grdi": {}}, {}, r"unknown key 'grdi'"),
        ({}, {"grid": ["model.hidden_size"]}, r"--grid 'model.hidden_size': expected KEY=V1,V2"),
        ({}, {"ranges": ["train.lr=1:2:lin"]}, r"expected KEY=LOW:HIGH or KEY=LOW:HIGH:log"),
    ],
)
def test_bad_spaces_are_one_clear_error(table, options, message):
    with pytest.raises(ConfigError, match=message):
        search_space(table, base_seed=0, source="exp.toml", **options)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        search_space({"grid": {"a": 1}, "seeds": "x"}, base_seed=0, grid=["b"])
    assert "3 problems" in str(err.value)
