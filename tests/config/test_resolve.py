"""From raw TOML data to a checked experiment: overrides, presets, brick options, metrics, compatibility."""

from pathlib import Path

import attrs
import pytest

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core.builtins.id_embedding import IDConfig
from lego_core.config.preset import Preset
from lego_core.config.resolve import apply_overrides, load_experiment, parse_metric, resolve
from lego_core.errors import CompatibilityError, ConfigError, RegistryError
from lego_core.model.bricks import BehaviorOperator, ContentOperator, NoOptions, Predictor
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries


@attrs.define(kw_only=True, frozen=True)
class WordsConfig:
    embedding_dim: int = attrs.field(default=8, metadata={"doc": "Word vector size."})
    dropout: float = attrs.field(default=0.0, metadata={"doc": "Dropout."})


class WordsOperator(ContentOperator):
    """Reads text: needs item attributes."""

    name = "words"
    Options = WordsConfig


class SequenceOperator(BehaviorOperator):
    """Keeps the history sequence."""

    name = "keep"
    output = "sequence"


class TargetAttentionPredictor(Predictor):
    """Attends over the history sequence (like DIN)."""

    name = "target"
    input = "sequence"


class ClickPredictor(Predictor):
    """Ranking only (binary cross-entropy)."""

    name = "click"
    tasks = frozenset({"ranking"})


TINY = Preset(
    name="tiny",
    description="a tiny recipe",
    tables={
        "model": {
            "content": "words",
            "hidden_size": 32,
            "neg_count": 2,
            "content_options": {"embedding_dim": 4, "dropout": 0.2},
        },
        "train": {"epochs": 3, "metrics": ["auc"], "monitor": "auc"},
    },
)


class BricksPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [WordsOperator]

    @hookimpl
    def lego_register_behavior_operators(self):
        return [SequenceOperator]

    @hookimpl
    def lego_register_predictors(self):
        return [TargetAttentionPredictor, ClickPredictor]

    @hookimpl
    def lego_register_presets(self):
        return [TINY]


@pytest.fixture(scope="module")
def registries():
    host = PluginHost(entry_points=False)
    host.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
    host.add("bricks", BricksPlugin(), distribution="lego-bricks")
    return Registries(host)


def experiment(**tables):
    data = {"data": {"path": "/depot", "item_attributes": ["title"]}}
    for name, table in tables.items():
        data.setdefault(name, {}).update(table)
    return data


def error_of(data, registries, **kw) -> str:
    with pytest.raises(ConfigError) as err:
        resolve(data, registries, source="exp.toml", **kw)
    return str(err.value)


# ------------------------------------------------------------------ the happy path


def test_defaults_resolve_to_the_builtin_bricks(registries):
    resolved = resolve(experiment(), registries)
    assert {k: b.entry.qualified for k, b in resolved.bricks.items()} == {
        "content": "core:id",
        "behavior": "core:mean",
        "predictor": "core:dot",
    }
    assert resolved.bricks["content"].options == IDConfig()
    assert resolved.bricks["behavior"].options == NoOptions()
    assert [m.key for m in resolved.metrics] == ["auc", "gauc", "mrr", "ndcg@5", "ndcg@10"]
    assert resolved.config.model.task == "matching"


def test_brick_options_table_is_structured_into_the_bricks_options(registries):
    resolved = resolve(
        experiment(model={"content": "bricks:words", "content_options": {"embedding_dim": 16}}), registries
    )
    assert resolved.bricks["content"].options == WordsConfig(embedding_dim=16)
    assert resolved.bricks["content"].cls is WordsOperator
    assert resolved.config.model.content == "bricks:words"  # the config keeps what the file wrote


def test_unknown_key_in_content_options_of_the_id_operator(registries):
    message = error_of(experiment(model={"content_options": {"pretrainde": "v.npy"}}), registries)
    assert message == (
        "exp.toml: unknown key 'pretrainde' (did you mean 'pretrained'?); known keys: pretrained, "
        "freeze, sparse @ $.model.content_options"
    )


