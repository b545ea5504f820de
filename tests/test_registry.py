"""Registry lookups: qualified names, conflicts between plugins, suggestions for unknown names."""

import pytest

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core.builtins.dot import DotPredictor
from lego_core.builtins.id_embedding import IDOperator
from lego_core.config.preset import PRESET
from lego_core.data.processor import PROCESSOR
from lego_core.errors import LegoError, RegistryError
from lego_core.kinds import kind_named
from lego_core.metrics import BUILTIN_METRICS
from lego_core.metrics.base import METRIC
from lego_core.model.bricks import BEHAVIOR, CONTENT, PREDICTOR, ContentOperator
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost
from lego_core.registry import PLUGIN_HINT, Registries


class AlphaBag(ContentOperator):
    """Bag of words, the alpha way."""

    name = "bag"


class BetaBag(ContentOperator):
    name = "bag"


class AlphaPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [AlphaBag]


class BetaPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [BetaBag]


@pytest.fixture
def registries() -> Registries:
    host = PluginHost(entry_points=False)
    host.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
    host.add("alpha", AlphaPlugin(), distribution="lego-alpha", version="1.0")
    host.add("beta", BetaPlugin(), distribution="lego-beta", version="2.0")
    return Registries(host)


def test_a_name_from_two_plugins_is_ambiguous_and_names_both_distributions(registries):
    with pytest.raises(RegistryError) as err:
        registries[CONTENT].get("bag", "exp.toml [model] content")
    assert str(err.value) == (
        "exp.toml [model] content: the content operator name \"bag\" is provided by lego-alpha (as 'alpha:bag') "
        "and lego-beta (as 'beta:bag'); write the qualified form to choose one."
    )
    assert isinstance(err.value, LegoError)
    assert "bag" not in registries[CONTENT]


def test_the_qualified_forms_choose_between_conflicting_plugins(registries):
    alpha, beta = registries[CONTENT].get("alpha:bag"), registries[CONTENT].get("beta:bag")
    assert (alpha.obj, alpha.plugin, alpha.distribution, alpha.version) == (AlphaBag, "alpha", "lego-alpha", "1.0")
    assert (beta.obj, beta.plugin, beta.distribution, beta.version) == (BetaBag, "beta", "lego-beta", "2.0")
    assert alpha.qualified == "alpha:bag" and "beta:bag" in registries[CONTENT]
    assert registries[CONTENT].names() == ["bag", "id"]  # listed once however many provide it


@pytest.mark.parametrize(("kind", "name", "obj"), [("content", "id", IDOperator), ("predictor", "dot", DotPredictor)])
def test_qualified_names_work_for_unique_names_too(registries, kind, name, obj):
    assert registries[kind_named(kind)].get(f"core:{name}").obj is obj
    assert registries[kind_named(kind)].get(name) is registries[kind_named(kind)].get(f"core:{name}")


def test_qualified_metric_and_processor_names():
    host = PluginHost()
    assert Registries(host)[METRIC].get("core:gauc").obj.name == "gauc"
    assert Registries(host)[PROCESSOR].get("core:synthetic").obj.name == "synthetic"


def test_unknown_name_gets_the_closest_matches_and_the_list(registries):
    with pytest.raises(RegistryError) as err:
        registries[PREDICTOR].get("dott", "exp.toml [model] predictor")
    assert str(err.value) == (
        "exp.toml [model] predictor: no predictor named \"dott\". Available: dot. Did you mean 'dot'? " + PLUGIN_HINT
    )


def test_unknown_name_far_from_everything_gets_no_suggestion(registries):
    with pytest.raises(RegistryError) as err:
        registries[BEHAVIOR].get("transformer")
    message = str(err.value)
    assert message.startswith('no behavior operator named "transformer". Available: mean.')
    assert "Did you mean" not in message and "pip install" in message


def test_unknown_plugin_in_a_qualified_name_suggests_qualified_forms(registries):
    with pytest.raises(
        RegistryError,
        match=r"no content operator named \"gamma:bag\"\. Available: bag, id\. "
        r"Did you mean 'alpha:bag' or 'beta:bag'\?",
    ):
        registries[CONTENT].get("gamma:bag")
    with pytest.raises(RegistryError, match=r"Did you mean 'core:id'\?"):
        registries[CONTENT].get("cor:id")


def test_an_empty_registry_says_none_installed(registries):
    with pytest.raises(RegistryError, match=r'no preset named "nrms"\. Available: \(none installed\)\.'):
        registries[PRESET].get("nrms")


def test_registries_are_looked_up_by_kind_objects(registries):
    assert registries[CONTENT] is registries[kind_named("content")]
    assert len(registries[METRIC]) == len(BUILTIN_METRICS)
    with pytest.raises(TypeError, match="looked up by Kind objects"):
        registries["content"]


def test_each_kind_is_built_on_first_use_only(registries):
    fresh = Registries(registries.host)
    assert fresh.built() == []
    fresh[PROCESSOR].names()
    assert fresh.built() == ["processor"]


def test_entry_summary_is_the_first_docstring_line(registries):
    assert registries[CONTENT].get("alpha:bag").summary == "Bag of words, the alpha way."
    assert registries[CONTENT].get("beta:bag").summary == ""