def test_wrong_type_in_brick_options(registries):
    message = error_of(experiment(model={"content": "words", "content_options": {"dropout": "high"}}), registries)
    assert message == "exp.toml: wrong type: got str 'high', expected float @ $.model.content_options.dropout"


def test_use_item_content_false_switches_to_the_id_table(registries):
    resolved = resolve(experiment(model={"content": "words", "use_item_content": False}), registries)
    assert resolved.config.model.content == "id" and resolved.bricks["content"].entry.qualified == "core:id"


def test_relative_depot_path_is_read_from_the_experiment_folder(registries, tmp_path):
    data = {"data": {"path": "data/depot"}}
    assert resolve(data, registries, base_dir=tmp_path).config.data.path == str(tmp_path / "data" / "depot")
    assert resolve({"data": {"path": "/abs/depot"}}, registries, base_dir=tmp_path).config.data.path == "/abs/depot"


# ------------------------------------------------------------------ problems, all at once


def test_type_errors_and_unknown_names_are_reported_together(registries):
    data = experiment(model={"hidden_size": "256", "behavior": "maen"}, train={"metrics": [10, "auc"]})
    message = error_of(data, registries)
    assert message.startswith("exp.toml: 3 problems:\n")
    assert "  - wrong type: got str '256', expected int @ $.model.hidden_size" in message
    assert "  - wrong type: got int 10, expected str @ $.train.metrics[0]" in message
    assert (
        "  - [model] behavior: no behavior operator named \"maen\". Available: keep, mean. Did you mean 'mean'?"
        in message
    )


def test_validator_choices_are_named(registries):
    message = error_of(experiment(data={"group_by": "session"}), registries)
    assert message == "exp.toml: 'group_by' must be in ['impression', 'user'] (got 'session') @ $.data.group_by"


def test_unknown_top_level_key_suggests(registries):
    data = experiment(trian={"epochs": 1})
    assert error_of(data, registries) == (
        "exp.toml: unknown key 'trian' (did you mean 'train'?); known keys: data, model, train @ $"
    )


def test_unknown_brick_and_bad_options_in_one_report(registries):
    data = experiment(model={"predictor": "dcn", "content_options": {"x": 1}})
    message = error_of(data, registries)
    assert message.startswith("exp.toml: 2 problems:")
    assert '[model] predictor: no predictor named "dcn". Available: click, dot, target.' in message
    assert "unknown key 'x'; known keys: pretrained, freeze, sparse @ $.model.content_options" in message


# ------------------------------------------------------------------ metrics


def test_metric_keys_parse_with_and_without_cut_off(registries):
    ndcg = parse_metric("ndcg@10", registries, "[train] metrics")
    assert (ndcg.name, ndcg.k, ndcg.key) == ("ndcg", 10, "ndcg@10")
    auc = parse_metric("core:auc", registries, "[train] metrics")
    assert (auc.name, auc.k, auc.key) == ("auc", None, "auc")


@pytest.mark.parametrize(
    ("metrics", "problem"),
    [
        (["ndcg"], "[train] metrics: metric 'ndcg' needs a cut-off: write it as ndcg@K, e.g. ndcg@10"),
        (["auc@5"], "[train] metrics: metric 'auc' takes no cut-off; write 'auc' without @5"),
        (
            ["ndgc@10"],
            '[train] metrics: no metric named "ndgc". Available: auc, f1, gauc, hit, logloss, lrap, '
            "mind_mrr, mrr, ndcg, precision, recall. Did you mean 'ndcg'?",
        ),
        (["ndcg@ten"], "[train] metrics: 'ndcg@ten' is not a metric key; write name or name@k, e.g. ndcg@10"),
    ],
    ids=["missing-k", "unexpected-k", "unknown", "malformed"],
)
def test_metric_key_errors(registries, metrics, problem):
    message = error_of(experiment(train={"metrics": [*metrics, "gauc"]}), registries)
    assert message.startswith(f"exp.toml: {problem}")


def test_monitor_must_be_one_of_the_metrics(registries):
    message = error_of(experiment(train={"metrics": ["auc", "mrr"], "monitor": "gauc"}), registries)
    assert message == (
        "exp.toml: train.monitor = 'gauc' is not one of train.metrics ['auc', 'mrr']; add it there "
        "or pick one of them @ $.train.monitor"
    )


def test_monitor_written_qualified_becomes_the_metric_key(registries):
    resolved = resolve(experiment(train={"metrics": ["core:auc"], "monitor": "core:auc"}), registries)
    assert resolved.config.train.monitor == "auc" == resolved.metrics[0].key
    assert (
        resolve(experiment(train={"metrics": ["core:auc"], "monitor": "auc"}), registries).config.train.monitor == "auc"
    )


# ------------------------------------------------------------------ compatibility


def test_sequence_behavior_with_a_vector_predictor_says_which_bricks_fit(registries):
    with pytest.raises(CompatibilityError) as err:
        resolve(experiment(model={"behavior": "keep"}), registries, source="exp.toml")
    assert str(err.value) == (
        "exp.toml: behavior operator 'keep' produces a user sequence but predictor 'dot' needs a user vector. "
        "Behavior operators that fit 'dot': mean; predictors that fit 'keep': target."
    )
    resolved = resolve(experiment(model={"behavior": "keep", "predictor": "target"}), registries)
    assert resolved.bricks["predictor"].cls is TargetAttentionPredictor


def test_ranking_only_predictor_with_negatives_is_refused(registries):
    with pytest.raises(CompatibilityError) as err:
        resolve(experiment(model={"predictor": "click", "neg_count": 4}), registries, source="exp.toml")
    assert str(err.value) == (
        "exp.toml: predictor 'click' does not train the matching task (model.task = 'matching', neg_count = 4); "
        "it trains ranking. Predictors for matching: dot, target."
    )
    resolved = resolve(experiment(model={"predictor": "click", "neg_count": 0}), registries)
    assert resolved.config.model.task == "ranking"


def test_content_operator_reading_content_needs_item_attributes(registries):
    data = {"data": {"path": "/depot"}, "model": {"content": "words"}}
    with pytest.raises(CompatibilityError) as err:
        resolve(data, registries, source="exp.toml")
    assert str(err.value) == (
        "exp.toml: content operator 'words' reads item attributes but data.item_attributes is empty; list some "
        '(e.g. item_attributes = ["title"]) or set model.use_item_content = false'
    )
    assert resolve({"data": {"path": "/depot"}}, registries).bricks["content"].entry.name == "id"  # id reads none


def test_compatibility_error_is_a_config_error():
    assert issubclass(CompatibilityError, ConfigError)


# ------------------------------------------------------------------ overrides


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("256", 256),
        ("true", True),
        ("[1,2]", [1, 2]),
        ("1e-4", 1e-4),
        ('"256"', "256"),
        ("cnn", "cnn"),
        ("text:cnn", "text:cnn"),
        ("{num_heads = 4}", {"num_heads": 4}),
        ("a=b", "a=b"),
    ],
    ids=["int", "bool", "array", "float", "quoted", "bare-word", "qualified-name", "inline-table", "equals-in-value"],
)
def test_set_values_are_toml_and_bare_words_are_strings(text, value):
    out = apply_overrides({}, [f"model.x={text}"])
    assert out == {"model": {"x": value}} and type(out["model"]["x"]) is type(value)


def test_set_creates_nested_tables_and_does_not_touch_the_input():
    data = {"model": {"hidden_size": 64}}
    out = apply_overrides(data, ["model.hidden_size=256", "model.content_options.num_heads=8", " train.epochs = 2 "])
    assert out == {"model": {"hidden_size": 256, "content_options": {"num_heads": 8}}, "train": {"epochs": 2}}
    assert data == {"model": {"hidden_size": 64}}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("model.hidden_size.x=1", "--set 'model.hidden_size.x=1': model.hidden_size is a value, not a table"),
        ("model.hidden_size", "--set 'model.hidden_size': expected KEY=VALUE, e.g. --set model.hidden_size=256"),
        ("=3", "--set '=3': expected KEY=VALUE"),
        ("model..x=3", "--set 'model..x=3': empty part in the key 'model..x'"),
    ],
    ids=["into-a-value", "no-equals", "no-key", "empty-part"],
)
def test_malformed_set_is_an_error(item, message):
    with pytest.raises(ConfigError) as err:
        apply_overrides({"model": {"hidden_size": 64}}, [item])
    assert str(err.value).startswith(message)


def test_overrides_apply_before_structuring(registries):
    resolved = resolve(
        experiment(),
        registries,
        overrides=["model.hidden_size=256", 'train.metrics=["auc"]', "train.monitor=auc", "model.neg_count=0"],
    )
    assert resolved.config.model.hidden_size == 256 and resolved.config.model.task == "ranking"
    message = error_of(experiment(), registries, overrides=["model.hidden_size=big"])
    assert message == "exp.toml: wrong type: got str 'big', expected int @ $.model.hidden_size"


# ------------------------------------------------------------------ presets


def test_preset_merges_under_explicit_keys(registries):
    data = experiment(model={"preset": "tiny", "hidden_size": 16, "content_options": {"dropout": 0.5}})
    config = resolve(data, registries).config
    assert config.model.content == "words" and config.model.neg_count == 2  # from the preset
    assert config.model.hidden_size == 16  # the file wins
    assert config.model.content_options == {"embedding_dim": 4, "dropout": 0.5}  # nested tables merge
    assert config.train.epochs == 3 and config.train.metrics == ["auc"]


def test_overrides_win_over_the_preset(registries):
    data = experiment(model={"preset": "tiny"})
    config = resolve(data, registries, overrides=["model.content_options.embedding_dim=12"]).config
    assert config.model.content_options == {"embedding_dim": 12, "dropout": 0.2}


def test_preset_chosen_by_override(registries):
    assert resolve(experiment(), registries, overrides=["model.preset=tiny"]).config.model.content == "words"


def test_unknown_preset_gets_suggestions(registries):
    with pytest.raises(RegistryError) as err:
        resolve(experiment(model={"preset": "tiyn"}), registries, source="exp.toml")
    assert str(err.value).startswith(
        "exp.toml [model] preset: no preset named \"tiyn\". Available: tiny. Did you mean 'tiny'?"
    )


def test_preset_of_the_wrong_type_is_a_type_error(registries):
    assert error_of(experiment(model={"preset": 3}), registries) == (
        "exp.toml: wrong type: got int 3, expected str | None @ $.model.preset"
    )


# ------------------------------------------------------------------ files


def test_load_experiment_names_the_file(registries, tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[data]\npath = "depot"\n\n[model]\nhidden_size = 1.5\n')
    with pytest.raises(ConfigError) as err:
        load_experiment(path, registries)
    assert str(err.value) == f"{path}: wrong type: got float 1.5, expected int @ $.model.hidden_size"
    path.write_text('[data]\npath = "depot"\n')
    resolved = load_experiment(path, registries, overrides=["model.hidden_size=8"])
    assert resolved.source == str(path) and resolved.config.model.hidden_size == 8
    assert Path(resolved.config.data.path) == tmp_path.resolve() / "depot"


def test_load_experiment_errors_for_missing_and_invalid_files(registries, tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load_experiment(tmp_path / "nope.toml", registries)
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\npath = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML: .*line 1"):
        load_experiment(bad, registries)
